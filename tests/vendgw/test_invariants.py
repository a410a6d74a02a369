"""vendgw.invariants on both databases: clean after real vends, FBE issues and a reversal; each
kind of damage (a month figure off by one, a month row lost, a token lost) is reported."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from core.db import transaction
from gateway.vend.models import MeterMonth, VendToken, VendTransaction
from gateway.vend.service import DatabaseVendingService
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, Clock, header, principal
from vendgw.invariants import check_meter_months, check_vend_records, check_vend_tokens

METER, DEBT_METER, FBE_METER = "01234567897", "04000000036", "04000000028"


def vend_a_day(db: TestDatabase) -> None:
    """Vends on three meters (debt recovery, free basic electricity), one of them reversed."""
    service = DatabaseVendingService(db.runtime, clock=Clock())
    who = principal(db, BANK)
    service.credit_vend(who, header(), METER, 10000, "cash")
    service.credit_vend(who, header(), METER, 2500, "cash")
    service.credit_vend(who, header(), DEBT_METER, 10000, "cash")
    service.credit_vend(who, header(), FBE_METER, 5000, "cash")
    reversed_one = header()
    service.credit_vend(who, reversed_one, METER, 4000, "cash")
    assert service.reversal_advice(who, header(), reversed_one.msg_id).reversed


def test_clean_after_vends_and_a_reversal(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    with demo_db.sessions() as session:
        assert (
            session.scalar(select(VendTransaction.id).where(VendTransaction.status == "reversed"))
            is not None
        )
        assert check_vend_records(session) == []


def test_a_month_figure_off_by_one_is_reported(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    with transaction(demo_db.sessions) as session:
        session.execute(
            update(MeterMonth)
            .values(units_tenths=MeterMonth.units_tenths + 1)
            .where(
                MeterMonth.meter_id
                == select(VendTransaction.meter_id)
                .where(VendTransaction.meter_number == METER)
                .limit(1)
                .scalar_subquery()
            )
        )
    with demo_db.sessions() as session:
        [problem] = check_meter_months(session)
    assert problem.code == "meter-month-mismatch"
    assert "units_tenths" in problem.message and "fixed_charge" not in problem.message


def test_a_lost_month_row_is_reported(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    with transaction(demo_db.sessions) as session:
        fbe_meter = session.scalar(
            select(VendTransaction.meter_id).where(VendTransaction.meter_number == FBE_METER)
        )
        session.execute(delete(MeterMonth).where(MeterMonth.meter_id == fbe_meter))
    with demo_db.sessions() as session:
        [problem] = check_meter_months(session)
    assert f"meter id {fbe_meter} " in problem.message
    assert "fbe_units_tenths 0 but vends sum to" in problem.message


def test_a_vend_without_tokens_is_reported(demo_db: TestDatabase) -> None:
    vend_a_day(demo_db)
    with transaction(demo_db.sessions) as session:
        tx = session.scalars(select(VendTransaction).order_by(VendTransaction.id)).first()
        assert tx is not None
        receipt = tx.receipt_no
        session.execute(delete(VendToken).where(VendToken.transaction_id == tx.id))
    with demo_db.sessions() as session:
        assert [str(p) for p in check_vend_tokens(session)] == [
            f"vend-without-tokens: receipt {receipt} has no stored token"
        ]
