"""Small factories shared by the vendor-accounts tests (a plain module imported by the tests)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_accounts import (
    CommissionRate,
    VendSplit,
    add_vendor,
    credentials,
    deposit,
    ean13_check_digit,
)
from vendor_accounts.models import JournalEntry, LowFloatEvent, Posting, Vendor

TZ = "Africa/Johannesburg"


def client_id(n: int) -> str:
    """A valid EAN-13 clientID from a small number."""
    body = f"600400{n:06d}"
    return body + str(ean13_check_digit(body))


def new_vendor(
    session: Session,
    n: int = 1,
    *,
    funded_cents: int = 0,
    floor_cents: int = 0,
    commission_bp: int = 0,
    commission_kwh_e4: int = 0,
    threshold_cents: int = 0,
    daily_cap_cents: int | None = None,
    kind: str = "agent",
) -> Vendor:
    vendor = add_vendor(
        session,
        client_id=client_id(n),
        name=f"Vendor {n}",
        kind=kind,
        actor="test",
        floor_cents=floor_cents,
        low_float_threshold_cents=threshold_cents,
        daily_cap_cents=daily_cap_cents,
        commission=CommissionRate(commission_bp, commission_kwh_e4),
    )
    if funded_cents:
        deposit(
            session,
            vendor_id=vendor.id,
            amount_cents=funded_cents,
            bank_reference=f"FUND-{n}",
            actor="test",
        )
    return vendor


def split_of(amount_cents: int, *, debt: int = 0, fixed: int = 0) -> VendSplit:
    """A plausible split: 15 % VAT inside what is left after debt and the fixed charge."""
    energy_incl = amount_cents - debt - fixed
    vat = energy_incl * 15 // 115
    return VendSplit(
        energy_excl_vat=energy_incl - vat, vat=vat, fixed_charge_excl_vat=fixed, debt_recovered=debt
    )


def entry_legs(session: Session, entry_id: int) -> dict[str, int]:
    return dict(
        session.execute(
            select(Posting.account, Posting.amount_cents).where(
                Posting.journal_entry_id == entry_id
            )
        ).all()
    )


def count_entries(session: Session, vendor_id: int, kind: str | None = None) -> int:
    query = select(JournalEntry.id).where(JournalEntry.vendor_id == vendor_id)
    if kind is not None:
        query = query.where(JournalEntry.kind == kind)
    return len(session.scalars(query).all())


def low_float_events(session: Session, vendor_id: int) -> list[LowFloatEvent]:
    return list(
        session.scalars(
            select(LowFloatEvent)
            .where(LowFloatEvent.vendor_id == vendor_id)
            .order_by(LowFloatEvent.id)
        )
    )


def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with tiny parameters: production's cost (about 0.2 s a hash) is tested once,
    in test_terminal_auth, and would otherwise dominate the suite's run time."""
    monkeypatch.setattr(
        credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
