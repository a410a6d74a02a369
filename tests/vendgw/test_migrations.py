"""Migrations build the whole schema from empty on both databases, and it matches the models."""

import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from tests.conftest import PG_SERVER
from vendgw import migrate


def _check_from_empty(url: str) -> None:
    migrate.upgrade(url)
    migrate.check(url)
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"supply_group", "vending_key", "tariff", "meter", "customer", "audit_event"} <= tables


def test_sqlite_from_empty(tmp_path: Path) -> None:
    _check_from_empty(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")


def test_postgresql_from_empty() -> None:
    name = f"vendgw_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _check_from_empty(f"{PG_SERVER}/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_upgrade_twice_is_a_no_op(tmp_path: Path, backend: str) -> None:
    url = f"sqlite:///{tmp_path / 'twice.sqlite3'}"
    migrate.upgrade(url)
    migrate.upgrade(url)
    migrate.check(url)


def test_each_branch_has_one_head_and_reconciliation_ends_with_the_voucher_sales() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    heads = set(script.get_heads())
    assert "0202_recon_voucher_sales" in heads and "0201_reconciliation" not in heads
    head = script.get_revision("0202_recon_voucher_sales")
    assert head is not None and head.down_revision == "0201_reconciliation"
    assert "0301_vouchers" in head.dependencies  # its backfill reads the voucher vends
    labels = [label for h in heads for label in script.get_revision(h).branch_labels]
    assert len(labels) == len(set(labels))
