"""A reversal gives back what its vend wrote (month figures, the debt recovered, the float) and
links its journal entry to the vend, once however often it is asked."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models import Customer, Meter
from gateway.vend.models import MeterMonth, VendTransaction
from gateway.vend.service import DatabaseVendingService
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, Clock, available, header, principal
from vendor_accounts.models import JournalEntry

DEBTOR = "04000000036"  # 500.00 debt, 20 % of each tender recovers it


def figures(db: TestDatabase) -> tuple[object, ...]:
    with db.sessions() as session:
        meter = session.scalars(select(Meter).where(Meter.meter_number == DEBTOR)).one()
        debt = session.get(Customer, meter.customer_id).debt_cents  # type: ignore[union-attr]
        month = session.execute(
            select(
                MeterMonth.units_tenths,
                MeterMonth.fixed_charge_paid_cents,
                MeterMonth.fbe_units_tenths,
            ).where(MeterMonth.meter_id == meter.id)
        ).all()
    return debt, [tuple(r) for r in month if any(r)], available(db, BANK)


def test_a_reversal_gives_back_month_debt_and_float_and_links_its_entry(
    demo_db: TestDatabase,
) -> None:
    service = DatabaseVendingService(demo_db.runtime, clock=Clock())
    who = principal(demo_db, BANK)
    before = figures(demo_db)
    receipt = service.credit_vend(who, header(BANK), DEBTOR, 10000, "cash")
    assert figures(demo_db) != before
    for _ in range(2):  # the second time is a replay: nothing given back twice
        tx = service.reverse_by_receipt(receipt.receipt_no, "test", "operator")
        assert figures(demo_db) == before
    with demo_db.sessions() as session:
        tx = session.scalars(
            select(VendTransaction).where(VendTransaction.receipt_no == receipt.receipt_no)
        ).one()
        assert tx.status == "reversed" and tx.journal_entry_id is not None
        entry = session.get(JournalEntry, tx.reversal_journal_entry_id)
        assert entry is not None
        assert (entry.kind, entry.reversal_of_id) == ("reversal", tx.journal_entry_id)
