"""The float's side of scratch-card vouchers: stock sold, stock voided, a voucher redeemed.

The money of a voucher moves when its vendor buys the stock (activation), not when a customer
redeems it: the vendor's float pays the face value less its commission, and the face value waits
in the utility's ``voucher_liability`` account until a redemption turns it into revenue, or a
void gives the unredeemed part back. The redeeming vendor (any platform with the ``redeem``
privilege) never pays: its redemption entry has no ``vendor_float`` leg.

* sale of face F with commission c:  vendor_float -(F - c), commission_expense -c,
  voucher_liability +F. Refused like a vend when the float cannot pay F - c or the vendor may
  not sell; the daily cap (a limit on vends) does not apply to stock.
* void of face F with commission c:  the sale's legs negated (for the vouchers voided only).
* redemption of F:  voucher_liability -F and the vend's revenue legs (energy, VAT, fixed charge,
  debt recovered), on the redeeming vendor's entry.

These run in the caller's transaction; the caller (gateway/vouchers) decides which vouchers and
keeps their states, under the same transaction. A redemption's entry must be written exactly when
the voucher's row is marked redeemed: `RedemptionPosting` takes the caller's UPDATE of that row as
a guard and writes the entry behind it, on PostgreSQL in the same statement (as the float debit
is written with its entry), so the ledger's tables are written here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, Update, bindparam, exists, select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.prepared import PerDialect, PreparedStatement
from vendor_accounts import ledger
from vendor_accounts.exceptions import (
    InsufficientFloat,
    InvalidInput,
    UnknownVendor,
    VendorSuspended,
)
from vendor_accounts.floats import (
    VendSplit,
    _lock_float,
    _note_low_float,
    _when,
    balance,
)
from vendor_accounts.locking import execute_write
from vendor_accounts.models import FloatAccount, Vendor

__all__ = ["Redeemed", "RedemptionPosting", "refund_stock", "sell_stock"]

_fa = cast(Table, FloatAccount.__table__)
_vendor = cast(Table, Vendor.__table__)


def _amounts(face_cents: int, commission_cents: int) -> int:
    if type(face_cents) is not int or face_cents <= 0:
        raise InvalidInput(
            "face value must be a positive integer of cents", field="face_cents", value=face_cents
        )
    if type(commission_cents) is not int or not 0 <= commission_cents <= face_cents:
        raise InvalidInput(
            "commission must be between 0 and the face value",
            field="commission_cents",
            value=commission_cents,
        )
    return face_cents - commission_cents


def _refusal(session: Session, vendor_id: int, net: int) -> Exception:
    """Why the stock debit matched nothing (only picks the error; the UPDATE decided)."""
    row = session.execute(
        select(_vendor.c.status, _fa.c.balance_cents, _fa.c.floor_cents)
        .join(_fa, _fa.c.vendor_id == _vendor.c.id)
        .where(_vendor.c.id == vendor_id)
    ).first()
    if row is None:
        return UnknownVendor(vendor_id=vendor_id)
    status, balance_cents, floor_cents = row
    figures = {"balance_cents": balance_cents, "floor_cents": floor_cents}
    if status != "active":
        return VendorSuspended(vendor_id=vendor_id, amount_cents=net, status=status, **figures)
    return InsufficientFloat(vendor_id=vendor_id, amount_cents=net, **figures)


def sell_stock(
    session: Session,
    *,
    vendor_id: int,
    face_cents: int,
    commission_cents: int,
    reference: str,
    at: datetime | None = None,
    operator: str | None = None,
) -> int:
    """Debit the vendor's float for activated stock; the journal entry's id.

    Raises InsufficientFloat or VendorSuspended (DebitRefused) with nothing written."""
    net = _amounts(face_cents, commission_cents)
    at = _when(at)
    legs = ledger.balanced_legs(
        "voucher_sale",
        reference,
        {
            ledger.FLOAT: -net,
            ledger.COMMISSION_EXPENSE: -commission_cents,
            ledger.VOUCHER_LIABILITY: face_cents,
        },
    )
    row = execute_write(
        session,
        update(_fa)
        .where(
            _fa.c.vendor_id == vendor_id,
            _fa.c.balance_cents - net >= _fa.c.floor_cents,
            exists().where(_vendor.c.id == vendor_id, _vendor.c.status == "active"),
        )
        .values(balance_cents=_fa.c.balance_cents - net)
        .returning(_fa.c.balance_cents, _fa.c.low_float_threshold_cents),
    ).first()
    if row is None:
        raise _refusal(session, vendor_id, net)
    after, threshold = row
    entry_id = ledger.write_entry(
        session,
        vendor_id=vendor_id,
        kind="voucher_sale",
        reference=reference,
        at=at,
        postings=legs,
        operator=operator,
    )
    _note_low_float(
        session, vendor_id, entry_id, at, before=after + net, after=after, threshold=threshold
    )
    return entry_id


def refund_stock(
    session: Session,
    *,
    vendor_id: int,
    face_cents: int,
    commission_cents: int,
    reference: str,
    operator: str,
    reason: str,
    at: datetime | None = None,
) -> int:
    """Credit the vendor's float back for voided, unredeemed stock; the journal entry's id."""
    net = _amounts(face_cents, commission_cents)
    at = _when(at)
    legs = ledger.balanced_legs(
        "voucher_void",
        reference,
        {
            ledger.FLOAT: net,
            ledger.COMMISSION_EXPENSE: commission_cents,
            ledger.VOUCHER_LIABILITY: -face_cents,
        },
    )
    _lock_float(session, vendor_id)
    execute_write(
        session,
        update(_fa)
        .where(_fa.c.vendor_id == vendor_id)
        .values(balance_cents=_fa.c.balance_cents + net),
    )
    return ledger.write_entry(
        session,
        vendor_id=vendor_id,
        kind="voucher_void",
        reference=reference,
        at=at,
        postings=legs,
        operator=operator,
        reason=reason,
    )


def _redemption_legs(
    vendor_id: int, face_cents: int, split: VendSplit, reference: str
) -> dict[str, int]:
    if type(vendor_id) is not int:
        raise UnknownVendor(vendor_id=vendor_id)
    split.check(face_cents)
    return ledger.balanced_legs(
        "voucher_use",
        reference,
        {
            ledger.VOUCHER_LIABILITY: -face_cents,
            ledger.ENERGY_REVENUE: split.energy_excl_vat,
            ledger.VAT_PAYABLE: split.vat,
            ledger.FIXED_CHARGE_REVENUE: split.fixed_charge_excl_vat,
            ledger.DEBT_RECOVERED: split.debt_recovered,
        },
    )


@dataclass(frozen=True)
class Redeemed:
    """A redemption's journal entry and the redeeming vendor's available credit (its float,
    untouched, for the receipt)."""

    journal_entry_id: int
    available_cents: int


_available = (
    select(_fa.c.balance_cents - _fa.c.floor_cents)
    .where(_fa.c.vendor_id == bindparam("p_vendor"))
    .scalar_subquery()
)


class RedemptionPosting:
    """A voucher's redemption entry, written only when the caller's guard marks it redeemed.

    `guard` is the caller's UPDATE of the voucher's row with RETURNING (it matches nothing when
    the voucher is no longer redeemable). On PostgreSQL the guard, the entry, its postings and
    the read of the redeeming vendor's available credit are one prepared statement (`prepared`,
    named `name`): the entry is inserted only if the guard returned a row, in the round trip
    that holds the voucher's lock. SQLite (one writer at a time) runs the guard, then the entry.
    The guard's parameters may use p_vendor and p_at for the redeeming vendor and the time.
    """

    def __init__(self, name: str, guard: Update) -> None:
        self.guard = guard
        marked = guard.cte("redeemed")
        entry, postings = ledger.guarded_entry(marked, "voucher_use")
        self.prepared = PreparedStatement(name, select(entry.c.id, _available).add_cte(postings))
        self._post = PerDialect(postgresql=self._in_one, sqlite=self._guard_then_post)

    def post(
        self,
        session: Session,
        guard_params: Mapping[str, object],
        *,
        vendor_id: int,
        face_cents: int,
        split: VendSplit,
        reference: str,
        at: datetime,
    ) -> Redeemed | None:
        """Run the guard and, if it matched, post the entry (legs from balanced_legs, checked
        before anything is sent); None when the guard matched nothing (nothing written)."""
        legs = _redemption_legs(vendor_id, face_cents, split, reference)
        return self._post(session)(session, guard_params, vendor_id, reference, at, legs)

    def _in_one(
        self,
        session: Session,
        guard_params: Mapping[str, object],
        vendor_id: int,
        reference: str,
        at: datetime,
        legs: dict[str, int],
    ) -> Redeemed | None:
        row = self.prepared.execute(
            session,
            {
                **guard_params,
                **ledger.guarded_entry_params(vendor_id, reference, at, utcnow(), legs),
            },
        ).first()
        return None if row is None else Redeemed(int(row[0]), int(row[1]))

    def _guard_then_post(
        self,
        session: Session,
        guard_params: Mapping[str, object],
        vendor_id: int,
        reference: str,
        at: datetime,
        legs: dict[str, int],
    ) -> Redeemed | None:
        if session.execute(self.guard, dict(guard_params)).first() is None:
            return None
        entry_id = ledger.write_entry(
            session,
            vendor_id=vendor_id,
            kind="voucher_use",
            reference=reference,
            at=at,
            postings=legs,
        )
        return Redeemed(entry_id, balance(session, vendor_id).available_cents)
