"""SQLAlchemy 2.0 engine and sessions, and Alembic migrations applied at start.

Every service keeps its migrations in ``services/<service>/migrations/versions``; one shared
Alembic environment (``services/common/migrations``) runs them against the service's own
database, each database with its own ``alembic_version`` table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from flightctl.services.common.backoff import Backoff
from flightctl.services.common.locks import AdvisoryLock

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
_ENV_DIR = Path(__file__).with_name("migrations")
# At start the database may not answer yet (on a first deploy its name does not even resolve
# until its pod runs): retry the first connection with backoff for this long before giving up.
CONNECT_BACKOFF = Backoff(0.5, 5.0)
CONNECT_DEADLINE = 120.0
IDLE_PING_SECONDS = 5.0
"""A pooled connection idle for longer than this is pinged before it is handed out (one round
trip); one back in use sooner is trusted. Under load connections are reused within
milliseconds, so the reads pay no ping; after a quiet spell (when a database restart or an idle
timeout may have dropped it) the first use checks it, as ``pool_pre_ping`` did on every use."""


class Base(DeclarativeBase):
    """Declarative base; each service's models subclass it (each has its own database)."""


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    idle_ping: float = IDLE_PING_SECONDS,
    autocommit: bool = False,
    generic_plans: bool = False,
) -> Engine:
    """The engine of a service's database; ``autocommit``: every connection in autocommit
    (for :class:`Reads`: statements that need no transaction, and no BEGIN or COMMIT);
    ``generic_plans``: prepared statements keep one plan (see :func:`make_read_engine`)."""
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if generic_plans:
        connect_args["options"] = "-c plan_cache_mode=force_generic_plan"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args=connect_args,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    _ping_when_idle(engine, idle_ping)
    return engine


def make_read_engine(url: str, *, pool_size: int) -> Engine:
    """The engine of a service's :class:`Reads`: autocommit connections whose prepared statements
    are planned once. PostgreSQL's default (``plan_cache_mode=auto``) plans a prepared statement
    for its values on each of the first five runs and then keeps a generic plan only if that
    one's estimated cost is no higher; with a ``LIMIT`` or a date range given as parameters the
    generic estimate always looks higher, so every execution was planned anew (about 0.2 ms of
    the server's CPU, more than running the query; measured in docs/PERFORMANCE.md). The reads
    are index lookups whose plan does not depend on the values (the same plan either way,
    checked with ``EXPLAIN``), so one generic plan per connection serves them all."""
    return make_engine(url, pool_size=pool_size, autocommit=True, generic_plans=True)


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Pessimistic disconnect handling on the pool's public events, only for connections that
    sat idle: a dead one raises DisconnectionError, which makes the pool drop it and check out
    another (a fresh connection when every pooled one is gone)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle:
            return  # new, or back in use soon enough
        try:
            alive = engine.dialect.do_ping(dbapi_connection)  # the dialect's own ping, as pool_pre_ping uses
        except Exception:  # whatever the driver raises for a dead connection
            alive = False
        if not alive:
            raise DisconnectionError(f"a pooled connection idle for {time.monotonic() - since:.0f}s is gone")


class Reads:
    """The hot read-only queries of a request path (one statement each, no transaction), run
    straight on psycopg over a pool of autocommit connections (:func:`make_read_engine`):
    SQLAlchemy builds and compiles each statement once, psycopg prepares it on the server at its
    first use on a connection (planned once there), and a request pays one round trip and the
    driver's own work, not the ORM's or Core's execution machinery per call. Rows come back as
    dicts. A connection that fails is dropped from the pool (the next checkout opens another)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._compiled: dict[int, tuple[Any, str, dict[str, Any]]] = {}

    def compiled(self, statement: Any) -> tuple[str, dict[str, Any]]:
        """The statement compiled for this database (``%(name)s`` parameters) and the values it
        binds itself (literals), cached per statement."""
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:
            compiled = statement.compile(dialect=self.engine.dialect)
            found = self._compiled[id(statement)] = (statement, str(compiled), dict(compiled.params))
        return found[1], found[2]

    def rows(self, statement: Any, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        sql, bound = self.compiled(statement)
        pooled = self.engine.raw_connection()
        try:
            driver: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
            with driver.cursor(row_factory=dict_row) as cursor:
                cursor.execute(sql, {**bound, **parameters} if bound else parameters, prepare=True)
                return cursor.fetchall()
        except psycopg.OperationalError as exc:
            pooled.invalidate(exc)  # the connection is gone: never handed out again
            raise
        finally:
            pooled.close()  # back to the pool (a no-op for an invalidated one)

    def first(self, statement: Any, parameters: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.rows(statement, parameters)
        return found[0] if found else None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def wait_for_database(
    engine: Engine,
    *,
    backoff: Backoff = CONNECT_BACKOFF,
    deadline: float = CONNECT_DEADLINE,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once the database accepts a connection. A connection failure (refused, a name
    that does not resolve yet, the server starting up) is retried after ``backoff``'s delay,
    logged each time, until ``deadline`` seconds have passed; then the last error is raised.
    Any other error is raised at once."""
    give_up = clock() + deadline
    failures = 0
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            failures += 1
            delay = backoff.delay(failures)
            if clock() + delay > give_up:
                log.error("the database did not answer within %.0fs; giving up", deadline)
                raise
            reason = str(exc.orig or exc).strip().splitlines()
            log.warning(
                "the database does not answer yet (%s); retrying in %.1fs",
                reason[0] if reason else type(exc).__name__,
                delay,
            )
            sleep(delay)
            continue
        if failures:
            log.info("the database answers after %d failed attempt(s)", failures)
        return


def alembic_config(versions_dir: Path) -> Config:
    """The Alembic configuration of a service's migrations: the shared environment
    (``common/migrations``) with the service's own ``versions_dir``; the caller puts an open
    connection in ``config.attributes["connection"]``."""
    from alembic.config import Config  # deferred: only at start

    config = Config()
    config.set_main_option("script_location", str(_ENV_DIR))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    return config


def migrate(engine: Engine, versions_dir: Path, *, wait: Callable[[Engine], None] = wait_for_database) -> None:
    """Bring the database schema to the newest revision in ``versions_dir``, once the database
    answers (``wait``: :func:`wait_for_database`, so a service started before its database
    retries instead of exiting)."""
    from alembic import command  # deferred: only at start

    wait(engine)
    config = alembic_config(versions_dir)
    with engine.begin() as connection:
        # Several replicas may start together: serialise their migrations.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(AdvisoryLock.MIGRATIONS)})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database schema is up to date")


def ping(engine: Engine) -> str | None:
    """None when the database answers, else a short reason."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"database: {type(exc.__cause__ or exc).__name__}"
    return None


class Leadership:
    """Leadership among replicas: a session-level PostgreSQL advisory lock held on a
    connection of its own. ``held()`` takes the lock when it is free and checks, each time,
    that the connection (and so the lock) is still there; when the database goes away the
    lock is gone with it and ``held()`` answers False until it can be taken again."""

    def __init__(self, engine: Engine, key: AdvisoryLock | int) -> None:
        self._engine = engine
        self._key = int(key)
        self._connection: Connection | None = None

    def held(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError:
                log.warning("lost the database connection holding advisory lock %d", self._key)
                self._drop()
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError:
            return False
        try:
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
        except SQLAlchemyError:
            got = False
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def release(self) -> None:
        if self._connection is not None:
            with suppress(SQLAlchemyError):  # the lock ends with the connection anyway
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(SQLAlchemyError):
                connection.close()
