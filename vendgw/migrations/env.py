"""Alembic environment: online migrations only, guarded by lock and statement timeouts and, on
PostgreSQL, an advisory lock so two nodes upgrading at once take turns."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from core.db import Base, make_engine
from vendgw.migrate import import_models

import_models()
config = context.config
MIGRATION_LOCK_ID = 0x76656E64  # "vend"


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", batch=True)
    with engine.connect() as connection:
        is_postgres = connection.dialect.name == "postgresql"
        if is_postgres:
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text("SET statement_timeout = '300s'"))
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=not is_postgres,  # SQLite alters tables by copying them
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()
    engine.dispose()


run_migrations_online()
