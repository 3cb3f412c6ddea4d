"""The read path's database helpers on the real PostgreSQL (the platform's user_manager database):
prepared reads on autocommit connections (db.Reads), planned once on the read engine, a pooled
connection that died being dropped (at once when idle long enough to be pinged, else after the
one request that found it dead)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Integer, bindparam, literal, select, text

from flightctl.services.common import db
from tests.conftest import Platform

QUERY = select(literal(1).label("one"), bindparam("n", type_=Integer).label("n"), text("pg_backend_pid() AS pid"))


@pytest.fixture()
def url(platform: Platform) -> str:
    return platform.database_url("user-manager")


def kill(url: str, pid: int) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture()
def reads(url: str) -> Iterator[db.Reads]:
    engine = db.make_engine(url, pool_size=1, autocommit=True)
    try:
        yield db.Reads(engine)
    finally:
        engine.dispose()


def test_reads_are_prepared_autocommit_dict_rows(reads: db.Reads) -> None:
    rows = [reads.first(QUERY, {"n": n}) for n in range(7)]
    assert [r and (r["one"], r["n"]) for r in rows] == [(1, n) for n in range(7)]
    assert len({r and r["pid"] for r in rows}) == 1  # one pooled connection, reused
    with reads.engine.connect() as connection:
        # Autocommit: nothing is left open between statements; the query is prepared on the server.
        assert connection.exec_driver_sql("SELECT current_setting('transaction_isolation')").scalar()
        prepared = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
        assert prepared is not None and prepared >= 1
    assert reads.rows(QUERY, {"n": 1}) == [{"one": 1, "n": 1, "pid": rows[0] and rows[0]["pid"]}]


def test_a_connection_idle_past_the_ping_window_is_checked_and_replaced(url: str) -> None:
    engine = db.make_engine(url, pool_size=1, autocommit=True, idle_ping=0)
    try:
        reads = db.Reads(engine)
        first = reads.first(QUERY, {"n": 1})
        assert first is not None
        kill(url, first["pid"])
        again = reads.first(QUERY, {"n": 2})  # pinged at checkout, found dead, replaced: no error
        assert again is not None and again["pid"] != first["pid"]
    finally:
        engine.dispose()


def test_a_connection_found_dead_by_a_request_is_dropped(url: str, reads: db.Reads) -> None:
    first = reads.first(QUERY, {"n": 1})
    assert first is not None
    kill(url, first["pid"])
    with pytest.raises(psycopg.OperationalError):
        reads.first(QUERY, {"n": 2})  # back in use within the window: not pinged, this request fails
    again = reads.first(QUERY, {"n": 3})
    assert again is not None and again["pid"] != first["pid"]


def plans(engine: db.Engine) -> tuple[int, int]:
    """(generic, custom) plan counts of QUERY prepared on the engine's one pooled connection."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %(like)s",
            {"like": "%pg_backend_pid()%"},
        ).one()
    return int(found[0]), int(found[1])


def test_the_read_engine_plans_a_prepared_statement_once(url: str) -> None:
    engine = db.make_read_engine(url, pool_size=1)
    try:
        reads = db.Reads(engine)
        assert [r and r["n"] for r in (reads.first(QUERY, {"n": n}) for n in range(8))] == list(range(8))
        assert plans(engine) == (8, 0)  # one generic plan, never planned again for the values
    finally:
        engine.dispose()


def test_by_default_postgresql_plans_each_of_the_first_runs_anew(url: str) -> None:
    """What the read engine's setting changes: a plain engine's session plans for the values."""
    engine = db.make_engine(url, pool_size=1, autocommit=True)
    try:
        reads = db.Reads(engine)
        for n in range(8):
            reads.first(QUERY, {"n": n})
        generic, custom = plans(engine)
        assert custom >= 5 and generic + custom == 8
    finally:
        engine.dispose()
