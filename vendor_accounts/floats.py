"""Moving a vendor's prepaid float: the vend debit, its reversal, deposits and adjustments.

The debit (:func:`post_vend`) is what the vend path calls, inside its own transaction, after the
tokens are generated and just before it commits. It is built so that two terminals of one vendor
selling at the same moment can neither overdraw the float nor lose a cent:

* One conditional statement does the check and the change together::

      UPDATE float_account SET balance_cents = balance_cents - :net, ...
       WHERE vendor_id = :v AND balance_cents - :amount >= floor_cents
         AND EXISTS (vendor :v is active) AND (no daily cap OR today's total + :amount <= cap)
      RETURNING balance_cents, ...

  There is no read-then-write window: PostgreSQL re-checks the WHERE clause against the latest
  row after waiting for a concurrent debit, and SQLite runs one writer at a time. Zero rows
  updated means refused: the reason is looked up afterwards (that read only chooses the error
  class) and a typed :class:`~vendor_accounts.exceptions.DebitRefused` is raised, with nothing
  written. The ``balance_not_below_floor`` CHECK constraint is the last line of defence.
* The row lock lasts from that UPDATE to the caller's commit, so as little as possible happens
  in between. On PostgreSQL the UPDATE, the journal entry and its postings are ONE statement
  (data-modifying CTEs: the inserts happen only if the UPDATE matched), so the lock is held for
  one round trip and the commit. On SQLite (one writer at a time anyway) the same UPDATE is
  followed by two INSERTs. Everything that can be done before taking the lock (validation, the
  commission rate, the local day, building the legs) is done before, and the statements are
  built once at import.
* A vend needs its whole tender available (``amount <= balance - floor``); the float then moves by
  the tender less the vendor's commission (see commission.py), in one journal entry.

Reversals, deposits and adjustments first lock the float row with a no-op UPDATE, then look for
an earlier identical request (idempotency), then move the balance: a replayed deposit or a second
reversal of the same vend returns the original entry and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    Date,
    Table,
    bindparam,
    case,
    exists,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.localtime import local_day, utility_zone
from core.prepared import PerDialect, PreparedStatement
from vendor_accounts import ledger
from vendor_accounts.commission import CommissionRate, commission_cents
from vendor_accounts.exceptions import (
    DailyCapExceeded,
    DebitRefused,
    DepositConflict,
    InsufficientFloat,
    InvalidInput,
    InvalidSplit,
    NotReversible,
    UnknownEntry,
    UnknownVendor,
    VendorSuspended,
)
from vendor_accounts.locking import execute_write
from vendor_accounts.models import FloatAccount, JournalEntry, LowFloatEvent, Vendor

__all__ = [
    "FloatBalance",
    "FloatMovement",
    "VendPosting",
    "VendSplit",
    "adjust",
    "balance",
    "debit_refusal",
    "deposit",
    "post_vend",
    "reverse_vend",
]

_fa = cast(Table, FloatAccount.__table__)
_vendor = cast(Table, Vendor.__table__)
_entry = cast(Table, JournalEntry.__table__)
_low = cast(Table, LowFloatEvent.__table__)


# The debit's statements are built once: on the hot path, building them cost more CPU than
# running them. Parameters: p_vendor, p_amount (the tender), p_net (less commission), p_day.
_RATES = select(_fa.c.commission_bp, _fa.c.commission_kwh_e4).where(
    _fa.c.vendor_id == bindparam("p_vendor")
)
_day = bindparam("p_day", type_=Date)
_used_today = case((_fa.c.cap_day == _day, _fa.c.cap_day_vended_cents), else_=0)
_DEBIT = (
    update(_fa)
    .where(
        _fa.c.vendor_id == bindparam("p_vendor"),
        _fa.c.balance_cents - bindparam("p_amount") >= _fa.c.floor_cents,
        exists().where(_vendor.c.id == bindparam("p_vendor"), _vendor.c.status == "active"),
        or_(
            _fa.c.daily_cap_cents.is_(None),
            _used_today + bindparam("p_amount") <= _fa.c.daily_cap_cents,
        ),
    )
    .values(
        balance_cents=_fa.c.balance_cents - bindparam("p_net"),
        cap_day=_day,
        cap_day_vended_cents=_used_today + bindparam("p_amount"),
    )
    .returning(_fa.c.balance_cents, _fa.c.floor_cents, _fa.c.low_float_threshold_cents)
)

# On PostgreSQL the debit, the entry and its postings are one statement (data-modifying CTEs):
# the entry and postings are inserted only if the UPDATE matched, and the row lock is then held
# for nothing but the commit. SQLite (one writer at a time anyway) runs _DEBIT and the inserts.
_debit = _DEBIT.cte("debit")
_new_entry, _new_legs = ledger.guarded_entry(_debit, "vend")
_DEBIT_AND_POST = PreparedStatement(
    "vendgw_debit_and_post",
    (
        select(
            _new_entry.c.id,
            _debit.c.balance_cents,
            _debit.c.floor_cents,
            _debit.c.low_float_threshold_cents,
        )
        .select_from(_debit.join(_new_entry, true()))
        .add_cte(_new_legs)
    ),
)


@dataclass(frozen=True)
class VendSplit:
    """How a tender divides between the utility's accounts, in cents (from the pricing quote)."""

    energy_excl_vat: int
    vat: int
    fixed_charge_excl_vat: int = 0
    debt_recovered: int = 0

    @property
    def total(self) -> int:
        return self.energy_excl_vat + self.vat + self.fixed_charge_excl_vat + self.debt_recovered

    def check(self, amount_cents: int) -> None:
        for name in ("energy_excl_vat", "vat", "fixed_charge_excl_vat", "debt_recovered"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidSplit(
                    f"{name} must be a non-negative integer of cents", field=name, value=value
                )
        if self.total != amount_cents:
            raise InvalidSplit(
                f"the split adds up to {self.total} cents, not {amount_cents}",
                field="split",
                value=self,
            )


@dataclass(frozen=True)
class VendPosting:
    """The float after a vend (or its reversal): what the receipt's available credit shows."""

    journal_entry_id: int
    balance_after_cents: int
    floor_cents: int
    available_cents: int
    commission_cents: int = 0
    # True when reverse_vend found an earlier reversal and changed nothing.
    replayed: bool = False


@dataclass(frozen=True)
class FloatMovement:
    """The result of a deposit or an adjustment; ``applied`` is False for a replayed deposit."""

    journal_entry_id: int
    balance_after_cents: int
    floor_cents: int
    available_cents: int
    applied: bool = True


@dataclass(frozen=True)
class FloatBalance:
    vendor_id: int
    balance_cents: int
    floor_cents: int
    available_cents: int
    low_float_threshold_cents: int
    daily_cap_cents: int | None


def _positive(field: str, value: object) -> int:
    if type(value) is not int or value <= 0:
        raise InvalidInput(f"{field} must be a positive integer of cents", field=field, value=value)
    return value


def _reference(field: str, value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or value != value.strip():
        raise InvalidInput(
            f"{field} must be 1-64 characters without surrounding spaces", field=field, value=value
        )
    return value


def _when(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise InvalidInput("times must be timezone-aware", field="at", value=at)
    return at


def _available(balance_cents: int, floor_cents: int) -> int:
    return balance_cents - floor_cents


def post_vend(
    session: Session,
    *,
    vendor_id: int,
    amount_cents: int,
    split: VendSplit,
    reference: str,
    at: datetime | None = None,
    units_tenths: int | None = None,
    timezone: str | None = None,
    rate: CommissionRate | None = None,
) -> VendPosting:
    """Debit the vendor's float for one vend, in the caller's transaction.

    Raises :class:`InsufficientFloat`, :class:`VendorSuspended` (suspended or closed) or
    :class:`DailyCapExceeded` (all :class:`DebitRefused`) with nothing written,
    :class:`UnknownVendor`, or :class:`InvalidInput` / :class:`InvalidSplit` for bad arguments.
    ``units_tenths`` is needed only for vendors with a per-kWh commission. ``timezone`` (the
    utility's, for the daily cap) defaults to the process settings. ``rate`` is the vendor's
    commission rate when the caller has just read it (with the terminal's credentials); without
    it, it is read here.
    """
    _positive("amount_cents", amount_cents)
    split.check(amount_cents)
    _reference("reference", reference)
    at = _when(at)
    day = local_day(at, utility_zone(timezone))

    if rate is None:
        rates = session.execute(_RATES, {"p_vendor": vendor_id}).first()
        if rates is None:
            raise UnknownVendor(vendor_id=vendor_id)
        rate = CommissionRate(rates[0], rates[1])
    commission = commission_cents(rate, amount_cents=amount_cents, units_tenths=units_tenths)
    net = amount_cents - commission

    legs = ledger.balanced_legs(
        "vend",
        reference,
        {
            ledger.FLOAT: -net,
            ledger.ENERGY_REVENUE: split.energy_excl_vat,
            ledger.VAT_PAYABLE: split.vat,
            ledger.FIXED_CHARGE_REVENUE: split.fixed_charge_excl_vat,
            ledger.DEBT_RECOVERED: split.debt_recovered,
            ledger.COMMISSION_EXPENSE: -commission,
        },
    )
    params = {"p_vendor": vendor_id, "p_amount": amount_cents, "p_net": net, "p_day": day}
    posted = _DEBIT_AND_POST_FOR(session)(session, params, vendor_id, reference, at, legs)
    if posted is None:
        raise _refusal(session, vendor_id, amount_cents, day)
    entry_id, after, floor, threshold = posted
    _note_low_float(
        session, vendor_id, entry_id, at, before=after + net, after=after, threshold=threshold
    )
    return VendPosting(entry_id, after, floor, _available(after, floor), commission)


# (journal entry, balance after, floor, low-float threshold), or None when the debit refused.
_Posted = tuple[int, int, int, int] | None


def _debit_and_post_in_one(
    session: Session,
    params: dict[str, object],
    vendor_id: int,
    reference: str,
    at: datetime,
    legs: dict[str, int],
) -> _Posted:
    # One round trip while the row is locked; only the commit follows it.
    row = _DEBIT_AND_POST.execute(
        session,
        {
            **params,
            **ledger.guarded_entry_params(vendor_id, reference, at, utcnow(), legs),
        },
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def _debit_then_post(
    session: Session,
    params: dict[str, object],
    vendor_id: int,
    reference: str,
    at: datetime,
    legs: dict[str, int],
) -> _Posted:
    debited = execute_write(session, _DEBIT, params).first()
    if debited is None:
        return None
    after, floor, threshold = debited
    entry_id = ledger.write_entry(
        session, vendor_id=vendor_id, kind="vend", reference=reference, at=at, postings=legs
    )
    return entry_id, after, floor, threshold


# The debit and its entry: one statement on PostgreSQL, the UPDATE then the inserts on SQLite.
_DEBIT_AND_POST_FOR = PerDialect(postgresql=_debit_and_post_in_one, sqlite=_debit_then_post)


def debit_refusal(
    session: Session,
    vendor_id: int,
    amount_cents: int,
    *,
    at: datetime | None = None,
    timezone: str | None = None,
) -> DebitRefused | None:
    """Why :func:`post_vend` would refuse to debit ``amount_cents`` now, or None if it would
    not: the vendor's status, the floor, the daily cap, checked as the debit checks them.
    A trial asks this; the debit asks it after its conditional UPDATE matched nothing. Reads
    one row, takes no lock; raises :class:`UnknownVendor`."""
    at = _when(at)
    return _refusal_on(session, vendor_id, amount_cents, local_day(at, utility_zone(timezone)))


_REFUSAL_FIGURES = (
    select(
        _vendor.c.status,
        _fa.c.balance_cents,
        _fa.c.floor_cents,
        _fa.c.daily_cap_cents,
        _fa.c.cap_day,
        _fa.c.cap_day_vended_cents,
    )
    .join(_fa, _fa.c.vendor_id == _vendor.c.id)
    .where(_vendor.c.id == bindparam("p_vendor"))
)


def _refusal_on(
    session: Session, vendor_id: int, amount_cents: int, day: object
) -> DebitRefused | None:
    # The same three conditions as _DEBIT's WHERE clause, in the order a client should hear
    # them: a vendor that may not sell at all first, then the day's cap, then the float.
    row = session.execute(_REFUSAL_FIGURES, {"p_vendor": vendor_id}).first()
    if row is None:
        raise UnknownVendor(vendor_id=vendor_id)
    status, balance_cents, floor_cents, cap, cap_day, cap_day_vended = row
    used = cap_day_vended if cap_day == day else 0
    figures = {"balance_cents": balance_cents, "floor_cents": floor_cents}
    if status != "active":
        return VendorSuspended(
            vendor_id=vendor_id,
            amount_cents=amount_cents,
            status=status,
            daily_cap_cents=cap,
            used_today_cents=used,
            **figures,
        )
    if cap is not None and used + amount_cents > cap:
        return DailyCapExceeded(
            vendor_id=vendor_id,
            amount_cents=amount_cents,
            cap_cents=cap,
            used_cents=used,
            **figures,
        )
    if balance_cents - amount_cents < floor_cents:
        return InsufficientFloat(
            vendor_id=vendor_id,
            amount_cents=amount_cents,
            daily_cap_cents=cap,
            used_today_cents=used,
            **figures,
        )
    return None


def _refusal(session: Session, vendor_id: int, amount_cents: int, day: object) -> DebitRefused:
    """Why the conditional debit updated nothing. Only picks the error; the debit decided."""
    refused = _refusal_on(session, vendor_id, amount_cents, day)
    if refused is not None:
        return refused
    # Unreachable under the row lock the UPDATE took; the floor is the debit's last condition.
    balance_cents, floor_cents = session.execute(
        select(_fa.c.balance_cents, _fa.c.floor_cents).where(_fa.c.vendor_id == vendor_id)
    ).one()
    return InsufficientFloat(
        vendor_id=vendor_id,
        amount_cents=amount_cents,
        balance_cents=balance_cents,
        floor_cents=floor_cents,
    )


def _note_low_float(
    session: Session,
    vendor_id: int,
    entry_id: int,
    at: datetime,
    *,
    before: int,
    after: int,
    threshold: int,
) -> None:
    # Under the row lock, so "before" is exactly the previous balance: one event per crossing.
    if before >= threshold > after:
        session.execute(
            _low.insert(),
            {
                "vendor_id": vendor_id,
                "journal_entry_id": entry_id,
                "at": at,
                "balance_cents": after,
                "threshold_cents": threshold,
            },
        )


def _lock_float(session: Session, vendor_id: int) -> tuple[int, int]:
    """Take the float row's write lock without changing it (serialises idempotency checks).

    Returns the balance and the floor."""
    row = execute_write(
        session,
        update(_fa)
        .where(_fa.c.vendor_id == vendor_id)
        .values(balance_cents=_fa.c.balance_cents)
        .returning(_fa.c.balance_cents, _fa.c.floor_cents),
    ).first()
    if row is None:
        raise UnknownVendor(vendor_id=vendor_id)
    return row[0], row[1]


def _vendor_client_id(session: Session, vendor_id: int) -> str:
    return str(
        session.execute(select(_vendor.c.client_id).where(_vendor.c.id == vendor_id)).scalar_one()
    )


def reverse_vend(
    session: Session,
    *,
    journal_entry_id: int,
    reference: str,
    at: datetime | None = None,
    timezone: str | None = None,
) -> VendPosting:
    """Credit a vend back with a compensating entry linked to it; idempotent per vend.

    A second call for the same vend returns the first reversal (``replayed=True``, the current
    balance) and writes nothing. Allowed whatever the vendor's status: it only gives money back.
    Raises :class:`UnknownEntry` or :class:`NotReversible` (the entry is not a vend).
    """
    _reference("reference", reference)
    at = _when(at)
    original = session.execute(
        select(_entry.c.vendor_id, _entry.c.kind, _entry.c.at).where(
            _entry.c.id == journal_entry_id
        )
    ).first()
    if original is None:
        raise UnknownEntry(journal_entry_id)
    vendor_id, kind, original_at = original
    if kind != "vend":
        raise NotReversible(journal_entry_id=journal_entry_id, kind=kind)

    current, floor = _lock_float(session, vendor_id)
    earlier = session.execute(
        select(_entry.c.id).where(_entry.c.reversal_of_id == journal_entry_id)
    ).scalar()
    if earlier is not None:
        return VendPosting(earlier, current, floor, _available(current, floor), replayed=True)

    legs = ledger.entry_postings(session, journal_entry_id)
    credit = -legs[ledger.FLOAT]
    commission = -legs.get(ledger.COMMISSION_EXPENSE, 0)
    amount = credit + commission
    # Give the day's cap back when the vend counted towards the day still being counted.
    original_day = local_day(original_at, utility_zone(timezone))
    cap_left = case(
        (_fa.c.cap_day_vended_cents >= amount, _fa.c.cap_day_vended_cents - amount), else_=0
    )
    after, floor = execute_write(
        session,
        update(_fa)
        .where(_fa.c.vendor_id == vendor_id)
        .values(
            balance_cents=_fa.c.balance_cents + credit,
            cap_day_vended_cents=case(
                (_fa.c.cap_day == original_day, cap_left), else_=_fa.c.cap_day_vended_cents
            ),
        )
        .returning(_fa.c.balance_cents, _fa.c.floor_cents),
    ).one()
    entry_id = ledger.write_entry(
        session,
        vendor_id=vendor_id,
        kind="reversal",
        reference=reference,
        at=at,
        postings={account: -amount_cents for account, amount_cents in legs.items()},
        reversal_of_id=journal_entry_id,
    )
    return VendPosting(entry_id, after, floor, _available(after, floor), -commission)


def deposit(
    session: Session,
    *,
    vendor_id: int,
    amount_cents: int,
    bank_reference: str,
    actor: str,
    at: datetime | None = None,
) -> FloatMovement:
    """Credit money the vendor paid into the utility's bank; applied once per bank reference.

    Replaying a reference returns the original entry (``applied=False``); replaying it with a
    different amount raises :class:`DepositConflict`. Audited as ``float.deposit``.
    """
    _positive("amount_cents", amount_cents)
    _reference("bank_reference", bank_reference)
    at = _when(at)
    current, floor = _lock_float(session, vendor_id)
    earlier = session.execute(
        select(_entry.c.id).where(
            _entry.c.vendor_id == vendor_id,
            _entry.c.kind == "deposit",
            _entry.c.reference == bank_reference,
        )
    ).scalar()
    if earlier is not None:
        original_amount = ledger.entry_postings(session, earlier)[ledger.FLOAT]
        if original_amount != amount_cents:
            raise DepositConflict(
                bank_reference=bank_reference,
                original_amount_cents=original_amount,
                amount_cents=amount_cents,
                journal_entry_id=earlier,
            )
        return FloatMovement(earlier, current, floor, _available(current, floor), applied=False)

    after, floor = execute_write(
        session,
        update(_fa)
        .where(_fa.c.vendor_id == vendor_id)
        .values(balance_cents=_fa.c.balance_cents + amount_cents)
        .returning(_fa.c.balance_cents, _fa.c.floor_cents),
    ).one()
    entry_id = ledger.write_entry(
        session,
        vendor_id=vendor_id,
        kind="deposit",
        reference=bank_reference,
        at=at,
        postings={ledger.BANK: -amount_cents, ledger.FLOAT: amount_cents},
    )
    audit.record(
        session,
        actor,
        "float.deposit",
        _vendor_client_id(session, vendor_id),
        amount_cents=amount_cents,
        bank_reference=bank_reference,
        journal_entry_id=entry_id,
    )
    return FloatMovement(entry_id, after, floor, _available(after, floor))


def adjust(
    session: Session,
    *,
    vendor_id: int,
    amount_cents: int,
    reason: str,
    operator: str,
    reference: str | None = None,
    at: datetime | None = None,
) -> FloatMovement:
    """An operator's correction of the float (signed), against the ``adjustments`` account.

    A negative adjustment may not take the balance below the floor (:class:`InsufficientFloat`).
    Audited as ``float.adjust`` with the reason and operator.
    """
    if type(amount_cents) is not int or amount_cents == 0:
        raise InvalidInput(
            "an adjustment is a non-zero integer of cents", field="amount_cents", value=amount_cents
        )
    for field, value in (("reason", reason), ("operator", operator)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"an adjustment needs a {field}", field=field, value=value)
    at = _when(at)
    reference = _reference("reference", reference or f"ADJ-{at:%Y%m%d%H%M%S}")

    change = (
        update(_fa)
        .where(
            _fa.c.vendor_id == vendor_id, _fa.c.balance_cents + amount_cents >= _fa.c.floor_cents
        )
        .values(balance_cents=_fa.c.balance_cents + amount_cents)
        .returning(_fa.c.balance_cents, _fa.c.floor_cents, _fa.c.low_float_threshold_cents)
    )
    row = execute_write(session, change).first()
    if row is None:
        # Only the floor limits a correction (not the vendor's status nor the daily cap).
        raise _insufficient(session, vendor_id, -amount_cents)
    after, floor, threshold = row
    entry_id = ledger.write_entry(
        session,
        vendor_id=vendor_id,
        kind="adjustment",
        reference=reference,
        at=at,
        postings={ledger.FLOAT: amount_cents, ledger.ADJUSTMENTS: -amount_cents},
        operator=operator.strip(),
        reason=reason.strip(),
    )
    _note_low_float(
        session,
        vendor_id,
        entry_id,
        at,
        before=after - amount_cents,
        after=after,
        threshold=threshold,
    )
    audit.record(
        session,
        operator.strip(),
        "float.adjust",
        _vendor_client_id(session, vendor_id),
        amount_cents=amount_cents,
        reason=reason.strip(),
        reference=reference,
        journal_entry_id=entry_id,
    )
    return FloatMovement(entry_id, after, floor, _available(after, floor))


def _insufficient(session: Session, vendor_id: int, amount_cents: int) -> Exception:
    row = session.execute(
        select(_fa.c.balance_cents, _fa.c.floor_cents).where(_fa.c.vendor_id == vendor_id)
    ).first()
    if row is None:
        return UnknownVendor(vendor_id=vendor_id)
    balance_cents, floor_cents = row
    return InsufficientFloat(
        vendor_id=vendor_id,
        amount_cents=amount_cents,
        balance_cents=balance_cents,
        floor_cents=floor_cents,
    )


def balance(session: Session, vendor_id: int) -> FloatBalance:
    """The float as it stands (no lock taken)."""
    row = session.execute(
        select(
            _fa.c.balance_cents,
            _fa.c.floor_cents,
            _fa.c.low_float_threshold_cents,
            _fa.c.daily_cap_cents,
        ).where(_fa.c.vendor_id == vendor_id)
    ).first()
    if row is None:
        raise UnknownVendor(vendor_id=vendor_id)
    balance_cents, floor_cents, threshold, cap = row
    return FloatBalance(
        vendor_id,
        balance_cents,
        floor_cents,
        _available(balance_cents, floor_cents),
        threshold,
        cap,
    )
