"""Database plumbing shared by every package: the declarative base, engines and sessions.

The same models and migrations run on the embedded SQLite default and on PostgreSQL. Money columns
are integers of minor units (cents); nothing here ever stores a float.

Time-outs (PostgreSQL; the values are settings, `[database]` in conf/defaults.toml). Without them
one worker stalled inside a transaction holds its meter or float row for ever, every vend behind
it waits, and gunicorn kills each waiting worker in turn. So every engine `make_engine` builds has

- on the client (libpq): `connect_timeout`, TCP keepalives (`keepalives_idle`, `_interval`,
  `_count`) and `tcp_user_timeout`, so a dead server or path is noticed on idle and busy
  connections alike;
- on the server, set once per new connection (one round trip, and unlike libpq's `options` it
  also passes a session-mode pooler): `lock_timeout`, `statement_timeout` and
  `idle_in_transaction_session_timeout`. The vend path's are short (3 s, 10 s, 15 s by
  default: a vend holds its rows for milliseconds); operator commands (`batch=True`, the CLI's
  runtime and migrations) get long ones.

A request that hits one of them fails with `gateway.errors.DatabaseUnavailable` (see
`database_code` here and `gateway.errors.as_database_unavailable`, used where errors become
faults): Server.SystemEx `database-busy`,
`database-timeout` or `database-unavailable`, rolled back, to be retried with the same msgID.
None of this helps against a server that accepts TCP but never answers (frozen, SIGSTOP): its
kernel acknowledges everything. /healthz therefore keeps a client-side deadline of its own
(vendgw/health.py), so a load balancer takes such a node out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from core.settings import DatabaseLimits, get_settings

# Stable constraint names, so migrations and the CHECK constraints tests look for are predictable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are BIGINT on PostgreSQL only.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from pysqlite, which would otherwise begin lazily and let a
    # read-then-write transaction fail half way with "database is locked".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(
    url: str, *, limits: DatabaseLimits | None = None, batch: bool = False, **kwargs: Any
) -> Engine:
    """An engine configured the same way for the server, the CLI and the tests.

    On PostgreSQL its sessions run under `limits`, by default the settings' vend-path limits or,
    with `batch`, the longer ones of operator commands (migrations, reconciliation, reports).
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Every transaction takes the write lock up front (waiting up to busy_timeout), so the
        # embedded database serialises writers instead of failing them; PostgreSQL keeps its
        # row-level guards.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    idle_ping = kwargs.pop("ping_after_idle_seconds", PING_AFTER_IDLE_SECONDS)
    limits = limits or get_settings().database.limits(batch=batch)
    kwargs["connect_args"] = {**_libpq_limits(limits), **kwargs.get("connect_args", {})}
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", partial(_set_session_limits, _session_limits_sql(limits)))
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect, idle_ping))
    return engine


def _libpq_limits(limits: DatabaseLimits) -> dict[str, Any]:
    params: dict[str, Any] = {
        "connect_timeout": limits.connect_timeout_seconds,
        "keepalives": 1,
        "keepalives_idle": limits.keepalives_idle_seconds,
        "keepalives_interval": limits.keepalives_interval_seconds,
        "keepalives_count": limits.keepalives_count,
    }
    import psycopg2.extensions

    if psycopg2.extensions.libpq_version() >= 120000:  # an older libpq refuses the keyword
        params["tcp_user_timeout"] = limits.tcp_user_timeout_ms
    return params


def _session_limits_sql(limits: DatabaseLimits) -> str:
    # Integers only (the settings are typed), so nothing here can carry SQL of its own.
    return "; ".join(
        f"SET {name} = {int(value)}"
        for name, value in (
            ("lock_timeout", limits.lock_timeout_ms),
            ("statement_timeout", limits.statement_timeout_ms),
            ("idle_in_transaction_session_timeout", limits.idle_in_transaction_timeout_ms),
        )
    )


def _set_session_limits(sql: str, dbapi_connection: Any, _record: Any) -> None:
    # Set for the session (committed, so a later rollback keeps them), before the pool hands
    # the connection out for the first time; one round trip for the three.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
    if not dbapi_connection.autocommit:
        dbapi_connection.commit()


# SQLSTATEs that mean "the database could not serve this now" rather than "this request is
# wrong": the client's retry with the same msgID is the remedy.
_BUSY_STATES = {
    "55P03",  # lock_not_available: lock_timeout, or NOWAIT
    "40P01",  # deadlock_detected: the server broke a deadlock by failing this transaction
    "40001",  # serialization_failure
}
_TIMEOUT_STATES = {
    "57014",  # query_canceled: statement_timeout (or an operator's pg_cancel_backend)
    "25P03",  # idle_in_transaction_session_timeout: the session was ended
}
_UNAVAILABLE_STATES = {
    "57P01",  # admin_shutdown: the server is stopping, or pg_terminate_backend
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: starting up or in recovery
    "53300",  # too_many_connections
}


def database_code(exc: BaseException) -> str | None:
    """What an operational database failure means (`database-busy`, `database-timeout` or
    `database-unavailable`), or None for anything else (a constraint violation, a programming
    error: those stay bugs, with their traceback). `gateway.errors.as_database_unavailable`
    turns it into the client's retryable error."""
    if isinstance(exc, PoolTimeout):
        return "database-busy"  # every pooled connection in use for pool_timeout seconds
    if isinstance(exc, DisconnectionError):
        return "database-unavailable"
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    state = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if state in _BUSY_STATES:
        return "database-busy"
    if state in _TIMEOUT_STATES:
        return "database-timeout"
    if state in _UNAVAILABLE_STATES or (state or "").startswith("08"):
        return "database-unavailable"
    if exc.connection_invalidated:
        return "database-unavailable"
    name = type(orig).__name__
    text = str(orig).lower()
    if name == "OperationalError" and ("database is locked" in text or "database is busy" in text):
        return "database-busy"  # SQLite: busy_timeout ran out
    if (
        name in ("OperationalError", "InterfaceError")
        and not state
        and type(orig).__module__.startswith("psycopg2")
    ):
        # libpq's own errors carry no SQLSTATE: refused, reset, closed, could not connect.
        return "database-unavailable"
    return None


def database_reason(exc: BaseException) -> str:
    """One line on what the database said, for the log: SQLSTATE and its primary message, never
    the statement or its parameters (which may hold tokens or secrets)."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "pgcode", None)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    lines = (primary or str(orig)).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else type(orig).__name__
    text = text[:200]
    return f"{type(orig).__name__} {state}: {text}" if state else f"{type(orig).__name__}: {text}"


# A connection that went back to the pool this recently is taken as alive, so a busy worker does
# not spend a round trip on "SELECT 1" before every transaction (SQLAlchemy's pool_pre_ping does,
# twice per request here). One that sat longer (where database restarts, idle timeouts and
# firewalls bite) is pinged first. A connection lost within the window fails its request once
# (a SystemEx: the client retries the same msgID, which is safe), and the pool then replaces
# every connection it holds.
PING_AFTER_IDLE_SECONDS = 5.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(
    dialect: Dialect, idle_seconds: float, dbapi_connection: Any, record: Any, _proxy: Any
) -> None:
    if time.monotonic() - record.info.get("checked_in", float("-inf")) < idle_seconds:
        return
    try:
        dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs
    except Exception as exc:
        # The pool discards this connection and checks out (or opens) another.
        raise DisconnectionError(f"connection found dead after idling: {exc}") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back on any exception."""
    with factory() as session, session.begin():
        yield session
