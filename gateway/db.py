"""Database plumbing shared by every package: the declarative base, engines and sessions.

The same models and migrations run on the embedded SQLite default and on PostgreSQL. Money columns
are integers of minor units (cents); nothing here ever stores a float.
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
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine configured the same way for the server, the CLI and the tests."""
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
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect, idle_ping))
    return engine


# A connection that went back to the pool this recently is taken as alive, so a busy worker does
# not spend a round trip on "SELECT 1" before every transaction (SQLAlchemy's pool_pre_ping does,
# twice per request here). One that sat longer (where database restarts, idle timeouts and
# firewalls bite) is pinged first. A connection lost within the window fails its request once
# (a SystemEx: the client retries the same msgID, which is safe), and the pool then replaces
# every connection it holds.
PING_AFTER_IDLE_SECONDS = 5.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dialect: Dialect, idle_seconds: float, dbapi_connection: Any, record: Any,
                  _proxy: Any) -> None:
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
