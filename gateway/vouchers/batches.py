"""Batches: creating the stock (PINs drawn, only their keyed hashes stored, the PINs sealed for
the one export), exporting the print file, and what operators ask of a batch or a voucher.

Nothing here logs or audits a PIN: the audit trail gets the batch, its serial range and counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from gateway.vouchers import pins, printfile, sealing
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.models import Voucher, VoucherBatch
from vendor_accounts.models import Vendor

__all__ = [
    "BatchCreated",
    "BatchState",
    "VoucherState",
    "batch_states",
    "create_batch",
    "export_batch",
    "voucher_state",
]

MAX_BATCH = 1_000_000
_INSERT_CHUNK = 5_000
# PostgreSQL: serial ranges are allocated one batch at a time (SQLite's write lock does it).
_SERIAL_LOCK = 0x766F7563  # "vouc"
_batch = cast(Table, VoucherBatch.__table__)
_voucher = cast(Table, Voucher.__table__)


@dataclass(frozen=True)
class BatchCreated:
    batch_id: int
    first_serial: int
    last_serial: int
    count: int
    denomination_cents: int


def _next_serial(session: Session) -> int:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SERIAL_LOCK})
    last = session.execute(select(func.max(_batch.c.last_serial))).scalar()
    return int(last or 0) + 1


def _voucher_rows(
    batch_id: int, first_serial: int, hashes: list[bytes]
) -> Iterator[list[dict[str, object]]]:
    for start in range(0, len(hashes), _INSERT_CHUNK):
        yield [
            {"batch_id": batch_id, "serial": first_serial + i, "pin_hash": h, "status": "created"}
            for i, h in enumerate(hashes[start : start + _INSERT_CHUNK], start=start)
        ]


def create_batch(
    session: Session,
    *,
    vendor_id: int,
    denomination_cents: int,
    count: int,
    expires_on: date | None,
    actor: str,
    lookup_key: bytes,
    seal_key: bytes,
    today: date | None = None,
    at: datetime | None = None,
) -> BatchCreated:
    """Draw `count` PINs for the vendor's new batch, in the caller's transaction."""
    if type(count) is not int or not 1 <= count <= MAX_BATCH:
        raise VoucherError(f"count must be 1 to {MAX_BATCH}", code="bad-count")
    if type(denomination_cents) is not int or denomination_cents <= 0:
        raise VoucherError("the denomination must be positive", code="bad-denomination")
    if expires_on is not None and today is not None and expires_on < today:
        raise VoucherError("the expiry date is in the past", code="bad-expiry")
    if session.get(Vendor, vendor_id) is None:
        raise VoucherError(f"no vendor with id {vendor_id}", code="unknown-vendor")
    drawn = [pins.new_pin() for _ in range(count)]
    hashes = [pins.pin_hash(lookup_key, p) for p in drawn]
    if len(set(hashes)) != count:  # one in 10^13 for a million: drawn again rather than kept
        return create_batch(
            session,
            vendor_id=vendor_id,
            denomination_cents=denomination_cents,
            count=count,
            expires_on=expires_on,
            actor=actor,
            lookup_key=lookup_key,
            seal_key=seal_key,
            today=today,
            at=at,
        )
    first = _next_serial(session)
    sealed = sealing.seal(seal_key, first, drawn)
    del drawn
    batch_id = int(
        session.execute(
            insert(_batch)
            .values(
                vendor_id=vendor_id,
                denomination_cents=denomination_cents,
                count=count,
                first_serial=first,
                last_serial=first + count - 1,
                expires_on=expires_on,
                created_at=at or utcnow(),
                created_by=actor,
                sealed_pins=sealed,
            )
            .returning(_batch.c.id)
        ).scalar_one()
    )
    for chunk in _voucher_rows(batch_id, first, hashes):
        session.execute(insert(_voucher), chunk)
    created = BatchCreated(batch_id, first, first + count - 1, count, denomination_cents)
    audit.record(
        session,
        actor,
        "voucher.batch_create",
        str(batch_id),
        vendor_id=vendor_id,
        count=count,
        denomination_cents=denomination_cents,
        first_serial=pins.format_serial(created.first_serial),
        last_serial=pins.format_serial(created.last_serial),
        expires_on=expires_on.isoformat() if expires_on else None,
    )
    return created


def export_batch(
    session: Session, batch_id: int, *, recipient: str, actor: str, seal_key: bytes
) -> bytes:
    """The batch's print file encrypted to `recipient`; once per batch. The sealed PINs are
    cleared in the caller's transaction: commit only once the file is safely written."""
    printfile.recipient(recipient)  # refuse a bad key before touching anything
    batch = session.scalar(
        select(VoucherBatch).where(VoucherBatch.id == batch_id).with_for_update()
    )
    if batch is None:
        raise VoucherError(f"no voucher batch {batch_id}", code="unknown-batch")
    if batch.sealed_pins is None:
        raise VoucherError(
            f"batch {batch_id} was exported on {batch.exported_at:%Y-%m-%d %H:%M} UTC; its PINs "
            "no longer exist in the gateway",
            code="already-exported",
        )
    drawn = sealing.open_sealed(seal_key, batch.first_serial, batch.sealed_pins)
    plain = printfile.print_lines(
        batch.first_serial, drawn, batch.denomination_cents, batch.expires_on
    )
    del drawn
    encrypted = printfile.encrypt_print_file(plain, recipient)
    del plain
    batch.sealed_pins = None
    batch.exported_at = utcnow()
    batch.exported_by = actor
    batch.export_recipient = recipient.strip()
    audit.record(
        session,
        actor,
        "voucher.batch_export",
        str(batch_id),
        count=batch.count,
        recipient=recipient.strip(),
    )
    session.flush()
    return encrypted


