"""Redeeming a voucher: the steps the VoucherVend plan of the vend pipeline runs
(gateway/vend/pipeline.py), in the request's one transaction.

`lock` finds the voucher by its PIN's keyed hash and locks its row until the transaction ends:
two platforms sending one PIN at the same instant, to one node or two, queue on that lock and
the second finds it redeemed (VoucherUsedEx). The vend path takes the meter's lock first (the
claim) and the voucher's after it, always in that order, so redemptions never deadlock. `settle`
marks it redeemed by a conditional UPDATE on the status it locked (a second guard, with the
unique `redemption_transaction_id`) and posts the redemption's entry: the liability pays the
revenue; the redeeming vendor's float is not touched, only read for the receipt.

On PostgreSQL `settle` is one statement (data-modifying CTEs, as the float debit is): the
voucher's UPDATE, the journal entry and its postings (inserted only if the UPDATE matched) and
the redeeming vendor's available credit. It writes the ledger's tables directly, with legs from
`vendor_accounts.ledger.balanced_legs` and under the ledger's commit-time balance trigger, which
refuses an unbalanced entry whoever wrote it. SQLite runs the UPDATE, then
`vendor_accounts.voucher_float.post_redemption`, then reads the float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core.db import UTCDateTime, utcnow
from core.prepared import PerDialect, PreparedStatement
from gateway import errors
from gateway.vouchers.models import Voucher, VoucherBatch
from gateway.vouchers.pins import format_serial
from vendor_accounts import ledger
from vendor_accounts.floats import VendSplit, balance
from vendor_accounts.models import FloatAccount, JournalEntry, Posting
from vendor_accounts.voucher_float import post_redemption

__all__ = ["Redeemable", "Settled", "lock", "refusal", "settle"]

_voucher = cast(Table, Voucher.__table__)
_batch = cast(Table, VoucherBatch.__table__)
_entry = cast(Table, JournalEntry.__table__)
_posting = cast(Table, Posting.__table__)
_float = cast(Table, FloatAccount.__table__)

_LOCK = PreparedStatement(
    "vendgw_voucher_lock",
    select(
        _voucher.c.id,
        _voucher.c.serial,
        _voucher.c.status,
        _voucher.c.redeemed_at,
        _batch.c.denomination_cents,
        _batch.c.expires_on,
    )
    .join(_batch, _batch.c.id == _voucher.c.batch_id)
    .where(_voucher.c.pin_hash == bindparam("p_hash"))
    .with_for_update(of=_voucher),
)
_REDEEM = PreparedStatement(
    "vendgw_voucher_redeem",
    update(_voucher)
    .where(_voucher.c.id == bindparam("p_voucher"), _voucher.c.status == "active")
    .values(
        status="redeemed",
        redeemed_at=bindparam("p_at"),
        redeemed_by_vendor_id=bindparam("p_vendor"),
        redemption_transaction_id=bindparam("p_tx"),
    ),
)


_redeemed = (
    update(_voucher)
    .where(_voucher.c.id == bindparam("p_voucher"), _voucher.c.status == "active")
    .values(
        status="redeemed",
        redeemed_at=bindparam("p_at", type_=UTCDateTime),
        redeemed_by_vendor_id=bindparam("p_vendor"),
        redemption_transaction_id=bindparam("p_tx"),
    )
    .returning(_voucher.c.id)
    .cte("redeemed")
)
_new_entry = (
    insert(_entry)
    .from_select(
        ["vendor_id", "kind", "reference", "at", "created_at"],
        select(
            bindparam("p_vendor"),
            literal("voucher_use"),
            bindparam("p_ref", type_=String),
            bindparam("p_at", type_=UTCDateTime),
            bindparam("p_now", type_=UTCDateTime),
        ).select_from(_redeemed),
    )
    .returning(_entry.c.id)
    .cte("entry")
)
_leg = (
    func.unnest(
        bindparam("p_accounts", type_=ARRAY(String)),
        bindparam("p_amounts", type_=ARRAY(BigInteger)),
    )
    .table_valued("account", "amount")
    .render_derived(name="leg")
)
_new_legs = (
    insert(_posting)
    .from_select(
        ["journal_entry_id", "account", "amount_cents"],
        select(_new_entry.c.id, _leg.c.account, _leg.c.amount).select_from(
            _new_entry.join(_leg, true())
        ),
    )
    .cte("legs")
)
_available = (
    select(_float.c.balance_cents - _float.c.floor_cents)
    .where(_float.c.vendor_id == bindparam("p_vendor"))
    .scalar_subquery()
)
_REDEEM_AND_POST = PreparedStatement(
    "vendgw_voucher_redeem_and_post",
    select(_new_entry.c.id, _available).add_cte(_new_legs),
)


@dataclass(frozen=True)
class Settled:
    """A redemption's journal entry and the redeeming vendor's available credit (its float,
    untouched, for the receipt)."""

    journal_entry_id: int
    available_cents: int


@dataclass(frozen=True)
class Redeemable:
    voucher_id: int
    serial: int
    face_cents: int

    @property
    def amount_cents(self) -> int:
        """The tender it pays (the vend pipeline's Funding asks this)."""
        return self.face_cents


def refusal(
    serial: int,
    status: str,
    redeemed_at: datetime | None,
    expires_on: date | None,
    today: date,
    tz: ZoneInfo,
) -> errors.GatewayError | None:
    """Why a voucher found by its PIN does not redeem now, or None (pure)."""
    if status == "redeemed":
        assert redeemed_at is not None
        when = redeemed_at.astimezone(tz)
        return errors.VoucherUsed(
            f"the voucher was already redeemed on {when:%Y-%m-%d} at {when:%H:%M}",
            redeemed_at=when.isoformat(timespec="seconds"),
        )
    if status == "voided":
        return errors.VoucherInvalid("the voucher was voided", code="voucher-voided", serial=serial)
    if status != "active":
        return errors.VoucherInvalid(
            "the voucher is not activated", code="voucher-not-activated", serial=serial
        )
    if expires_on is not None and today > expires_on:
        return errors.VoucherInvalid(
            f"the voucher expired on {expires_on.isoformat()}",
            code="voucher-expired",
            serial=serial,
        )
    return None


def unknown() -> errors.VoucherInvalid:
    return errors.VoucherInvalid("the voucher PIN is not valid", code="voucher-unknown")


def lock(session: Session, pin_hash: bytes, today: date, tz: ZoneInfo) -> Redeemable:
    """The voucher of this PIN, locked, if it redeems today; else VoucherInvalid/VoucherUsed."""
    row = _LOCK.execute(session, {"p_hash": pin_hash}).first()
    if row is None:
        raise unknown()
    voucher_id, serial, status, redeemed_at, face, expires_on = row
    refused = refusal(serial, status, redeemed_at, expires_on, today, tz)
    if refused is not None:
        raise refused
    return Redeemable(int(voucher_id), int(serial), int(face))


def _used(voucher: Redeemable) -> errors.VoucherUsed:
    # Unreachable under the row lock; kept as the guard it is.
    return errors.VoucherUsed(f"voucher {format_serial(voucher.serial)} was redeemed already")


def _legs(face_cents: int, split: VendSplit) -> dict[str, int]:
    return {
        ledger.VOUCHER_LIABILITY: -face_cents,
        ledger.ENERGY_REVENUE: split.energy_excl_vat,
        ledger.VAT_PAYABLE: split.vat,
        ledger.FIXED_CHARGE_REVENUE: split.fixed_charge_excl_vat,
        ledger.DEBT_RECOVERED: split.debt_recovered,
    }


def _settle_in_one(
    session: Session,
    voucher: Redeemable,
    vendor_id: int,
    transaction_id: int,
    reference: str,
    split: VendSplit,
    at: datetime,
) -> Settled:
    split.check(voucher.face_cents)
    legs = ledger.balanced_legs("voucher_use", reference, _legs(voucher.face_cents, split))
    row = _REDEEM_AND_POST.execute(
        session,
        {
            "p_voucher": voucher.voucher_id,
            "p_at": at,
            "p_vendor": vendor_id,
            "p_tx": transaction_id,
            "p_ref": reference,
            "p_now": utcnow(),
            "p_accounts": list(legs),
            "p_amounts": list(legs.values()),
        },
    ).first()
    if row is None:
        raise _used(voucher)
    return Settled(int(row[0]), int(row[1]))


def _settle_then_post(
    session: Session,
    voucher: Redeemable,
    vendor_id: int,
    transaction_id: int,
    reference: str,
    split: VendSplit,
    at: datetime,
) -> Settled:
    changed = _REDEEM.execute(
        session,
        {
            "p_voucher": voucher.voucher_id,
            "p_at": at,
            "p_vendor": vendor_id,
            "p_tx": transaction_id,
        },
    ).rowcount
    if changed != 1:
        raise _used(voucher)
    entry_id = post_redemption(
        session,
        vendor_id=vendor_id,
        face_cents=voucher.face_cents,
        split=split,
        reference=reference,
        at=at,
    )
    return Settled(entry_id, balance(session, vendor_id).available_cents)


# The redemption's writes: one statement on PostgreSQL, three and a read on SQLite.
_SETTLE = PerDialect(postgresql=_settle_in_one, sqlite=_settle_then_post)


def settle(
    session: Session,
    voucher: Redeemable,
    *,
    vendor_id: int,
    transaction_id: int,
    receipt_no: str,
    split: VendSplit,
    at: datetime,
) -> Settled:
    """Mark the locked voucher redeemed by this transaction and post the redemption's entry
    (on the redeeming vendor, no float leg); the entry and the vendor's available credit."""
    reference = f"voucher:{receipt_no}"
    return _SETTLE(session)(session, voucher, vendor_id, transaction_id, reference, split, at)
