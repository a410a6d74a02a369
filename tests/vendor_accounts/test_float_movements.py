"""Deposits, adjustments, commission and low-float events: the float's other movements."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import transaction
from core.models import AuditEvent
from tests.support.vendor_accounts import (
    TZ,
    count_entries,
    entry_legs,
    low_float_events,
    new_vendor,
    split_of,
)
from vendor_accounts import (
    CommissionRate,
    DepositConflict,
    InsufficientFloat,
    InvalidInput,
    adjust,
    balance,
    check_invariants,
    commission_cents,
    deposit,
    post_vend,
    reverse_vend,
)

# -- deposits -------------------------------------------------------------------------------


def test_a_replayed_deposit_applies_once_and_returns_the_original_entry(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s)
        first = deposit(
            s, vendor_id=v.id, amount_cents=250_000, bank_reference="BANK-77", actor="ops"
        )
    with transaction(db.sessions) as s:
        replay = deposit(
            s, vendor_id=v.id, amount_cents=250_000, bank_reference="BANK-77", actor="ops"
        )
    assert first.applied and not replay.applied
    assert replay.journal_entry_id == first.journal_entry_id
    assert replay.balance_after_cents == first.balance_after_cents == 250_000
    with transaction(db.sessions) as s:
        assert balance(s, v.id).balance_cents == 250_000
        assert count_entries(s, v.id, "deposit") == 1
        assert entry_legs(s, first.journal_entry_id) == {"bank": -250_000, "vendor_float": 250_000}
        assert s.scalars(select(AuditEvent.action)).all().count("float.deposit") == 1


def test_a_bank_reference_replayed_with_another_amount_is_a_conflict(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s)
        deposit(s, vendor_id=v.id, amount_cents=1_000, bank_reference="BANK-1", actor="ops")
    with transaction(db.sessions) as s, pytest.raises(DepositConflict) as conflict:
        deposit(s, vendor_id=v.id, amount_cents=2_000, bank_reference="BANK-1", actor="ops")
    assert conflict.value.original_amount_cents == 1_000


def test_bank_references_are_per_vendor(db):
    with transaction(db.sessions) as s:
        a, b = new_vendor(s, 1), new_vendor(s, 2)
        deposit(s, vendor_id=a.id, amount_cents=1_000, bank_reference="SAME", actor="ops")
        assert deposit(
            s, vendor_id=b.id, amount_cents=1_000, bank_reference="SAME", actor="ops"
        ).applied


# -- adjustments ----------------------------------------------------------------------------


def test_adjustments_are_signed_floored_and_audited(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=10_000)
        up = adjust(
            s, vendor_id=v.id, amount_cents=500, reason="bank fee refunded", operator="alice"
        )
        down = adjust(
            s, vendor_id=v.id, amount_cents=-10_500, reason="duplicate deposit", operator="bob"
        )
        assert (up.balance_after_cents, down.balance_after_cents) == (10_500, 0)
        with pytest.raises(InsufficientFloat):
            adjust(s, vendor_id=v.id, amount_cents=-1, reason="x", operator="bob")
        with pytest.raises(InvalidInput):
            adjust(s, vendor_id=v.id, amount_cents=100, reason=" ", operator="bob")
        with pytest.raises(InvalidInput):
            adjust(s, vendor_id=v.id, amount_cents=0, reason="x", operator="bob")
        assert entry_legs(s, down.journal_entry_id) == {
            "vendor_float": -10_500,
            "adjustments": 10_500,
        }
    with transaction(db.sessions) as s:
        audits = s.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.action == "float.adjust"
            )
        ).all()
        assert [a[0] for a in audits] == ["alice", "bob"]
        assert "duplicate deposit" in audits[1][2]
        assert check_invariants(s) == []


# -- commission -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "amount", "units", "expected"),
    [
        (CommissionRate(150), 10_000, None, 150),
        (CommissionRate(150), 999, None, 14),  # 14.985 rounds down
        (CommissionRate(0, per_kwh_e4=500), 10_000, 673, 336),  # 67.3 kWh x 0.05 = 3.365
        (CommissionRate(100, per_kwh_e4=500), 10_000, 673, 100 + 336),
        (CommissionRate(10_000, per_kwh_e4=10_000), 500, 100, 500),  # never more than the sale
        (CommissionRate(), 10_000, None, 0),
    ],
)
def test_commission_rounds_down(rate, amount, units, expected):
    assert commission_cents(rate, amount_cents=amount, units_tenths=units) == expected


def test_per_kwh_commission_needs_the_units():
    with pytest.raises(InvalidInput):
        commission_cents(CommissionRate(per_kwh_e4=100), amount_cents=100)
    with pytest.raises(InvalidInput):
        CommissionRate(basis_points=10_001)


def test_commission_is_credited_with_the_vend_and_reversed_with_it(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=100_000, commission_bp=150, commission_kwh_e4=200)
        vend = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=20_000,
            split=split_of(20_000),
            reference="V-1",
            units_tenths=1_000,
            timezone=TZ,
        )
        # 1.50 % of 200.00 = 3.00, plus 100 kWh x 0.02 = 2.00
        assert vend.commission_cents == 500
        assert vend.balance_after_cents == 100_000 - 20_000 + 500
        legs = entry_legs(s, vend.journal_entry_id)
        assert legs["commission_expense"] == -500
        assert legs["vendor_float"] == -19_500
        with pytest.raises(InvalidInput):  # per-kWh commission without the units
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=1_000,
                split=split_of(1_000),
                reference="V-2",
                timezone=TZ,
            )
    with transaction(db.sessions) as s:
        back = reverse_vend(s, journal_entry_id=vend.journal_entry_id, reference="R-1", timezone=TZ)
        assert back.balance_after_cents == 100_000
        assert entry_legs(s, back.journal_entry_id)["commission_expense"] == 500
        assert check_invariants(s) == []


def test_a_vend_needs_its_whole_tender_available_before_commission(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=9_900, commission_bp=500)
        with pytest.raises(InsufficientFloat):
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=10_000,
                split=split_of(10_000),
                reference="V-1",
                timezone=TZ,
            )


# -- low-float events -----------------------------------------------------------------------


def test_a_low_float_event_is_recorded_once_per_downward_crossing(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=10_000, threshold_cents=3_000)

    def vend(amount: int, ref: str) -> None:
        with transaction(db.sessions) as s:
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=amount,
                split=split_of(amount),
                reference=ref,
                timezone=TZ,
            )

    vend(6_000, "V-1")  # 4 000: still above
    vend(1_000, "V-2")  # 3 000: at the threshold is not below it
    vend(500, "V-3")  # 2 500: crosses
    vend(500, "V-4")  # 2 000: stays below, no new event
    with transaction(db.sessions) as s:
        events = low_float_events(s, v.id)
        assert [(e.balance_cents, e.threshold_cents) for e in events] == [(2_500, 3_000)]
        deposit(s, vendor_id=v.id, amount_cents=5_000, bank_reference="TOPUP", actor="ops")
    vend(4_500, "V-5")  # 7 000 -> 2 500: a second crossing
    with transaction(db.sessions) as s:
        adjust(s, vendor_id=v.id, amount_cents=1_000, reason="refund", operator="ops")
        adjust(s, vendor_id=v.id, amount_cents=-2_000, reason="fee", operator="ops")  # a third
        events = low_float_events(s, v.id)
        assert [e.balance_cents for e in events] == [2_500, 2_500, 1_500]
