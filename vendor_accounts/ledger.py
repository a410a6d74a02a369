"""The double-entry ledger: writing balanced journal entries and proving the books add up.

Accounts and sign convention
----------------------------
Every posting is a signed integer amount of cents seen from the utility's books:
**positive = credit, negative = debit**; the postings of an entry sum to zero.

=====================  ==============================================  ====================
account                what it is to the utility                       normal balance
=====================  ==============================================  ====================
vendor_float           what the utility owes the vendor (a liability)  credit (> 0)
energy_revenue         energy sold, VAT-exclusive                      credit
fixed_charge_revenue   monthly fixed charges, VAT-exclusive            credit
vat_payable            VAT collected for the revenue authority         credit
debt_recovered         customer arrears recovered from tenders         credit
commission_expense     commission paid to vendors                      debit (< 0)
bank                   money the vendor paid into the utility's bank   debit
adjustments            the other side of an operator's correction      either
voucher_liability      scratch-card value sold and not yet redeemed    credit (>= 0)
=====================  ==============================================  ====================

So a vendor's float balance is simply the sum of its ``vendor_float`` postings, and is positive
when the vendor has credit. ``vendor_float`` belongs to the entry's vendor; the other accounts are
the utility's own (one ledger account each, broken down by vendor through the entries).

Entries (all amounts in cents; ``c`` = commission):

* deposit X:      bank -X, vendor_float +X
* vend of A:      vendor_float -(A - c), energy_revenue +e, vat_payable +v,
                  fixed_charge_revenue +f, debt_recovered +d, commission_expense -c
* reversal:       every posting of the original vend, negated
* adjustment Y:   vendor_float +Y, adjustments -Y   (Y signed)
* voucher sale F: vendor_float -(F - c), commission_expense -c, voucher_liability +F
                  (stock of face value F activated; see vendor_accounts/voucher_float.py)
* voucher use F:  voucher_liability -F, energy_revenue +e, vat_payable +v,
                  fixed_charge_revenue +f, debt_recovered +d   (no float leg: the redeeming
                  vendor's float is not touched; the entry's vendor is the redeeming channel)
* voucher void F: the sale's legs for the voided, unredeemed vouchers, negated

Zero legs are left out (a posting is never zero) and an entry has at most one leg per account.

Entries are written only with legs from :func:`balanced_legs`, which refuses an unbalanced one
before it reaches the database (:func:`write_entry`, and on PostgreSQL the single statements of
the vend debit and the voucher redemption, whose entry is :func:`guarded_entry`); PostgreSQL
checks the same at commit (a deferred constraint
trigger) and :func:`check_invariants` re-proves everything from the rows, so a bug or a hand-made
SQL change cannot hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    CTE,
    BigInteger,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from vendor_accounts.models import ACCOUNTS, FloatAccount, JournalEntry, Posting

__all__ = [
    "FLOAT",
    "LedgerProblem",
    "balanced_legs",
    "check_invariants",
    "entry_postings",
    "voucher_liability_cents",
    "write_entry",
]

FLOAT = "vendor_float"
ENERGY_REVENUE = "energy_revenue"
FIXED_CHARGE_REVENUE = "fixed_charge_revenue"
VAT_PAYABLE = "vat_payable"
DEBT_RECOVERED = "debt_recovered"
COMMISSION_EXPENSE = "commission_expense"
BANK = "bank"
ADJUSTMENTS = "adjustments"
VOUCHER_LIABILITY = "voucher_liability"

_entry = cast(Table, JournalEntry.__table__)
_posting = cast(Table, Posting.__table__)
_float = cast(Table, FloatAccount.__table__)
_INSERT_ENTRY = insert(_entry).returning(_entry.c.id)
_INSERT_POSTINGS = insert(_posting)


def balanced_legs(kind: str, reference: str, postings: Mapping[str, int]) -> dict[str, int]:
    """The non-zero legs of an entry, refused unless they balance on known accounts.

    A refusal here is a programming error, not a business one: the callers build postings from
    checked input.
    """
    legs = {account: amount for account, amount in postings.items() if amount != 0}
    unknown = set(legs) - set(ACCOUNTS)
    if unknown:
        raise ValueError(f"unknown ledger accounts {sorted(unknown)}")
    if sum(legs.values()) != 0 or len(legs) < 2:
        raise ValueError(f"unbalanced journal entry {kind} {reference!r}: {legs}")
    return legs


def write_entry(
    session: Session,
    *,
    vendor_id: int,
    kind: str,
    reference: str,
    at: datetime,
    postings: Mapping[str, int],
    reversal_of_id: int | None = None,
    operator: str | None = None,
    reason: str | None = None,
) -> int:
    """Insert one balanced entry and its postings (zero legs dropped); returns the entry id.

    Two statements: the entry, then all its postings at once.
    """
    legs = balanced_legs(kind, reference, postings)
    entry_id: int = session.execute(
        _INSERT_ENTRY,
        {
            "vendor_id": vendor_id,
            "kind": kind,
            "reference": reference,
            "at": at,
            "reversal_of_id": reversal_of_id,
            "operator": operator,
            "reason": reason,
        },
    ).scalar_one()
    session.execute(
        _INSERT_POSTINGS,
        [{"journal_entry_id": entry_id, "account": a, "amount_cents": v} for a, v in legs.items()],
    )
    return entry_id


def guarded_entry(guard: CTE, kind: str) -> tuple[CTE, CTE]:
    """One entry and its postings as data-modifying CTEs (PostgreSQL), inserted only when the
    `guard` CTE (an UPDATE ... RETURNING of the row the entry pays for) returned a row: the
    float debit, a voucher marked redeemed. Returns (entry, postings); the entry's `id` column
    is what the statement selects. So a write that must happen together with its entry is one
    round trip while its row lock is held.

    Parameters: p_vendor, p_ref, p_at, p_now and the legs as two arrays, p_accounts and
    p_amounts (from :func:`balanced_legs`, which the caller must use; the commit-time balance
    trigger refuses an unbalanced entry whoever wrote it). The guard may use the same names
    for the same values."""
    entry = (
        insert(_entry)
        .from_select(
            ["vendor_id", "kind", "reference", "at", "created_at"],
            select(
                bindparam("p_vendor"),
                literal(kind),
                bindparam("p_ref", type_=String),
                bindparam("p_at", type_=UTCDateTime),
                bindparam("p_now", type_=UTCDateTime),
            ).select_from(guard),
        )
        .returning(_entry.c.id)
        .cte("entry")
    )
    leg = (
        func.unnest(
            bindparam("p_accounts", type_=ARRAY(String)),
            bindparam("p_amounts", type_=ARRAY(BigInteger)),
        )
        .table_valued("account", "amount")
        .render_derived(name="leg")
    )
    postings = (
        insert(_posting)
        .from_select(
            ["journal_entry_id", "account", "amount_cents"],
            select(entry.c.id, leg.c.account, leg.c.amount).select_from(entry.join(leg, true())),
        )
        .cte("legs")
    )
    return entry, postings


def guarded_entry_params(
    vendor_id: int, reference: str, at: datetime, now: datetime, legs: Mapping[str, int]
) -> dict[str, object]:
    """The parameters of a :func:`guarded_entry` statement."""
    return {
        "p_vendor": vendor_id,
        "p_ref": reference,
        "p_at": at,
        "p_now": now,
        "p_accounts": list(legs),
        "p_amounts": list(legs.values()),
    }


def entry_postings(session: Session, journal_entry_id: int) -> dict[str, int]:
    """The legs of one entry, by account."""
    rows = session.execute(
        select(_posting.c.account, _posting.c.amount_cents).where(
            _posting.c.journal_entry_id == journal_entry_id
        )
    )
    return {account: amount for account, amount in rows}


@dataclass(frozen=True)
class LedgerProblem:
    """One way the books do not add up; a check reports all of them, not just the first."""

    code: str
    message: str
    vendor_id: int | None = None
    journal_entry_id: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def check_invariants(session: Session) -> list[LedgerProblem]:
    """Re-prove the ledger from its rows; an empty list means the books are right.

    * every entry has at least two postings and they sum to zero;
    * every entry has at most one vendor_float leg (the unique constraint) and a reversal
      negates its original leg for leg;
    * every float balance equals the sum of its vendor_float postings and is not below its floor;
    * no vendor has vendor_float postings without a float account.
    """
    problems: list[LedgerProblem] = []

    legs = (
        select(
            _entry.c.id,
            _entry.c.vendor_id,
            func.count(_posting.c.id).label("n"),
            func.coalesce(func.sum(_posting.c.amount_cents), 0).label("total"),
        )
        .select_from(_entry.outerjoin(_posting, _posting.c.journal_entry_id == _entry.c.id))
        .group_by(_entry.c.id, _entry.c.vendor_id)
    ).subquery()
    for entry_id, vendor_id, n, total in session.execute(
        select(legs.c.id, legs.c.vendor_id, legs.c.n, legs.c.total).where(
            (legs.c.n < 2) | (legs.c.total != 0)
        )
    ):
        problems.append(
            LedgerProblem(
                "unbalanced-entry",
                f"journal entry {entry_id} has {n} postings summing to {total}",
                vendor_id=vendor_id,
                journal_entry_id=entry_id,
            )
        )

    float_sums = (
        select(_entry.c.vendor_id, func.sum(_posting.c.amount_cents).label("total"))
        .select_from(_posting.join(_entry, _posting.c.journal_entry_id == _entry.c.id))
        .where(_posting.c.account == FLOAT)
        .group_by(_entry.c.vendor_id)
    )
    computed = {vendor_id: int(total) for vendor_id, total in session.execute(float_sums)}
    accounts = session.execute(
        select(_float.c.vendor_id, _float.c.balance_cents, _float.c.floor_cents)
    ).all()
    for vendor_id, stored, floor in accounts:
        expected = computed.pop(vendor_id, 0)
        if stored != expected:
            problems.append(
                LedgerProblem(
                    "balance-mismatch",
                    f"vendor {vendor_id}: float says {stored}, postings sum to {expected}",
                    vendor_id=vendor_id,
                )
            )
        if stored < floor:
            problems.append(
                LedgerProblem(
                    "below-floor",
                    f"vendor {vendor_id}: balance {stored} below floor {floor}",
                    vendor_id=vendor_id,
                )
            )
    for vendor_id, total in computed.items():
        problems.append(
            LedgerProblem(
                "orphan-float-postings",
                f"vendor {vendor_id} has float postings summing to {total} but no float account",
                vendor_id=vendor_id,
            )
        )

    problems.extend(_reversal_problems(session))
    problems.extend(_voucher_liability_problems(session))
    return problems


def voucher_liability_cents(session: Session) -> int:
    """The value of scratch-card vouchers sold and not yet redeemed or voided, by the books."""
    total = session.execute(
        select(func.coalesce(func.sum(_posting.c.amount_cents), 0)).where(
            _posting.c.account == VOUCHER_LIABILITY
        )
    ).scalar_one()
    return int(total)


def _voucher_liability_problems(session: Session) -> list[LedgerProblem]:
    # More redeemed or voided than was ever sold: value created from nothing.
    total = voucher_liability_cents(session)
    if total < 0:
        return [
            LedgerProblem(
                "negative-voucher-liability",
                f"the voucher liability sums to {total}: more redeemed or voided than sold",
            )
        ]
    return []


def _reversal_problems(session: Session) -> list[LedgerProblem]:
    original = _entry.alias("original")
    pairs = session.execute(
        select(
            _entry.c.id, _entry.c.vendor_id, original.c.id, original.c.vendor_id, original.c.kind
        )
        .join(original, original.c.id == _entry.c.reversal_of_id)
        .where(_entry.c.kind == "reversal")
    ).all()
    if not pairs:
        return []
    wanted = {r[0] for r in pairs} | {r[2] for r in pairs}
    legs: dict[int, dict[str, int]] = {}
    for entry_id, account, amount in session.execute(
        select(_posting.c.journal_entry_id, _posting.c.account, _posting.c.amount_cents).where(
            _posting.c.journal_entry_id.in_(wanted)
        )
    ):
        legs.setdefault(entry_id, {})[account] = amount
    problems = []
    for rev_id, rev_vendor, orig_id, orig_vendor, orig_kind in pairs:
        negated = {a: -v for a, v in legs.get(orig_id, {}).items()}
        if rev_vendor != orig_vendor or orig_kind != "vend" or legs.get(rev_id, {}) != negated:
            problems.append(
                LedgerProblem(
                    "bad-reversal",
                    f"journal entry {rev_id} does not exactly reverse vend entry {orig_id}",
                    vendor_id=rev_vendor,
                    journal_entry_id=rev_id,
                )
            )
    return problems
