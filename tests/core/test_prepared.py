"""PreparedStatement: planned once per PostgreSQL connection, prepared again on a new one, kept
through a rollback, errors wrapped as SQLAlchemy's; plain Core on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Integer, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.prepared import PreparedStatement
from gateway.models import Tariff
from tests.conftest import TestDatabase

_tariff = Tariff.__table__
DOUBLE = PreparedStatement(
    "test_double", select((bindparam("p", type_=Integer) * 2).label("twice"))
)
ADD_TARIFF = PreparedStatement(
    "test_add_tariff",
    insert(_tariff).values(code=bindparam("p_code"), description="test").returning(_tariff.c.id),
)


def _prepared_here(session: Session) -> list[str]:
    return list(
        session.execute(
            text("SELECT name FROM pg_prepared_statements WHERE name LIKE 'test_%' ORDER BY name")
        ).scalars()
    )


def test_runs_on_both_databases(db: TestDatabase) -> None:
    with db.sessions() as session:
        assert DOUBLE.execute(session, {"p": 21}).scalar_one() == 42
        assert DOUBLE.execute(session, {"p": 5}).scalar_one() == 10


@pytest.fixture
def pg_sessions(migrated_templates: dict[str, str]) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_templates["postgresql"], pool_size=1, max_overflow=0)
    yield make_session_factory(engine)
    engine.dispose()


def test_postgresql_plans_it_once_per_connection(pg_sessions: sessionmaker[Session]) -> None:
    with pg_sessions() as session:
        DOUBLE.execute(session, {"p": 1})
        assert _prepared_here(session) == ["test_double"]
        session.rollback()  # a PREPARE outlives the transaction it was sent in
        assert DOUBLE.execute(session, {"p": 2}).scalar_one() == 4
        assert _prepared_here(session) == ["test_double"]
        session.connection().invalidate()  # the pool opens a new connection...
    with pg_sessions() as session:
        assert DOUBLE.execute(session, {"p": 3}).scalar_one() == 6  # ...and it is prepared anew
        assert _prepared_here(session) == ["test_double"]


def test_errors_are_sqlalchemys(db: TestDatabase) -> None:
    with db.sessions() as session:
        ADD_TARIFF.execute(session, {"p_code": "T1"})
        with pytest.raises(IntegrityError):  # what run_once catches for a taken msgID
            ADD_TARIFF.execute(session, {"p_code": "T1"})
