"""`vendgw report vouchers --month M`: scratch-card stock through a business month, per batch
and per buying vendor, with the outstanding liability tied to the ledger.

For each batch (and summed per vendor that bought the stock): vouchers created, activated,
redeemed and voided in the month, and those that expired in it still unredeemed, as counts and
face values; and what is outstanding at the month's end (activated, not redeemed, not voided by
then, expired ones included: their value stays owed until written off). The outstanding total is
compared with the ledger's voucher liability as of the month's end (the postings of entries
dated before it): the report says whether they tie, and by how much they do not.

Per redeeming vendor, the redemptions through its channel in the month (sales with no float
debit). Times are cut by the business calendar (reconciliation/periods.py), as every report.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from core.money import format_cents
from gateway.vouchers.models import Voucher, VoucherBatch
from reconciliation.periods import Calendar, Period, Window
from vendor_accounts import ledger
from vendor_accounts.models import JournalEntry, Posting, Vendor

__all__ = ["BatchMonth", "VoucherMonth", "render_csv", "vouchers_report"]

V, B = Voucher, VoucherBatch


@dataclass(frozen=True)
class BatchMonth:
    batch_id: int
    client_id: str
    denomination_cents: int
    created: int = 0
    activated: int = 0
    redeemed: int = 0
    voided: int = 0
    expired: int = 0
    outstanding: int = 0

    def value(self, name: str) -> int:
        return int(getattr(self, name)) * self.denomination_cents


COUNTS = ("created", "activated", "redeemed", "voided", "expired", "outstanding")


@dataclass(frozen=True)
class VoucherMonth:
    period: Period
    window: Window
    batches: tuple[BatchMonth, ...]
    # clientID -> {count name: (count, value)}
    vendors: dict[str, dict[str, tuple[int, int]]]
    redemptions_by_channel: dict[str, tuple[int, int]]  # clientID -> (count, value)
    outstanding_cents: int
    ledger_liability_cents: int
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ties(self) -> bool:
        return self.outstanding_cents == self.ledger_liability_cents


def _in(column: Any, window: Window) -> Any:
    return and_(column >= window.start, column < window.end)


def _before(column: Any, end: datetime) -> Any:
    return and_(column.is_not(None), column < end)


def vouchers_report(session: Session, period: Period, calendar: Calendar) -> VoucherMonth:
    window = calendar.window(period)
    end = window.end
    expired_in_month = and_(B.expires_on >= period.first, B.expires_on <= period.last)
    live_at_end = and_(
        _before(V.activated_at, end),
        ~_before(V.redeemed_at, end),
        ~_before(V.voided_at, end),
    )

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = session.execute(
        select(
            B.id,
            Vendor.client_id,
            B.denomination_cents,
            count(_in(B.created_at, window)),
            count(_in(V.activated_at, window)),
            count(_in(V.redeemed_at, window)),
            count(_in(V.voided_at, window)),
            count(and_(expired_in_month, live_at_end)),
            count(live_at_end),
        )
        .select_from(V)
        .join(B, B.id == V.batch_id)
        .join(Vendor, Vendor.id == B.vendor_id)
        .where(B.created_at < end)
        .group_by(B.id, Vendor.client_id, B.denomination_cents)
        .order_by(B.id)
    ).all()
    batches = tuple(
        BatchMonth(int(b), c, int(d), *(int(n) for n in counts)) for b, c, d, *counts in rows
    )
    vendors: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    totals: dict[str, tuple[int, int]] = {}
    for bm in batches:
        for name in COUNTS:
            n, value = vendors[bm.client_id].get(name, (0, 0))
            vendors[bm.client_id][name] = (n + getattr(bm, name), value + bm.value(name))
            tn, tv = totals.get(name, (0, 0))
            totals[name] = (tn + getattr(bm, name), tv + bm.value(name))
    redeemer = Vendor.__table__.alias("redeemer")
    channel = {
        client_id: (int(n), int(value))
        for client_id, n, value in session.execute(
            select(redeemer.c.client_id, func.count(), func.sum(B.denomination_cents))
            .select_from(V)
            .join(B, B.id == V.batch_id)
            .join(redeemer, redeemer.c.id == V.redeemed_by_vendor_id)
            .where(_in(V.redeemed_at, window))
            .group_by(redeemer.c.client_id)
            .order_by(redeemer.c.client_id)
        )
    }
    booked = session.execute(
        select(func.coalesce(func.sum(Posting.amount_cents), 0))
        .join(JournalEntry, JournalEntry.id == Posting.journal_entry_id)
        .where(Posting.account == ledger.VOUCHER_LIABILITY, JournalEntry.at < end)
    ).scalar_one()
    return VoucherMonth(
        period,
        window,
        batches,
        dict(vendors),
        channel,
        totals.get("outstanding", (0, 0))[1],
        int(booked),
        totals,
    )


def render_csv(report: VoucherMonth) -> str:
    """Three sections (per batch, per vendor, per redeeming channel) and the tie line."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    heads = [f"{name}{suffix}" for name in COUNTS for suffix in ("_count", "_value")]
    w.writerow(["section", "batch", "client_id", "denomination", *heads])
    for bm in report.batches:
        cells = [x for name in COUNTS for x in (getattr(bm, name), format_cents(bm.value(name)))]
        w.writerow(
            ["batch", bm.batch_id, bm.client_id, format_cents(bm.denomination_cents), *cells]
        )
    for client_id, figures in sorted(report.vendors.items()):
        cells = [
            x
            for name in COUNTS
            for x in (figures.get(name, (0, 0))[0], format_cents(figures.get(name, (0, 0))[1]))
        ]
        w.writerow(["vendor", "", client_id, "", *cells])
    cells = [
        x
        for name in COUNTS
        for x in (
            report.totals.get(name, (0, 0))[0],
            format_cents(report.totals.get(name, (0, 0))[1]),
        )
    ]
    w.writerow(["total", "", "", "", *cells])
    w.writerow([])
    w.writerow(["channel", "client_id", "redeemed_count", "redeemed_value"])
    for client_id, (n, value) in report.redemptions_by_channel.items():
        w.writerow(["channel", client_id, n, format_cents(value)])
    w.writerow([])
    w.writerow(["liability", "outstanding", "ledger_voucher_liability", "ties"])
    difference = report.outstanding_cents - report.ledger_liability_cents
    w.writerow(
        [
            report.period.label,
            format_cents(report.outstanding_cents),
            format_cents(report.ledger_liability_cents),
            "yes" if report.ties else f"NO (by {format_cents(difference)})",
        ]
    )
    return out.getvalue()
