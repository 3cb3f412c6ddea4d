"""A service started before its database waits for it (with backoff) instead of exiting: the
first deploy on Kubernetes starts every pod at once, and the database's name only resolves once
its pod runs. Real engines: a SQLite file whose directory appears only after some attempts, and
a PostgreSQL URL where nothing listens."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from flightctl.platform.layout import free_port
from flightctl.services.common import db
from flightctl.services.common.backoff import Backoff
from tests.fakes.clock import FakeClock


def test_it_retries_with_backoff_until_the_database_answers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "not-yet"
    engine = create_engine(f"sqlite:///{directory}/service.db")
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 4:  # the database appears during the fourth wait
            directory.mkdir()

    with caplog.at_level(logging.INFO, logger=db.__name__):
        db.wait_for_database(engine, backoff=Backoff(0.5, 2.0), deadline=60, sleep=sleep, clock=clock)
    assert clock.sleeps == [0.5, 1.0, 2.0, 2.0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4 and all("the database does not answer yet" in w for w in warnings)
    assert "unable to open database file" in warnings[0]
    assert "the database answers after 4 failed attempt(s)" in caplog.text
    engine.dispose()


def test_it_gives_up_at_the_deadline_with_the_last_error() -> None:
    engine = create_engine(
        f"postgresql+psycopg://user:secret@127.0.0.1:{free_port()}/nothing", connect_args={"connect_timeout": 2}
    )
    clock = FakeClock()
    with pytest.raises(OperationalError, match=r"Connection refused|connection failed"):
        db.wait_for_database(engine, backoff=Backoff(1.0, 4.0), deadline=10, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [1.0, 2.0, 4.0], "the next wait (4s) would pass the 10s deadline"
    engine.dispose()


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    """Only a connection that fails is waited for; anything else is a bug to report at once."""

    class Broken:
        def connect(self) -> None:
            raise RuntimeError("not a connection problem")

    clock = FakeClock()
    with pytest.raises(RuntimeError):
        db.wait_for_database(Broken(), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert clock.sleeps == []


def test_migrate_waits_for_the_database_first(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/x.db")
    waited: list[object] = []

    def wait(seen: object) -> None:
        waited.append(seen)
        raise OperationalError("SELECT 1", {}, Exception("still down"))

    with pytest.raises(OperationalError):
        db.migrate(engine, tmp_path, wait=wait)
    assert waited == [engine]
    assert db.CONNECT_DEADLINE >= 60, "long enough for a database pod to start on a first deploy"
    engine.dispose()
