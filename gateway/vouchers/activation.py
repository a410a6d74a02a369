"""Selling stock to its vendor (activation) and stopping it (void).

Activation is when the money moves: the buying vendor's float pays the face value less its
commission (the percentage part of its rate: a voucher's kWh are not known until it is
redeemed), and the face value goes to the voucher liability (vendor_accounts/voucher_float.py).
Only active vouchers redeem.

Void policy (lost or stolen stock): the vouchers of the range that were never redeemed stop for
ever; those that had been activated are credited back to the buying vendor, each at exactly what
it cost (face value less the commission recorded on it at activation), expired ones included,
since their value is still in the liability. Redeemed vouchers in the range are left as they are
and counted as such.

Both run in the caller's transaction and count first, then change only rows still in the state
counted: a redemption or another operator's command that got in between makes the counts
disagree, and the whole command is refused, changing nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.models import Voucher, VoucherBatch
from gateway.vouchers.pins import format_serial
from vendor_accounts.commission import CommissionRate, commission_cents
from vendor_accounts.models import FloatAccount
from vendor_accounts.voucher_float import refund_stock, sell_stock

__all__ = ["Activated", "Voided", "activate", "void"]

_voucher = cast(Table, Voucher.__table__)


@dataclass(frozen=True)
class _Batch:
    id: int
    vendor_id: int
    denomination_cents: int
    expires_on: date | None


@dataclass(frozen=True)
class Activated:
    count: int
    face_cents: int
    commission_cents: int
    journal_entry_id: int

    @property
    def debited_cents(self) -> int:
        return self.face_cents - self.commission_cents


@dataclass(frozen=True)
class Voided:
    voided: int
    credited_back_cents: int  # to the buying vendors' floats
    face_cents: int  # taken off the liability
    already_redeemed: int
    journal_entry_ids: tuple[int, ...]


def _batches(session: Session, low: int, high: int) -> list[_Batch]:
    rows = session.execute(
        select(
            VoucherBatch.id,
            VoucherBatch.vendor_id,
            VoucherBatch.denomination_cents,
            VoucherBatch.expires_on,
        )
        .where(VoucherBatch.first_serial <= high, VoucherBatch.last_serial >= low)
        .order_by(VoucherBatch.first_serial)
    ).all()
    if not rows:
        raise VoucherError(
            f"no vouchers in {format_serial(low)}-{format_serial(high)}", code="no-vouchers"
        )
    return [_Batch(*row) for row in rows]


def batch_range(session: Session, batch_id: int) -> tuple[int, int]:
    row = session.execute(
        select(VoucherBatch.first_serial, VoucherBatch.last_serial).where(
            VoucherBatch.id == batch_id
        )
    ).first()
    if row is None:
        raise VoucherError(f"no voucher batch {batch_id}", code="unknown-batch")
    return int(row[0]), int(row[1])


def _in(batch: _Batch, low: int, high: int, status: str) -> list[ColumnElement[bool]]:
    return [
        _voucher.c.batch_id == batch.id,
        _voucher.c.serial.between(low, high),
        _voucher.c.status == status,
    ]


def _count(session: Session, batch: _Batch, low: int, high: int, status: str) -> tuple[int, int]:
    n, commission = session.execute(
        select(func.count(), func.coalesce(func.sum(_voucher.c.commission_cents), 0)).where(
            and_(*_in(batch, low, high, status))
        )
    ).one()
    return int(n), int(commission)


def _conflict() -> VoucherError:
    return VoucherError(
        "vouchers of the range changed while the command ran; nothing was done: run it again",
        code="conflict",
    )


def activate(
    session: Session,
    low: int,
    high: int,
    *,
    actor: str,
    today: date,
    at: datetime | None = None,
) -> Activated:
    """Activate the created vouchers of serials `low`..`high` (all of one vendor)."""
    at = at or utcnow()
    batches = _batches(session, low, high)
    vendors = {b.vendor_id for b in batches}
    if len(vendors) != 1:
        raise VoucherError(
            "the range spans batches of several vendors: activate each vendor's stock alone",
            code="several-vendors",
        )
    (vendor_id,) = vendors
    expired = [b.id for b in batches if b.expires_on is not None and today > b.expires_on]
    if expired:
        raise VoucherError(f"batch {expired[0]} has expired", code="expired")
    bp = session.execute(
        select(FloatAccount.commission_bp).where(FloatAccount.vendor_id == vendor_id)
    ).scalar_one()
    plan: list[tuple[_Batch, int, int]] = []  # (batch, vouchers, commission on each)
    for b in batches:
        n, _ = _count(session, b, low, high, "created")
        if n:
            each = commission_cents(CommissionRate(bp, 0), amount_cents=b.denomination_cents)
            plan.append((b, n, each))
    if not plan:
        raise VoucherError(
            f"nothing to activate in {format_serial(low)}-{format_serial(high)}",
            code="nothing-to-activate",
        )
    face = sum(b.denomination_cents * n for b, n, _ in plan)
    commission = sum(each * n for _, n, each in plan)
    entry_id = sell_stock(
        session,
        vendor_id=vendor_id,
        face_cents=face,
        commission_cents=commission,
        reference=f"vouchers {format_serial(low)}-{format_serial(high)}",
        at=at,
        operator=actor,
    )
    for b, n, each in plan:
        changed = session.execute(
            update(_voucher)
            .where(*_in(b, low, high, "created"))
            .values(
                status="active",
                activated_at=at,
                commission_cents=each,
                activation_entry_id=entry_id,
            )
        ).rowcount  # type: ignore[attr-defined]
        if changed != n:
            raise _conflict()
    count = sum(n for _, n, _ in plan)
    audit.record(
        session,
        actor,
        "voucher.activate",
        f"{format_serial(low)}-{format_serial(high)}",
        vendor_id=vendor_id,
        count=count,
        face_cents=face,
        commission_cents=commission,
        journal_entry_id=entry_id,
    )
    return Activated(count, face, commission, entry_id)


def void(
    session: Session,
    low: int,
    high: int,
    *,
    reason: str,
    actor: str,
    at: datetime | None = None,
) -> Voided:
    """Void the unredeemed vouchers of serials `low`..`high`, crediting back activated ones."""
    if not reason.strip():
        raise VoucherError("a void needs a reason", code="no-reason")
    at = at or utcnow()
    batches = _batches(session, low, high)
    active: list[tuple[_Batch, int, int]] = []
    created: list[tuple[_Batch, int]] = []
    redeemed = 0
    by_vendor: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # face, commission
    for b in batches:
        n_active, commission = _count(session, b, low, high, "active")
        n_created, _ = _count(session, b, low, high, "created")
        redeemed += _count(session, b, low, high, "redeemed")[0]
        if n_active:
            active.append((b, n_active, commission))
            by_vendor[b.vendor_id][0] += b.denomination_cents * n_active
            by_vendor[b.vendor_id][1] += commission
        if n_created:
            created.append((b, n_created))
    if not active and not created:
        raise VoucherError(
            f"nothing to void in {format_serial(low)}-{format_serial(high)}",
            code="nothing-to-void",
        )
    entries: dict[int, int] = {}
    for vendor_id, (face, commission) in sorted(by_vendor.items()):
        entries[vendor_id] = refund_stock(
            session,
            vendor_id=vendor_id,
            face_cents=face,
            commission_cents=commission,
            reference=f"void {format_serial(low)}-{format_serial(high)}",
            operator=actor,
            reason=reason.strip(),
            at=at,
        )
    for b, n, _ in active:
        changed = session.execute(
            update(_voucher)
            .where(*_in(b, low, high, "active"))
            .values(
                status="voided",
                voided_at=at,
                void_reason=reason.strip(),
                void_entry_id=entries[b.vendor_id],
            )
        ).rowcount  # type: ignore[attr-defined]
        if changed != n:
            raise _conflict()
    for b, n in created:
        changed = session.execute(
            update(_voucher)
            .where(*_in(b, low, high, "created"))
            .values(status="voided", voided_at=at, void_reason=reason.strip())
        ).rowcount  # type: ignore[attr-defined]
        if changed != n:
            raise _conflict()
    face_total = sum(f for f, _ in by_vendor.values())
    credited = sum(f - c for f, c in by_vendor.values())
    count = sum(n for _, n, _ in active) + sum(n for _, n in created)
    audit.record(
        session,
        actor,
        "voucher.void",
        f"{format_serial(low)}-{format_serial(high)}",
        reason=reason.strip(),
        count=count,
        face_cents=face_total,
        credited_back_cents=credited,
        already_redeemed=redeemed,
    )
    return Voided(count, credited, face_total, redeemed, tuple(entries.values()))
