"""Float statements: opening balance, each movement with its running balance, closing balance,
on the utility's local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.db import transaction
from tests.support.vendor_accounts import TZ, new_vendor, split_of
from vendor_accounts import (
    InvalidInput,
    adjust,
    balance,
    deposit,
    post_vend,
    recent_movements,
    reverse_vend,
    statement,
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def month(db):
    """A few days of trading; Johannesburg is UTC+2, so 22:30 UTC is the next local day."""
    with transaction(db.sessions) as s:
        v = new_vendor(s, commission_bp=100)
        deposit(
            s, vendor_id=v.id, amount_cents=100_000, bank_reference="B-1", actor="ops", at=at(1, 8)
        )
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=10_000,
            split=split_of(10_000),
            reference="V-1",
            at=at(2, 9),
            timezone=TZ,
        )
        second = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=20_000,
            split=split_of(20_000),
            reference="V-2",
            at=at(2, 21, 59),
            timezone=TZ,
        )  # 23:59 local, 2 May
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=5_000,
            split=split_of(5_000),
            reference="V-3",
            at=at(2, 22, 30),
            timezone=TZ,
        )  # 00:30 local, 3 May
        reverse_vend(
            s, journal_entry_id=second.journal_entry_id, reference="R-2", at=at(3, 10), timezone=TZ
        )
        adjust(
            s,
            vendor_id=v.id,
            amount_cents=-1_000,
            reason="bank charges",
            operator="ops",
            reference="ADJ-1",
            at=at(4, 12),
        )
    db.vendor_id = v.id
    return db


def test_a_statement_has_opening_running_and_closing_balances(month):
    with transaction(month.sessions) as s:
        st = statement(s, month.vendor_id, date(2026, 5, 2), date(2026, 5, 3), timezone=TZ)
    assert st.opening_balance_cents == 100_000
    assert [
        (ln.kind, ln.reference, ln.amount_cents, ln.balance_cents, ln.commission_cents)
        for ln in st.lines
    ] == [
        ("vend", "V-1", -9_900, 90_100, 100),
        ("vend", "V-2", -19_800, 70_300, 200),
        ("vend", "V-3", -4_950, 65_350, 50),
        ("reversal", "R-2", 19_800, 85_150, -200),
    ]
    assert st.closing_balance_cents == 85_150
    assert (st.credits_cents, st.debits_cents) == (19_800, -34_650)
    assert st.lines[1].at.isoformat() == "2026-05-02T23:59:00+02:00"
    assert st.lines[3].description.startswith("reversal of entry")
    assert st.timezone == TZ


def test_local_days_decide_which_statement_a_movement_is_on(month):
    with transaction(month.sessions) as s:
        day2 = statement(s, month.vendor_id, date(2026, 5, 2), date(2026, 5, 2), timezone=TZ)
        day3 = statement(s, month.vendor_id, date(2026, 5, 3), date(2026, 5, 3), timezone=TZ)
    assert [ln.reference for ln in day2.lines] == ["V-1", "V-2"]
    assert [ln.reference for ln in day3.lines] == ["V-3", "R-2"]
    assert day3.opening_balance_cents == day2.closing_balance_cents


def test_the_whole_history_closes_on_the_float_balance(month):
    with transaction(month.sessions) as s:
        st = statement(s, month.vendor_id, date(2026, 1, 1), date(2026, 12, 31), timezone=TZ)
        assert st.opening_balance_cents == 0
        assert st.closing_balance_cents == balance(s, month.vendor_id).balance_cents == 84_150
        empty = statement(s, month.vendor_id, date(2026, 6, 1), date(2026, 6, 30), timezone=TZ)
        assert empty.lines == () and empty.opening_balance_cents == 84_150
        with pytest.raises(InvalidInput):
            statement(s, month.vendor_id, date(2026, 6, 2), date(2026, 6, 1), timezone=TZ)


def test_recent_movements_work_backwards_from_the_balance(month):
    with transaction(month.sessions) as s:
        recent = recent_movements(s, month.vendor_id, 3)
    assert all(ln.at.utcoffset() == timedelta(0) for ln in recent)  # UTC, as receipts are
    assert [(ln.reference, ln.amount_cents, ln.balance_cents) for ln in recent] == [
        ("ADJ-1", -1_000, 84_150),
        ("R-2", 19_800, 85_150),
        ("V-3", -4_950, 65_350),
    ]
