"""The demo vendors: three clientIDs with one terminal each and funded floats.

THE SECRETS HERE ARE DEMO SECRETS, published in this file and the README: they are for the demo
utility and the tests only, and must never be given to a real terminal.

Seeding is idempotent: a vendor or terminal that exists is left alone (its secret is not
re-hashed), and the floats are funded by deposits with fixed bank references, which apply once;
seeding twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_accounts import floats, vendors
from vendor_accounts.commission import CommissionRate
from vendor_accounts.models import Terminal, Vendor

__all__ = ["DEMO_VENDORS", "DemoVendor", "seed_demo_vendors"]

DEMO_ACTOR = "demo-seed"


@dataclass(frozen=True)
class DemoVendor:
    client_id: str
    name: str
    kind: str
    terminal: str
    secret: str  # demo only
    float_cents: int
    privileges: tuple[str, ...]
    commission_bp: int = 0
    floor_cents: int = 0

    @property
    def bank_reference(self) -> str:
        return f"DEMO-FUND-{self.client_id}"


DEMO_VENDORS = (
    DemoVendor(
        "6004000000019",
        "Demo Bank",
        "atm_network",
        "ATM-0001",
        "demo-pass-1",
        1_000_000,
        ("vend", "reprint", "reverse"),
        commission_bp=150,
    ),
    DemoVendor(
        "6004000000026",
        "Corner Shop",
        "agent",
        "POS-0001",
        "demo-pass-2",
        5_000,
        ("vend", "reprint"),
    ),
    DemoVendor(
        "6004000000095",
        "Utility Office",
        "utility_office",
        "OFFICE-1",
        "demo-pass-3",
        10_000_000,
        ("vend", "reprint", "reverse", "engineering"),
    ),
)


def seed_demo_vendors(session: Session, verifier_key: bytes | None = None) -> None:
    """Create the demo vendors, terminals and funded floats in the caller's transaction.

    With `verifier_key` the terminals get HMAC verifiers: their secrets are published, so
    argon2 would protect nothing and only cost every worker a check per terminal.
    """
    for demo in DEMO_VENDORS:
        vendor = session.scalar(select(Vendor).where(Vendor.client_id == demo.client_id))
        if vendor is None:
            vendor = vendors.add_vendor(
                session,
                client_id=demo.client_id,
                name=demo.name,
                kind=demo.kind,
                actor=DEMO_ACTOR,
                floor_cents=demo.floor_cents,
                commission=CommissionRate(basis_points=demo.commission_bp),
            )
        has_terminal = session.scalar(
            select(Terminal.id).where(
                Terminal.vendor_id == vendor.id, Terminal.code == demo.terminal
            )
        )
        if has_terminal is None:
            vendors.add_terminal(
                session,
                client_id=demo.client_id,
                terminal_code=demo.terminal,
                actor=DEMO_ACTOR,
                secret=demo.secret,
                privileges=demo.privileges,
                verifier_key=verifier_key,
            )
        floats.deposit(
            session,
            vendor_id=vendor.id,
            amount_cents=demo.float_cents,
            bank_reference=demo.bank_reference,
            actor=DEMO_ACTOR,
        )
