"""One Telegram update poller among alert-notifier replicas, on the real PostgreSQL: the
advisory-lock leadership and the stored update offset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from flightctl.platform.proc import wait_until
from flightctl.services.alert_notifier.store import SqlUpdateOffset
from flightctl.services.common import db
from flightctl.services.common.locks import AdvisoryLock
from tests.conftest import Platform

TEST_LOCK_KEY = AdvisoryLock.TELEGRAM_UPDATES + 1000  # not the platform's own notifier's lock


@pytest.fixture()
def engine(platform: Platform) -> Iterator[Engine]:
    engine = db.make_engine(platform.database_url("alert-notifier"), pool_size=3)
    try:
        yield engine
    finally:
        engine.dispose()


def test_one_replica_leads_and_another_takes_over_when_it_goes(engine: Engine) -> None:
    first, second = db.Leadership(engine, TEST_LOCK_KEY), db.Leadership(engine, TEST_LOCK_KEY)
    try:
        assert first.held() is True
        assert second.held() is False
        assert first.held() is True  # still held, on the same connection
        first.release()
        assert second.held() is True
        assert first.held() is False
    finally:
        first.release()
        second.release()


def test_leadership_ends_with_its_connection(engine: Engine) -> None:
    first, second = db.Leadership(engine, TEST_LOCK_KEY), db.Leadership(engine, TEST_LOCK_KEY)
    try:
        assert first.held()
        holders = "FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted"
        with engine.connect() as admin:  # the leader's session dies (a crashed replica, a failover)
            admin.execute(text(f"SELECT pg_terminate_backend(pid) {holders}"), {"k": TEST_LOCK_KEY})

        def released() -> bool:  # pg_terminate_backend only signals: the backend exits a moment later
            with engine.connect() as admin:
                return not admin.execute(text(f"SELECT count(*) {holders}"), {"k": TEST_LOCK_KEY}).scalar()

        assert wait_until(released, timeout=10)
        assert second.held() is True
        assert first.held() is False  # notices its connection is gone, and the lock is taken
    finally:
        first.release()
        second.release()


def test_the_update_offset_is_stored_and_never_goes_back(platform: Platform) -> None:
    engine = db.make_engine(platform.database_url("alert-notifier"), pool_size=2)
    with engine.begin() as connection:
        saved = connection.execute(text("SELECT next_offset FROM telegram_update_offset")).scalar()
    try:
        offsets = SqlUpdateOffset(db.make_session_factory(engine))
        base = int(saved or 0) + 1000
        offsets.save(base)
        assert offsets.load() == base
        offsets.save(base + 5)
        offsets.save(base + 2)  # a late save from an older leader does not move it back
        assert offsets.load() == base + 5
    finally:
        with engine.begin() as connection:  # the platform's notifier keeps its own offset
            connection.execute(text("DELETE FROM telegram_update_offset"))
            if saved is not None:
                connection.execute(text("INSERT INTO telegram_update_offset VALUES (1, :o)"), {"o": saved})
        engine.dispose()
