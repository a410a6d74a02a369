"""Redeeming a voucher: the steps the VoucherVend plan of the vend pipeline runs
(gateway/vend/pipeline.py), in the request's one transaction.

`lock` first takes the terminal's guessing-limit lock shared (gateway/vouchers/attempts.py),
then refuses a terminal that is locked out and finds the voucher by its PIN's keyed hash (one
statement on PostgreSQL: the count and the lookup read one snapshot, taken after the lock). A PIN
that redeems nothing is handed back unanswered (`attempts.Unjudged`) for the screen to judge and
count. It locks the voucher's row until the transaction ends:
two platforms sending one PIN at the same instant, to one node or two, queue on that lock and
the second finds it redeemed (VoucherUsedEx). The vend path takes the meter's lock first (the
claim) and the voucher's after it, always in that order, so redemptions never deadlock. `settle`
marks it redeemed by a conditional UPDATE on the status it locked (a second guard, with the
unique `redemption_transaction_id`) and posts the redemption's entry: the liability pays the
revenue; the redeeming vendor's float is not touched, only read for the receipt.

The ledger's side is `vendor_accounts.voucher_float.RedemptionPosting`: it takes the voucher's
UPDATE here as its guard and writes the entry (journal entry, postings) behind it, on PostgreSQL
in the same statement (data-modifying CTEs, as the float debit is), so the entry exists exactly
when the voucher was marked redeemed, and this package never writes the ledger's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from core.prepared import PerDialect, PreparedStatement
from gateway import errors
from gateway.vouchers import attempts
from gateway.vouchers.models import Voucher, VoucherBatch
from gateway.vouchers.pins import format_serial
from gateway.vouchers.verdicts import refusal, unknown
from vendor_accounts.floats import VendSplit
from vendor_accounts.voucher_float import Redeemed, RedemptionPosting

__all__ = ["Redeemable", "lock", "settle"]

_voucher = cast(Table, Voucher.__table__)
_batch = cast(Table, VoucherBatch.__table__)

_found = select(
    _voucher.c.id,
    _voucher.c.serial,
    _voucher.c.status,
    _voucher.c.redeemed_at,
    _batch.c.denomination_cents,
    _batch.c.expires_on,
).join(_batch, _batch.c.id == _voucher.c.batch_id)
_by_pin = _voucher.c.pin_hash == bindparam("p_hash")
# PostgreSQL: the voucher, locked, with the terminal's recent invalid attempts beside it.
_LOCK = PreparedStatement(
    "vendgw_voucher_lock",
    _found.add_columns(attempts.RECENT_ARRAY).where(_by_pin).with_for_update(of=_voucher),
)
_LOCK_SQLITE = _found.where(_by_pin)  # (SQLite's write lock covers the row)
# Marks the locked voucher redeemed: the guard of the redemption's entry (it matches nothing
# unless the voucher is still active, a second guard behind the row lock and the unique
# redemption_transaction_id).
_MARK_REDEEMED = (
    update(_voucher)
    .where(_voucher.c.id == bindparam("p_voucher"), _voucher.c.status == "active")
    .values(
        status="redeemed",
        redeemed_at=bindparam("p_at", type_=UTCDateTime),
        redeemed_by_vendor_id=bindparam("p_vendor"),
        redemption_transaction_id=bindparam("p_tx"),
    )
    .returning(_voucher.c.id)
)
_REDEMPTION = RedemptionPosting("vendgw_voucher_redeem_and_post", _MARK_REDEEMED)


@dataclass(frozen=True)
class Redeemable:
    voucher_id: int
    serial: int
    face_cents: int

    @property
    def amount_cents(self) -> int:
        """The tender it pays (the vend pipeline's Funding asks this)."""
        return self.face_cents


def _lock_in_one(session: Session, params: dict[str, Any]) -> tuple[Any, list[datetime]]:
    row = _LOCK.execute(session, params).first()
    if row is None:
        return None, []
    return row[:6], list(row[6] or ())


def _check_then_lock(session: Session, params: dict[str, Any]) -> tuple[Any, list[datetime]]:
    ats = list(session.execute(attempts.RECENT, params).scalars())
    return session.execute(_LOCK_SQLITE, params).first(), ats


_FIND = PerDialect(postgresql=_lock_in_one, sqlite=_check_then_lock)


def lock(
    session: Session,
    pin_hash: bytes,
    *,
    client_id: str,
    terminal_id: str,
    now: datetime,
    today: date,
    tz: ZoneInfo,
) -> Redeemable:
    """The voucher of this PIN, locked, if it redeems today. Raises RequestAuthorisation while
    the terminal is locked out, VoucherUsed, or attempts.Unjudged for a PIN that redeems
    nothing (not answered here: the screen judges and counts it)."""
    attempts.hold_shared(session, client_id, terminal_id)
    params = {"p_hash": pin_hash, **attempts.recent_params(client_id, terminal_id, now)}
    row, recent = _FIND(session)(session, params)
    attempts.refuse_if_locked_out(recent, terminal_id, now)
    if row is None:
        raise attempts.Unjudged(unknown())
    voucher_id, serial, status, redeemed_at, face, expires_on = row
    refused = refusal(serial, status, redeemed_at, expires_on, today, tz)
    if isinstance(refused, errors.VoucherInvalid):
        raise attempts.Unjudged(refused)
    if refused is not None:
        raise refused
    return Redeemable(int(voucher_id), int(serial), int(face))


def _used(voucher: Redeemable) -> errors.VoucherUsed:
    # Unreachable under the row lock; kept as the guard it is.
    return errors.VoucherUsed(f"voucher {format_serial(voucher.serial)} was redeemed already")


def settle(
    session: Session,
    voucher: Redeemable,
    *,
    vendor_id: int,
    transaction_id: int,
    receipt_no: str,
    split: VendSplit,
    at: datetime,
) -> Redeemed:
    """Mark the locked voucher redeemed by this transaction and post the redemption's entry
    (on the redeeming vendor, no float leg); the entry and the vendor's available credit."""
    posted = _REDEMPTION.post(
        session,
        {
            "p_voucher": voucher.voucher_id,
            "p_at": at,
            "p_vendor": vendor_id,
            "p_tx": transaction_id,
        },
        vendor_id=vendor_id,
        face_cents=voucher.face_cents,
        split=split,
        reference=f"voucher:{receipt_no}",
        at=at,
    )
    if posted is None:
        raise _used(voucher)
    return posted
