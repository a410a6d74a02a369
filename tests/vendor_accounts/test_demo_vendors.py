"""The demo vendors: exactly the documented three, funded once, however often the seed runs."""

from __future__ import annotations

from sqlalchemy import select

from core.db import transaction
from tests.support.vendor_accounts import cheap_argon2
from vendor_accounts import (
    VerificationCache,
    authenticate_terminal,
    balance,
    check_invariants,
    get_vendor,
    list_vendors,
)
from vendor_accounts.demo import seed_demo_vendors
from vendor_accounts.models import FloatAccount, JournalEntry, Terminal

EXPECTED = {
    # clientID: (name, kind, terminal, secret, float cents, privileges)
    "6004000000019": (
        "Demo Bank",
        "atm_network",
        "ATM-0001",
        "demo-pass-1",
        1_000_000,
        {"vend", "reprint", "reverse"},
    ),
    "6004000000026": (
        "Corner Shop",
        "agent",
        "POS-0001",
        "demo-pass-2",
        5_000,
        {"vend", "reprint"},
    ),
    "6004000000095": (
        "Utility Office",
        "utility_office",
        "OFFICE-1",
        "demo-pass-3",
        10_000_000,
        {"vend", "reprint", "reverse", "engineering"},
    ),
}


def _check_demo(db) -> None:
    with transaction(db.sessions) as s:
        summaries = {v.client_id: v for v in list_vendors(s)}
        assert set(summaries) == set(EXPECTED)
        for client, (name, kind, term, secret, cents, privileges) in EXPECTED.items():
            v = summaries[client]
            assert (v.name, v.kind, v.status, v.balance_cents, v.floor_cents, v.terminals) == (
                name,
                kind,
                "active",
                cents,
                0,
                1,
            )
            principal = authenticate_terminal(
                s,
                client,
                term,
                secret,
                "127.0.0.1",
                verification_cache=VerificationCache(),
                verifier_key=db.runtime.verifier_key,
            )
            assert principal.privileges == privileges
        bank = get_vendor(s, "6004000000019")
        assert s.get(FloatAccount, bank.id).commission_bp == 150
        assert balance(s, bank.id).available_cents == 1_000_000
        assert len(s.scalars(select(JournalEntry.id)).all()) == 3
        assert check_invariants(s) == []


def test_seeding_twice_creates_and_funds_everything_once(db, monkeypatch):
    cheap_argon2(monkeypatch)
    for _ in range(2):
        with transaction(db.sessions) as s:
            seed_demo_vendors(s)
    _check_demo(db)
    with transaction(db.sessions) as s:
        hashes = s.scalars(select(Terminal.secret_hash)).all()
    with transaction(db.sessions) as s:
        seed_demo_vendors(s)
        assert s.scalars(select(Terminal.secret_hash)).all() == hashes  # not re-hashed


def test_the_demo_utility_includes_the_demo_vendors(demo_db):
    _check_demo(demo_db)