@dataclass(frozen=True)
class BatchState:
    batch_id: int
    client_id: str
    vendor_name: str
    denomination_cents: int
    count: int
    first_serial: int
    last_serial: int
    expires_on: date | None
    created_at: datetime
    exported_at: datetime | None
    by_status: dict[str, int]


def batch_states(session: Session, batch_id: int | None = None) -> list[BatchState]:
    """Every batch (or one) with its vouchers counted by status."""
    counts: dict[int, dict[str, int]] = {}
    query = select(_voucher.c.batch_id, _voucher.c.status, func.count()).group_by(
        _voucher.c.batch_id, _voucher.c.status
    )
    if batch_id is not None:
        query = query.where(_voucher.c.batch_id == batch_id)
    for b, status, n in session.execute(query):
        counts.setdefault(b, {})[status] = int(n)
    rows = select(VoucherBatch, Vendor.client_id, Vendor.name).join(
        Vendor, Vendor.id == VoucherBatch.vendor_id
    )
    if batch_id is not None:
        rows = rows.where(VoucherBatch.id == batch_id)
    return [
        BatchState(
            b.id,
            client_id,
            name,
            b.denomination_cents,
            b.count,
            b.first_serial,
            b.last_serial,
            b.expires_on,
            b.created_at,
            b.exported_at,
            counts.get(b.id, {}),
        )
        for b, client_id, name in session.execute(rows.order_by(VoucherBatch.id))
    ]


@dataclass(frozen=True)
class VoucherState:
    serial: int
    batch_id: int
    client_id: str
    denomination_cents: int
    status: str
    expires_on: date | None
    expired: bool
    activated_at: datetime | None
    redeemed_at: datetime | None
    redeemed_by: str | None
    receipt_no: str | None
    voided_at: datetime | None
    void_reason: str | None


def voucher_state(session: Session, serial: int, today: date) -> VoucherState:
    """One voucher as an operator sees it (never its PIN: the gateway no longer knows it)."""
    v_ = Voucher
    buyer = Vendor.__table__.alias("buyer")
    redeemer = Vendor.__table__.alias("redeemer")
    # The vend records sit above this package (gateway.vend imports it): read the receipt by SQL.
    tx = text("SELECT receipt_no FROM vend_transaction WHERE id = :t")
    row = session.execute(
        select(v_, VoucherBatch, buyer.c.client_id, redeemer.c.client_id)
        .join(VoucherBatch, VoucherBatch.id == v_.batch_id)
        .join(buyer, buyer.c.id == VoucherBatch.vendor_id)
        .outerjoin(redeemer, redeemer.c.id == v_.redeemed_by_vendor_id)
        .where(v_.serial == serial)
    ).first()
    if row is None:
        raise VoucherError(f"no voucher with serial {pins.format_serial(serial)}", code="unknown")
    v, batch, client_id, redeemed_by = row
    receipt = (
        session.execute(tx, {"t": v.redemption_transaction_id}).scalar()
        if v.redemption_transaction_id
        else None
    )
    expired = batch.expires_on is not None and today > batch.expires_on
    return VoucherState(
        v.serial,
        batch.id,
        client_id,
        batch.denomination_cents,
        v.status,
        batch.expires_on,
        expired and v.status in ("created", "active"),
        v.activated_at,
        v.redeemed_at,
        redeemed_by,
        receipt,
        v.voided_at,
        v.void_reason,
    )
