"""Invariants of the vend records that can be re-proved from the rows alone (as
vendor_accounts.ledger.check_invariants re-proves the books): for a backup drill, after a fault,
or any time an operator doubts the database.

* every meter month's figures (units, fixed charge paid, free basic electricity) equal the sums
  over that meter's vends of that month that are not reversed: a vend adds its figures, a
  reversal takes them off again, so the two can only differ when a write was lost or doubled;
* every stored vend has its tokens (what reprints and last-response advice hand out again);
  an account payment has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, literal, select, union
from sqlalchemy.orm import Session

from gateway.vend.models import MeterMonth, VendToken, VendTransaction

FIGURES = ("units_tenths", "fixed_charge_paid_cents", "fbe_units_tenths")


@dataclass(frozen=True)
class VendProblem:
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def check_meter_months(session: Session) -> list[VendProblem]:
    """Each (meter, month) whose stored figures differ from the sums of its live vends."""
    tx = VendTransaction
    live = (
        select(
            tx.meter_id.label("meter_id"),
            tx.month.label("month"),
            func.sum(tx.units_tenths).label("units_tenths"),
            func.sum(tx.fixed_charge_cents).label("fixed_charge_paid_cents"),
            func.sum(tx.fbe_units_tenths).label("fbe_units_tenths"),
        )
        .where(tx.status != "reversed", tx.meter_id.is_not(None))
        .group_by(tx.meter_id, tx.month)
    ).subquery()
    # Both sides, so a month row without vends and vends without a month row are both seen
    # (SQLite has no FULL JOIN: the keys of either side, then each side left-joined).
    keys = union(
        select(MeterMonth.meter_id, MeterMonth.month), select(live.c.meter_id, live.c.month)
    ).subquery()
    stored = MeterMonth.__table__.alias("stored")
    rows = session.execute(
        select(
            keys.c.meter_id,
            keys.c.month,
            *[func.coalesce(stored.c[f], literal(0)).label(f"stored_{f}") for f in FIGURES],
            *[func.coalesce(live.c[f], literal(0)).label(f"vended_{f}") for f in FIGURES],
        )
        .select_from(
            keys.outerjoin(
                stored, and_(stored.c.meter_id == keys.c.meter_id, stored.c.month == keys.c.month)
            ).outerjoin(
                live, and_(live.c.meter_id == keys.c.meter_id, live.c.month == keys.c.month)
            )
        )
        .order_by(keys.c.meter_id, keys.c.month)
    ).mappings()
    problems = []
    for row in rows:
        differ = [
            f"{f} {row[f'stored_{f}']} but vends sum to {row[f'vended_{f}']}"
            for f in FIGURES
            if int(row[f"stored_{f}"]) != int(row[f"vended_{f}"])
        ]
        if differ:
            problems.append(
                VendProblem(
                    "meter-month-mismatch",
                    f"meter id {row['meter_id']} month {row['month']}: " + "; ".join(differ),
                )
            )
    return problems


def check_vend_tokens(session: Session) -> list[VendProblem]:
    """Every stored vend, FBE issue and engineering issue has at least one token (an account
    payment has none: it sells no energy)."""
    orphans = (
        session.execute(
            select(VendTransaction.receipt_no)
            .outerjoin(VendToken, VendToken.transaction_id == VendTransaction.id)
            .where(VendToken.id.is_(None), VendTransaction.kind != "payment")
            .order_by(VendTransaction.id)
        )
        .scalars()
        .all()
    )
    return [
        VendProblem("vend-without-tokens", f"receipt {receipt} has no stored token")
        for receipt in orphans
    ]


def check_vend_records(session: Session) -> list[VendProblem]:
    """Every invariant of this module; an empty list means the vend records agree."""
    return check_meter_months(session) + check_vend_tokens(session)
