"""Test fixtures: real databases, built the way production builds them.

Every test that takes `db` runs twice, on SQLite and on PostgreSQL. Each pytest worker migrates one
fresh database per backend with `alembic upgrade heads` (never create_all) and drops it at the end;
between tests the SQLite file is replaced by a copy of the migrated template and the PostgreSQL
tables are truncated, so each test starts from an empty, fully migrated schema.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.runtime import Runtime
from core.settings import Settings, load_settings
from vendgw import migrate

BACKENDS = ("sqlite", "postgresql")
PG_SERVER = os.environ.get("VENDGW_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
TEST_MASTER_KEY = "11" * 32  # a fixed test key, so wrapped demo keys stay readable across a run


@dataclass
class TestDatabase:
    __test__ = False  # a fixture value, not a test class

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    runtime: Runtime

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (CLI, gunicorn) that must use this database."""
        return {
            "VENDGW_DATABASE_URL": self.url,
            "VENDGW_MASTER_KEY": TEST_MASTER_KEY,
            "VENDGW_HOME": str(self.settings.home),
        }


def settings_for(url: str, home: Path) -> Settings:
    return load_settings(
        {
            "VENDGW_DATABASE_URL": url,
            "VENDGW_MASTER_KEY": TEST_MASTER_KEY,
            "VENDGW_HOME": str(home),
        }
    )


@pytest.fixture(scope="session")
def migrated_templates(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[dict[str, str]]:
    """One migrated database per backend for this worker: a SQLite file and a PostgreSQL db."""
    sqlite_path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{sqlite_path}")
    pg_name = f"vendgw_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
    pg_url = f"{PG_SERVER}/{pg_name}"
    migrate.upgrade(pg_url)
    try:
        yield {"sqlite": str(sqlite_path), "postgresql": pg_url}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db(
    request: pytest.FixtureRequest, migrated_templates: dict[str, str], tmp_path: Path
) -> Iterator[TestDatabase]:
    """An empty, migrated database on each backend."""
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "vendgw.sqlite3"
        shutil.copyfile(migrated_templates["sqlite"], path)
        url = f"sqlite:///{path}"
    else:
        url = migrated_templates["postgresql"]
    engine = make_engine(url)
    settings = settings_for(url, tmp_path)
    runtime = Runtime(settings, _engine=engine)
    try:
        yield TestDatabase(backend, url, engine, make_session_factory(engine), settings, runtime)
    finally:
        runtime.close()  # its single-read pool too
        if backend == "postgresql":
            _truncate_all(engine)
        engine.dispose()


@pytest.fixture
def demo_db(db: TestDatabase) -> TestDatabase:
    """The database with the demo utility seeded."""
    from core.db import transaction
    from vendgw import demo

    with transaction(db.sessions) as session:
        demo.seed(session, db.runtime.security_module, db.runtime.verifier_key)
    return db
