"""`vendgw db verify-backup`: the restore drill on real backups of a database with the demo
utility and a day of vends: pg_dump -Fc (and plain SQL) on PostgreSQL, a database file copy on
SQLite. A whole backup passes (exit 0) and its scratch database is gone afterwards; a backup of
tampered books or tampered month figures, or one that is not a backup at all, exits 1."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import PG_SERVER, TestDatabase
from tests.e2e.conftest import ROOT
from tests.vendgw.test_invariants import METER, vend_a_day
from vendgw.backup import conninfo, pg_tool


def backup_of(db: TestDatabase, directory: Path, fmt: str = "c") -> Path:
    if db.backend == "sqlite":
        target = directory / "vendgw-backup.sqlite3"
        source = sqlite3.connect(db.url.removeprefix("sqlite:///"))
        try:
            with sqlite3.connect(target) as copy:
                source.backup(copy)
        finally:
            source.close()
        return target
    target = directory / f"vendgw.{'dump' if fmt == 'c' else 'sql'}"
    info, env = conninfo(make_url(db.url))
    extra = ["--no-owner"] if fmt == "p" else []
    subprocess.run(
        [pg_tool("pg_dump"), f"-F{fmt}", *extra, "-f", str(target), "-d", info],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return target


def verify(db: TestDatabase, backup: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vendgw.cli", "db", "verify-backup", str(backup)],
        cwd=ROOT,
        env={**os.environ, **db.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )


def scratch_databases() -> list[str]:
    admin = create_engine(f"{PG_SERVER}/postgres")
    try:
        with admin.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT datname FROM pg_database WHERE datname LIKE 'vendgw_verify_%'")
                ).scalars()
            )
    finally:
        admin.dispose()


def assert_scratch_dropped(stdout: str) -> None:
    """The drill names its scratch database in the report; it must be gone. (Only ours is looked
    at: other test workers and runs may have scratch databases of their own meanwhile.)"""
    named = re.findall(r"scratch database (vendgw_verify_[0-9a-f]+) dropped", stdout)
    assert len(named) == 1, stdout
    assert named[0] not in scratch_databases()


def tamper(db: TestDatabase, statement: str, table: str) -> None:
    """A change the running gateway could never make: the ledger's triggers refuse it, so they
    are out of the way for this one statement (on PostgreSQL for this session, as a superuser;
    on SQLite dropped and put back), as an attacker or a broken disk would not care about."""
    with db.engine.begin() as conn:
        if db.backend == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            assert conn.execute(text(statement)).rowcount == 1  # type: ignore[attr-defined]
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).all()
        for name, _ in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        assert conn.execute(text(statement)).rowcount == 1  # type: ignore[attr-defined]
        for _, sql in triggers:
            conn.execute(text(sql))


def test_a_whole_backup_passes_and_leaves_no_scratch_database(
    demo_db: TestDatabase, tmp_path: Path
) -> None:
    vend_a_day(demo_db)
    done = verify(demo_db, backup_of(demo_db, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for check in ("schema", "ledger", "meter months", "vend tokens"):
        assert f"ok    {check}:" in done.stdout
    assert "holds 5 vend transactions" in done.stdout
    assert "backup verified" in done.stdout
    if demo_db.backend == "postgresql":
        assert_scratch_dropped(done.stdout)


POSTGRESQL_ONLY = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


@POSTGRESQL_ONLY
def test_a_plain_sql_dump_passes(demo_db: TestDatabase, tmp_path: Path) -> None:
    vend_a_day(demo_db)
    done = verify(demo_db, backup_of(demo_db, tmp_path, fmt="p"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "plain SQL" in done.stdout


def test_a_backup_of_tampered_books_fails(demo_db: TestDatabase, tmp_path: Path) -> None:
    vend_a_day(demo_db)
    tamper(
        demo_db,
        "UPDATE posting SET amount_cents = amount_cents + 1 "
        "WHERE id = (SELECT min(id) FROM posting)",
        "posting",
    )
    done = verify(demo_db, backup_of(demo_db, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  ledger:" in done.stdout
    assert "unbalanced-entry" in done.stdout
    assert "ok    meter months:" in done.stdout  # each check reports on its own
    assert "backup FAILED verification" in done.stdout
    if demo_db.backend == "postgresql":
        assert_scratch_dropped(done.stdout)


def test_a_backup_of_tampered_month_figures_fails(demo_db: TestDatabase, tmp_path: Path) -> None:
    vend_a_day(demo_db)
    tamper(
        demo_db,
        "UPDATE meter_month SET units_tenths = units_tenths + 10 WHERE meter_id = "
        f"(SELECT id FROM meter WHERE meter_number = '{METER}')",
        "meter_month",
    )
    done = verify(demo_db, backup_of(demo_db, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  meter months: 1 problem(s)" in done.stdout
    assert "ok    ledger:" in done.stdout


@POSTGRESQL_ONLY
def test_a_file_that_is_no_backup_fails(demo_db: TestDatabase, tmp_path: Path) -> None:
    truncated = backup_of(demo_db, tmp_path)
    truncated.write_bytes(truncated.read_bytes()[:200])
    done = verify(demo_db, truncated)
    assert done.returncode == 1
    assert "FAIL  restore: pg_restore exited" in done.stdout
    assert_scratch_dropped(done.stdout)


def test_a_backup_whose_schema_drifted_fails(demo_db: TestDatabase, tmp_path: Path) -> None:
    vend_a_day(demo_db)
    with demo_db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_vend_transaction_vendor_created"))
    try:
        backup = backup_of(demo_db, tmp_path)
    finally:  # the PostgreSQL test database outlives this test: put the index back
        with demo_db.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE INDEX ix_vend_transaction_vendor_created "
                    "ON vend_transaction (vendor_id, created_at)"
                )
            )
    done = verify(demo_db, backup)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  schema: 1 problem(s)" in done.stdout
    assert "ix_vend_transaction_vendor_created" in done.stdout
    assert "ok    ledger:" in done.stdout
