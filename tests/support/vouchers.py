"""Shared pieces of the voucher tests: a scratch-card vendor, a redeeming platform, a batch made
and exported the way an operator does, the print file decrypted with an age identity made at
test time, and the checks that run after every step."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

import pyrage
from pyrage import x25519
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import transaction
from core.keys import derive_voucher_key, derive_voucher_seal_key
from gateway.vouchers import batches
from gateway.vouchers.invariants import check_vouchers
from tests.conftest import TestDatabase
from tests.support.vendor_accounts import client_id, new_vendor
from vendor_accounts.ledger import check_invariants, voucher_liability_cents
from vendor_accounts.vendors import add_terminal

SCRATCH_N, PLATFORM_N = 70, 71
SCRATCH_COMMISSION_BP = 500  # the scratch-card vendor earns 5 % on stock it buys
PLATFORM_TERMINAL = "USSD-0001"
PLATFORM_SECRET = "ussd-platform-secret-1"


@dataclass(frozen=True)
class Parties:
    scratch_vendor_id: int
    scratch_client_id: str
    platform_vendor_id: int
    platform_client_id: str


def seed_parties(db: TestDatabase, *, funded_cents: int = 1_000_000) -> Parties:
    """A scratch-card vendor with a funded float and a USSD platform with the redeem privilege
    (and an empty float: redemptions never touch it)."""
    with transaction(db.sessions) as session:
        scratch = new_vendor(
            session,
            SCRATCH_N,
            funded_cents=funded_cents,
            commission_bp=SCRATCH_COMMISSION_BP,
            kind="scratch_card",
        )
        platform = new_vendor(session, PLATFORM_N, kind="mobile")
        add_terminal(
            session,
            client_id=client_id(PLATFORM_N),
            terminal_code=PLATFORM_TERMINAL,
            actor="test",
            secret=PLATFORM_SECRET,
            privileges=("redeem",),
            verifier_key=db.runtime.verifier_key,
        )
        return Parties(scratch.id, scratch.client_id, platform.id, platform.client_id)


def create_batch(
    db: TestDatabase,
    vendor_id: int,
    count: int,
    cents: int,
    expires_on: date | None = None,
    at: datetime | None = None,
) -> batches.BatchCreated:
    master = db.settings.master_key()
    with transaction(db.sessions) as session:
        return batches.create_batch(
            session,
            vendor_id=vendor_id,
            denomination_cents=cents,
            count=count,
            expires_on=expires_on,
            actor="test",
            lookup_key=derive_voucher_key(master),
            seal_key=derive_voucher_seal_key(master),
            at=at,
        )


def export_and_read(db: TestDatabase, batch_id: int) -> list[dict[str, str]]:
    """Export the batch to a printer identity made now, and read the print file back."""
    printer = x25519.Identity.generate()
    with transaction(db.sessions) as session:
        encrypted = batches.export_batch(
            session,
            batch_id,
            recipient=str(printer.to_public()),
            actor="test",
            seal_key=derive_voucher_seal_key(db.settings.master_key()),
        )
    return read_print_file(encrypted, printer)


def read_print_file(encrypted: bytes, printer: x25519.Identity) -> list[dict[str, str]]:
    plain = pyrage.decrypt(encrypted, [printer]).decode("ascii")
    return list(csv.DictReader(io.StringIO(plain)))


def books_hold(session: Session) -> None:
    """The ledger's invariants and the vouchers' own, after every step."""
    assert check_invariants(session) == []
    assert check_vouchers(session) == []


def liability(db: TestDatabase) -> int:
    with db.sessions() as session:
        return voucher_liability_cents(session)


def database_text(db: TestDatabase) -> str:
    """Every row of every table as text: what a stolen database would show."""
    out = []
    with db.engine.connect() as conn:
        if db.backend == "sqlite":
            raw = conn.connection.driver_connection
            assert raw is not None
            out.extend(raw.iterdump())  # type: ignore[attr-defined]
        else:
            tables = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
            for table in list(tables):
                for row in conn.execute(text(f'SELECT t::text FROM "{table}" t')).scalars():
                    out.append(row)
    return "\n".join(out)


def pin_traces(haystack: str, pins: list[str]) -> list[str]:
    """The PINs (or their 19-digit bodies) found in `haystack`."""
    return [p for p in pins if p in haystack or p[:-1] in haystack]
