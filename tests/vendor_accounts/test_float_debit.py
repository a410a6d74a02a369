"""The vend debit and its reversal: the figures, the refusals, and that refusing changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.db import transaction
from tests.support.vendor_accounts import TZ, count_entries, entry_legs, new_vendor, split_of
from vendor_accounts import (
    DailyCapExceeded,
    InsufficientFloat,
    InvalidInput,
    InvalidSplit,
    NotReversible,
    UnknownEntry,
    UnknownVendor,
    VendorSuspended,
    VendSplit,
    balance,
    check_invariants,
    post_vend,
    reverse_vend,
    set_vendor_status,
)
from vendor_accounts.commission import CommissionRate


def test_a_vend_debits_the_float_and_credits_the_utility(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=100_000)
        split = VendSplit(
            energy_excl_vat=7_000, vat=1_200, fixed_charge_excl_vat=1_000, debt_recovered=800
        )
        posted = post_vend(
            s, vendor_id=v.id, amount_cents=10_000, split=split, reference="V-1", timezone=TZ
        )
    assert (posted.balance_after_cents, posted.floor_cents, posted.available_cents) == (
        90_000,
        0,
        90_000,
    )
    with transaction(db.sessions) as s:
        assert entry_legs(s, posted.journal_entry_id) == {
            "vendor_float": -10_000,
            "energy_revenue": 7_000,
            "vat_payable": 1_200,
            "fixed_charge_revenue": 1_000,
            "debt_recovered": 800,
        }
        assert balance(s, v.id).balance_cents == 90_000
        assert check_invariants(s) == []


def test_insufficient_float_is_refused_with_the_available_amount_and_changes_nothing(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=5_000)
    with transaction(db.sessions) as s:
        with pytest.raises(InsufficientFloat) as refused:
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=5_001,
                split=split_of(5_001),
                reference="V-1",
                timezone=TZ,
            )
        # The caller's transaction is still usable and holds nothing from the attempt.
        posted = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=5_000,
            split=split_of(5_000),
            reference="V-2",
            timezone=TZ,
        )
    assert refused.value.available_cents == 5_000
    assert refused.value.amount_cents == 5_001
    assert refused.value.code == "insufficient-float"
    assert posted.balance_after_cents == 0
    with transaction(db.sessions) as s:
        assert count_entries(s, v.id, "vend") == 1
        assert check_invariants(s) == []


def test_a_credit_line_lets_the_balance_go_down_to_the_floor_and_no_further(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=1_000, floor_cents=-2_000)
    with transaction(db.sessions) as s:
        posted = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=3_000,
            split=split_of(3_000),
            reference="V-1",
            timezone=TZ,
        )
        assert (posted.balance_after_cents, posted.available_cents) == (-2_000, 0)
        with pytest.raises(InsufficientFloat) as refused:
            post_vend(
                s, vendor_id=v.id, amount_cents=1, split=split_of(1), reference="V-2", timezone=TZ
            )
    assert refused.value.balance_cents == -2_000
    assert refused.value.available_cents == 0


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_a_vendor_that_is_not_active_cannot_be_debited(db, status):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=100_000)
        set_vendor_status(s, v.client_id, status, actor="test")
    with transaction(db.sessions) as s, pytest.raises(VendorSuspended) as refused:
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=1_000,
            split=split_of(1_000),
            reference="V-1",
            timezone=TZ,
        )
    assert refused.value.status == status
    with transaction(db.sessions) as s:
        assert balance(s, v.id).balance_cents == 100_000
        assert count_entries(s, v.id, "vend") == 0
        set_vendor_status(s, v.client_id, "active", actor="test")
    with transaction(db.sessions) as s:
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=1_000,
            split=split_of(1_000),
            reference="V-2",
            timezone=TZ,
        )


def test_the_daily_cap_counts_per_local_day_and_a_reversal_gives_it_back(db):
    # 21:30 UTC on 1 March is already 2 March in Johannesburg (UTC+2).
    day1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    day2 = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=1_000_000, daily_cap_cents=10_000)
    with transaction(db.sessions) as s:
        first = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=6_000,
            split=split_of(6_000),
            reference="V-1",
            at=day1,
            timezone=TZ,
        )
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=4_000,
            split=split_of(4_000),
            reference="V-2",
            at=day1 + timedelta(hours=1),
            timezone=TZ,
        )
    with transaction(db.sessions) as s, pytest.raises(DailyCapExceeded) as refused:
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=1,
            split=split_of(1),
            reference="V-3",
            at=day1 + timedelta(hours=2),
            timezone=TZ,
        )
    assert (refused.value.cap_cents, refused.value.used_cents, refused.value.remaining_cents) == (
        10_000,
        10_000,
        0,
    )
    with transaction(db.sessions) as s:
        reverse_vend(s, journal_entry_id=first.journal_entry_id, reference="R-1", timezone=TZ)
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=6_000,
            split=split_of(6_000),
            reference="V-4",
            at=day1 + timedelta(hours=3),
            timezone=TZ,
        )
        # A new local day starts a new count.
        post_vend(
            s,
            vendor_id=v.id,
            amount_cents=10_000,
            split=split_of(10_000),
            reference="V-5",
            at=day2,
            timezone=TZ,
        )
        assert check_invariants(s) == []


def test_the_split_must_make_up_the_tender(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=100_000)
        with pytest.raises(InvalidSplit):
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=1_000,
                split=VendSplit(energy_excl_vat=800, vat=150),
                reference="V-1",
                timezone=TZ,
            )
        with pytest.raises(InvalidSplit):
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=1_000,
                split=VendSplit(energy_excl_vat=1_100, vat=-100),
                reference="V-1",
                timezone=TZ,
            )
        with pytest.raises(InvalidInput):
            post_vend(
                s,
                vendor_id=v.id,
                amount_cents=0,
                split=VendSplit(0, 0),
                reference="V-1",
                timezone=TZ,
            )
        with pytest.raises(InvalidInput):
            post_vend(
                s, vendor_id=v.id, amount_cents=100, split=split_of(100), reference="", timezone=TZ
            )
        with pytest.raises(UnknownVendor):
            post_vend(
                s,
                vendor_id=v.id + 1000,
                amount_cents=100,
                split=split_of(100),
                reference="V-1",
                timezone=TZ,
            )
        assert balance(s, v.id).balance_cents == 100_000


def test_a_rate_read_with_the_credentials_is_used_as_given(db):
    """The vend path passes the rate it read with the terminal's credentials; post_vend then
    does not read it again (a rate changed in between is the same race as before the debit)."""
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=20_000, commission_bp=200)
        given = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=10_000,
            split=split_of(10_000),
            reference="V-1",
            timezone=TZ,
            rate=CommissionRate(basis_points=100),
        )
        read = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=10_000,
            split=split_of(10_000),
            reference="V-2",
            timezone=TZ,
        )
    assert (given.commission_cents, read.commission_cents) == (100, 200)


def test_a_reversal_credits_the_vend_back_once(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=20_000, commission_bp=200)
        vend = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=10_000,
            split=split_of(10_000, debt=500),
            reference="V-1",
            timezone=TZ,
        )
    assert vend.balance_after_cents == 20_000 - 10_000 + 200
    with transaction(db.sessions) as s:
        first = reverse_vend(
            s, journal_entry_id=vend.journal_entry_id, reference="R-1", timezone=TZ
        )
    with transaction(db.sessions) as s:
        again = reverse_vend(
            s, journal_entry_id=vend.journal_entry_id, reference="R-2", timezone=TZ
        )
        original, reversal = (
            entry_legs(s, vend.journal_entry_id),
            entry_legs(s, first.journal_entry_id),
        )
        assert count_entries(s, v.id, "reversal") == 1
        assert check_invariants(s) == []
    assert first.balance_after_cents == 20_000 and not first.replayed
    assert again.journal_entry_id == first.journal_entry_id
    assert again.replayed and again.balance_after_cents == 20_000
    assert reversal == {account: -amount for account, amount in original.items()}


def test_only_vends_are_reversed(db):
    with transaction(db.sessions) as s:
        new_vendor(s, funded_cents=20_000)
    with transaction(db.sessions) as s:
        with pytest.raises(NotReversible):
            reverse_vend(s, journal_entry_id=1, reference="R-1", timezone=TZ)  # the deposit
        with pytest.raises(UnknownEntry):
            reverse_vend(s, journal_entry_id=999, reference="R-1", timezone=TZ)


def test_a_suspended_vendor_still_gets_a_reversal(db):
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=20_000)
        vend = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=5_000,
            split=split_of(5_000),
            reference="V-1",
            timezone=TZ,
        )
        set_vendor_status(s, v.client_id, "suspended", actor="test")
    with transaction(db.sessions) as s:
        assert (
            reverse_vend(
                s, journal_entry_id=vend.journal_entry_id, reference="R-1", timezone=TZ
            ).balance_after_cents
            == 20_000
        )
