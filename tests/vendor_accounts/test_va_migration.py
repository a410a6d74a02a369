"""Migration 0101: its own branch on the foundation, with the ledger's triggers on each database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from vendgw import migrate


def _triggers(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return set(conn.execute(text(sql)).scalars())


def test_the_migrated_schema_matches_the_models_and_has_the_guards(db):
    migrate.check(db.url)
    expected = (
        {
            "journal_entry_append_only",
            "posting_append_only",
            "journal_entry_balanced",
            "posting_balanced",
        }
        if db.backend == "postgresql"
        else {
            "journal_entry_no_update",
            "journal_entry_no_delete",
            "posting_no_update",
            "posting_no_delete",
        }
    )
    assert expected <= _triggers(db.engine)


def test_the_branch_downgrades_and_upgrades_again(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'branch.sqlite3'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "vendor_accounts@base")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()
            )
        assert "posting" not in tables and "meter" in tables
        assert _triggers(engine) == set()
        migrate.upgrade(url)
        migrate.check(url)
        assert "posting_no_delete" in _triggers(engine)
    finally:
        engine.dispose()
