"""Classification: what each matched pair is, as SQL expressions over ``recon_pair``.

One CASE decides the category, in this order (the first that applies wins, so a line has one
category; the break row still shows both sides, so every difference stays visible):

1. MISSING_IN_REPORT    a vend of the period no line names
2. DUPLICATE_IN_REPORT  a later copy of a msg_id already in the file
3. MISSING_AT_GATEWAY   no credit vend with this msg_id (never received, refused, or not a sale)
4. OUTSIDE_PERIOD       the vendor dated it, or the gateway made it, outside the period
5. METER_MISMATCH       another meter: possibly another customer's sale
6. AMOUNT_MISMATCH      another amount, even by one cent
7. STATUS_MISMATCH      reversed on one side only (gateway status as of the period's end)
8. MATCHED

Money: each row has an *effect*, what it adds to (vendor total - gateway total). The vendor total
is the SUCCESS lines of the file as written (duplicates and misdated lines included: that is what
the vendor claims); the gateway total is the period's sales not reversed by its end. So the
effects of all categories add up to the difference exactly, and the summary can show where every
cent of it comes from.

The headline also keeps apart the voucher redemptions the gateway total counts (same rule): sales
of the channel that its float paid nothing for, so the settlement due leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from gateway.vend.models import VendTransaction
from reconciliation.matching import PAIR, credit_vends_in, gateway_status
from reconciliation.models import CATEGORIES
from reconciliation.models import BreakCategory as C
from reconciliation.periods import Window
from vendor_accounts.ledger import COMMISSION_EXPENSE
from vendor_accounts.models import Posting

__all__ = ["CategoryTotal", "Headline", "breaks_query", "classified", "commission", "totals"]

P = PAIR.c


def _in_window(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.start, column < window.end)


def _category(window: Window) -> ColumnElement[str]:
    outside = or_(~_in_window(P.v_vended_at, window), ~_in_window(P.g_created_at, window))
    return case(
        (P.line_no.is_(None), literal(C.MISSING_IN_REPORT)),
        (P.occurrence > 0, literal(C.DUPLICATE_IN_REPORT)),
        (P.g_tx_id.is_(None), literal(C.MISSING_AT_GATEWAY)),
        (outside, literal(C.OUTSIDE_PERIOD)),
        (P.v_meter_number != P.g_meter_number, literal(C.METER_MISMATCH)),
        (P.v_amount_cents != P.g_amount_cents, literal(C.AMOUNT_MISMATCH)),
        (P.v_status != P.g_status, literal(C.STATUS_MISMATCH)),
        else_=literal(C.MATCHED),
    )


def _vendor_counted() -> ColumnElement[int]:
    return case((P.v_status == "SUCCESS", P.v_amount_cents), else_=0)


def _counted(window: Window) -> ColumnElement[bool]:
    return and_(P.g_status == "SUCCESS", _in_window(P.g_created_at, window))


def _gateway_counted(window: Window) -> ColumnElement[int]:
    return case((_counted(window), P.g_amount_cents), else_=0)


def _voucher_counted(window: Window) -> ColumnElement[bool]:
    return and_(_counted(window), P.g_kind == "voucher")


def classified(window: Window) -> Subquery:
    """Every pair with its category and money columns."""
    return select(
        PAIR,
        _category(window).label("category"),
        _vendor_counted().label("vendor_counted"),
        _gateway_counted(window).label("gateway_counted"),
        _in_window(P.g_created_at, window).label("g_in_window"),
        _voucher_counted(window).label("voucher_counted"),
    ).subquery("classified")


@dataclass(frozen=True)
class CategoryTotal:
    category: str
    count: int
    vendor_amount_cents: int
    gateway_amount_cents: int
    effect_cents: int


@dataclass(frozen=True)
class Headline:
    gateway_count: int
    gateway_total_cents: int
    vendor_count: int
    vendor_total_cents: int
    # The voucher redemptions among the gateway's counted sales (their float paid nothing).
    voucher_count: int
    voucher_total_cents: int


def totals(session: Session, window: Window) -> tuple[list[CategoryTotal], Headline]:
    """Counts and sums per category, and the run's headline figures, in one pass."""
    c = classified(window).c
    gateway_in = and_(c.g_tx_id.is_not(None), c.g_in_window)
    rows = session.execute(
        select(
            c.category,
            func.count(),
            func.coalesce(func.sum(c.v_amount_cents), 0),
            func.coalesce(func.sum(c.g_amount_cents), 0),
            func.coalesce(func.sum(c.vendor_counted), 0),
            func.coalesce(func.sum(c.gateway_counted), 0),
            func.count(c.g_tx_id).filter(gateway_in),
            func.count(c.line_no),
            func.count().filter(c.voucher_counted),
            func.coalesce(func.sum(c.g_amount_cents).filter(c.voucher_counted), 0),
        ).group_by(c.category)
    ).all()
    categories = sorted(
        (
            CategoryTotal(cat, int(n), int(v), int(g), int(vc) - int(gc))
            for cat, n, v, g, vc, gc, *_ in rows
        ),
        key=lambda t: CATEGORIES.index(t.category),
    )
    head = Headline(
        gateway_count=sum(int(r[6]) for r in rows),
        gateway_total_cents=sum(int(r[5]) for r in rows),
        vendor_count=sum(int(r[7]) for r in rows),
        vendor_total_cents=sum(int(r[4]) for r in rows),
        voucher_count=sum(int(r[8]) for r in rows),
        voucher_total_cents=sum(int(r[9]) for r in rows),
    )
    return categories, head


def commission(session: Session, vendor_id: int, window: Window) -> int:
    """The commission the ledger credited on the vends the gateway total counts (from the
    commission_expense legs of their journal entries)."""
    t = VendTransaction
    total = session.execute(
        select(func.coalesce(func.sum(-Posting.amount_cents), 0))
        .select_from(t)
        .join(
            Posting,
            and_(
                Posting.journal_entry_id == t.journal_entry_id,
                Posting.account == COMMISSION_EXPENSE,
            ),
        )
        .where(*credit_vends_in(vendor_id, window), gateway_status(window) == "SUCCESS")
    ).scalar_one()
    return int(total)


def breaks_query(window: Window) -> Any:
    """The pairs that are breaks, with category and effect, in a stable order."""
    c = classified(window).c
    return (
        select(*c, (c.vendor_counted - c.gateway_counted).label("effect"))
        .where(c.category != C.MATCHED)
        .order_by(c.category, c.msg_id, c.occurrence)
    )
