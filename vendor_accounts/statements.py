"""Float statements: what a vendor's float did over a period, line by line with running balances.

Everything is derived from the ledger (the postings), never from the stored balance, so a
statement is a second proof of the float: its closing balance for a period that ends now equals
the float balance.

Periods are whole days in the utility's timezone; an entry belongs to the day of its ``at``.
Lines are in ledger order (entry id), which for one vendor is the order the float row lock
granted the changes, so every running balance is a balance the float really had. (Ordering by
``at`` could show a balance that never existed: ``at`` is taken before the lock is.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, select
from sqlalchemy.orm import Session

from core.localtime import day_bounds_utc, utility_zone
from vendor_accounts import ledger
from vendor_accounts.exceptions import InvalidInput, UnknownVendor
from vendor_accounts.models import FloatAccount, JournalEntry, Posting, Vendor

__all__ = ["Statement", "StatementLine", "recent_movements", "statement"]

_entry = cast(Table, JournalEntry.__table__)
_posting = cast(Table, Posting.__table__)
_fa = cast(Table, FloatAccount.__table__)


@dataclass(frozen=True)
class StatementLine:
    journal_entry_id: int
    at: datetime  # statement(): in the utility's timezone; recent_movements(): in UTC
    kind: str  # deposit, vend, reversal, adjustment
    reference: str
    amount_cents: int  # the float's movement: + credit to the vendor, - debit
    balance_cents: int  # the float after this line
    commission_cents: int  # commission in this movement (negative on a reversed vend)
    reversal_of_id: int | None

    @property
    def description(self) -> str:
        if self.kind == "reversal":
            return f"reversal of entry {self.reversal_of_id} ({self.reference})"
        return f"{self.kind} {self.reference}"


@dataclass(frozen=True)
class Statement:
    vendor_id: int
    client_id: str
    vendor_name: str
    from_date: date
    to_date: date
    timezone: str
    opening_balance_cents: int
    lines: tuple[StatementLine, ...]
    closing_balance_cents: int

    @property
    def credits_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines if line.amount_cents > 0)

    @property
    def debits_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines if line.amount_cents < 0)


def _movements(*extra: Any) -> Select[Any]:
    """Per entry of a vendor: id, at, kind, reference, reversal_of, float amount, commission."""
    # A correlated lookup (one probe of uq_posting_entry_account per entry) rather than an outer
    # join: a join let the planner scan every commission posting to show the last five lines.
    commission = _posting.alias("commission")
    commission_cents = (
        select(-commission.c.amount_cents)
        .where(
            commission.c.journal_entry_id == _entry.c.id,
            commission.c.account == ledger.COMMISSION_EXPENSE,
        )
        .scalar_subquery()
    )
    return select(
        _entry.c.id,
        _entry.c.at,
        _entry.c.kind,
        _entry.c.reference,
        _entry.c.reversal_of_id,
        _posting.c.amount_cents,
        func.coalesce(commission_cents, 0),
        *extra,
    ).join(
        _posting,
        (_posting.c.journal_entry_id == _entry.c.id) & (_posting.c.account == ledger.FLOAT),
    )


def statement(
    session: Session, vendor_id: int, from_date: date, to_date: date, *, timezone: str | None = None
) -> Statement:
    """The float's statement for the local days ``from_date`` to ``to_date``, both included."""
    if to_date < from_date:
        raise InvalidInput(
            "the statement period ends before it starts", field="to_date", value=to_date
        )
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise UnknownVendor(vendor_id=vendor_id)
    zone = utility_zone(timezone)
    start, end = day_bounds_utc(from_date, to_date, zone)
    opening = session.execute(
        select(func.coalesce(func.sum(_posting.c.amount_cents), 0))
        .join(_entry, _entry.c.id == _posting.c.journal_entry_id)
        .where(
            _entry.c.vendor_id == vendor_id, _posting.c.account == ledger.FLOAT, _entry.c.at < start
        )
    ).scalar_one()
    running = int(opening)
    lines = []
    for entry_id, at, kind, reference, reversal_of, amount, commission in session.execute(
        _movements()
        .where(_entry.c.vendor_id == vendor_id, _entry.c.at >= start, _entry.c.at < end)
        .order_by(_entry.c.id)
    ):
        running += amount
        lines.append(
            StatementLine(
                entry_id,
                at.astimezone(zone),
                kind,
                reference,
                amount,
                running,
                commission,
                reversal_of,
            )
        )
    return Statement(
        vendor_id,
        vendor.client_id,
        vendor.name,
        from_date,
        to_date,
        zone.key,
        int(opening),
        tuple(lines),
        running,
    )


def recent_movements(session: Session, vendor_id: int, limit: int) -> tuple[StatementLine, ...]:
    """The latest ``limit`` movements, newest first, each with the balance after it; their
    ``at`` in UTC (the SOAP VendorStatement shows them as receipts show theirs; nothing here is
    grouped by local day, so no zone is needed).

    One statement reads the movements and the current balance together (one snapshot), and the
    balances are worked backwards from it, so no history has to be summed.
    """
    current = select(_fa.c.balance_cents).where(_fa.c.vendor_id == vendor_id).scalar_subquery()
    # The ids first, on their own. From stale statistics (a busy vendor's first hours) PostgreSQL
    # sorted all of the vendor's entries, each joined to its postings, to keep five; now it sorts
    # bare ids at worst (2.3 ms -> 0.3 ms at 2,000 entries, measured).
    latest = (
        select(_entry.c.id)
        .where(_entry.c.vendor_id == vendor_id)
        .order_by(_entry.c.id.desc())
        .limit(limit)
    )
    rows = session.execute(
        _movements(current).where(_entry.c.id.in_(latest)).order_by(_entry.c.id.desc())
    ).all()
    lines = []
    balance_after = rows[0][7] if rows else 0
    for entry_id, at, kind, reference, reversal_of, amount, commission_cents, _ in rows:
        lines.append(
            StatementLine(
                entry_id,
                at.astimezone(UTC),
                kind,
                reference,
                amount,
                balance_after,
                commission_cents,
                reversal_of,
            )
        )
        balance_after -= amount
    return tuple(lines)
