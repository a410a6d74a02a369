"""`vendgw verify`: every invariant check (the ledger, the meter months, the vend tokens) against
the configured database, on both databases; any failure is exit status 1."""

from __future__ import annotations

from click.testing import CliRunner, Result
from sqlalchemy import select, text, update

from core.db import transaction
from gateway.vend.models import MeterMonth, VendTransaction
from tests.conftest import TestDatabase
from tests.vendgw.test_invariants import METER, vend_a_day
from vendgw.cli import cli


def vendgw_verify(db: TestDatabase) -> Result:
    """The installed command line, reading its database from the environment."""
    return CliRunner().invoke(cli, ["verify"], env=db.env())


def test_clean_after_vends_and_a_reversal(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    result = vendgw_verify(demo_db)
    assert result.exit_code == 0, result.output
    for name in ("ledger", "meter months", "vend tokens"):
        assert f"ok    {name}: " in result.stdout
    assert "database verified: every invariant holds" in result.stdout


def test_a_tampered_meter_month_fails_it(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    with transaction(demo_db.sessions) as session:
        meter_id = session.scalar(
            select(VendTransaction.meter_id).where(VendTransaction.meter_number == METER).limit(1)
        )
        session.execute(
            update(MeterMonth)
            .where(MeterMonth.meter_id == meter_id)
            .values(fixed_charge_paid_cents=MeterMonth.fixed_charge_paid_cents + 100)
        )
    result = vendgw_verify(demo_db)
    assert result.exit_code == 1, result.output
    assert "FAIL  meter months: 1 problem(s)" in result.stdout
    assert f"meter-month-mismatch: meter id {meter_id} " in result.stderr
    assert "fixed_charge_paid_cents" in result.stderr
    assert "ok    ledger: " in result.stdout and "ok    vend tokens: " in result.stdout
    assert "failed verification: meter months" in result.stderr


def test_a_tampered_float_fails_it_too(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    with demo_db.engine.begin() as conn:
        conn.execute(text("UPDATE float_account SET balance_cents = balance_cents + 1"))
    result = vendgw_verify(demo_db)
    assert result.exit_code == 1, result.output
    assert "FAIL  ledger: " in result.stdout and "balance-mismatch" in result.stderr
    assert "ok    meter months: " in result.stdout
