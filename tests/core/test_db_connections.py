"""Pooled PostgreSQL connections: pinged only after idling, replaced when found dead, and a loss
inside the idle window fails one request, not the next. (SQLite has no connection to lose, so
these run on PostgreSQL only.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from core.db import make_engine


@pytest.fixture
def observer(migrated_templates: dict[str, str]) -> Iterator[Engine]:
    """A connection of our own, to look at and terminate the pool's backend from outside."""
    engine = create_engine(migrated_templates["postgresql"], isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def pool_of_one(migrated_templates: dict[str, str]) -> Iterator[Callable[[float], Engine]]:
    made: list[Engine] = []

    def make(idle_seconds: float) -> Engine:
        engine = make_engine(
            migrated_templates["postgresql"],
            pool_size=1,
            max_overflow=0,
            ping_after_idle_seconds=idle_seconds,
        )
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def _last_statement(observer: Engine, pid: int) -> str:
    with observer.connect() as conn:
        return str(
            conn.execute(
                text("SELECT query FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar_one()
        )


def _terminate(observer: Engine, pid: int) -> None:
    with observer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_back_from_use_just_now_is_not_pinged(
    pool_of_one: Callable[[float], Engine], observer: Engine
) -> None:
    engine = pool_of_one(3600)
    pid = _backend(engine)
    with engine.connect():
        # the pool's reset when the connection came back, and nothing since
        assert _last_statement(observer, pid) == "ROLLBACK"


def test_a_connection_that_idled_is_pinged_and_replaced_when_dead(
    pool_of_one: Callable[[float], Engine], observer: Engine
) -> None:
    engine = pool_of_one(0)
    pid = _backend(engine)
    with engine.connect():
        assert _last_statement(observer, pid) == "SELECT 1"  # the ping
    _terminate(observer, pid)
    assert _backend(engine) != pid  # the ping found it dead; the pool opened another


def test_a_loss_inside_the_idle_window_fails_one_request_only(
    pool_of_one: Callable[[float], Engine], observer: Engine
) -> None:
    engine = pool_of_one(3600)
    pid = _backend(engine)
    _terminate(observer, pid)
    with pytest.raises(DBAPIError) as failed, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    assert _backend(engine) != pid
