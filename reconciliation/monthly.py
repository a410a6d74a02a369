"""The monthly finance report's figures, per vendor, taken from the float ledger.

Every money figure is a sum of ledger postings of the journal entries dated in the business month
(``journal_entry.at`` in the month's window, cut-off and timezone as for reconciliation), so the
report ties to the books by construction and a test recomputes it from the postings:

* sales          vend entries: their revenue legs (energy + fixed charge + VAT + debt recovered),
                 i.e. the tenders; reversals are the reversal entries dated in the month, so a
                 vend reversed in the next month is a sale here and a reversal there
* energy, fixed charges (both VAT-exclusive), VAT, debt recovered, commission
                 the month's net movement of each account (vends less reversals)
* net sales      = energy + fixed charges + VAT + debt recovered = sales - reversals
* settlement due = net sales - commission, what the vendor's sales are worth to the utility
* floats         opening and closing = the vendor_float postings before the month's start and end;
                 closing = opening + deposits + adjustments - net sales + commission
                 - voucher stock
* vouchers       voucher stock: what the vendor's float paid for scratch-card stock activated in
                 the month, less what voids credited back (voucher_sale and voucher_void float
                 legs); voucher redemptions: the vouchers redeemed through the vendor's channel
                 (voucher_use entries' revenue legs), sales with no float debit, kept apart
                 from sales and settlement (the stock's buyer paid for them)

kWh are not in the ledger: they come from the vend transactions of those same entries
(``vend_transaction.journal_entry_id``), and a reversal's kWh through the entry it reverses. FBE
is free and never posted: the kWh issued on transactions made in the month and not reversed by
its end. Whether the monthly vendor report was reconciled, and the open breaks, come from this
package's runs and breaks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from gateway.vend.models import VendTransaction
from reconciliation.breaks import OpenBreak
from reconciliation.breaks import open_breaks as open_breaks_of
from reconciliation.models import ReconBreak, ReconRun
from reconciliation.periods import MONTHLY, Calendar, Period, Window
from vendor_accounts import ledger
from vendor_accounts.models import JournalEntry, Posting, Vendor

__all__ = ["MonthlyReport", "VendorMonth", "monthly_report"]

REVENUE = (
    ledger.ENERGY_REVENUE,
    ledger.FIXED_CHARGE_REVENUE,
    ledger.VAT_PAYABLE,
    ledger.DEBT_RECOVERED,
)
E, P, T = JournalEntry, Posting, VendTransaction


@dataclass(frozen=True)
class VendorMonth:
    client_id: str
    name: str
    opening_float_cents: int = 0
    deposits_cents: int = 0
    adjustments_cents: int = 0
    sales_count: int = 0
    sales_cents: int = 0
    reversals_count: int = 0
    reversals_cents: int = 0
    net_sales_cents: int = 0
    kwh_tenths: int = 0  # net of reversals
    energy_cents: int = 0
    fixed_charge_cents: int = 0
    vat_cents: int = 0
    debt_recovered_cents: int = 0
    commission_cents: int = 0  # net of reversals
    settlement_due_cents: int = 0
    fbe_kwh_tenths: int = 0
    voucher_stock_cents: int = 0  # float paid for voucher stock, less voids credited back
    voucher_redemptions_count: int = 0
    voucher_redemptions_cents: int = 0  # sales of the channel paid by the voucher liability
    closing_float_cents: int = 0
    monthly_report: str = "not received"
    open_breaks: int = 0

    def plus(self, other: VendorMonth) -> VendorMonth:
        """Field-by-field sum (for the totals row)."""
        summed: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            summed[f.name] = a + b if isinstance(a, int) else a
        return VendorMonth(**summed)


@dataclass(frozen=True)
class MonthlyReport:
    period: Period
    window: Window
    timezone: str
    vendors: tuple[VendorMonth, ...]
    totals: VendorMonth
    days: tuple[date, ...]
    daily_sales: dict[str, tuple[int, ...]]  # clientID -> sales cents per day of `days`
    ledger: dict[tuple[str, str], int]  # (entry kind, account) -> sum of postings
    breaks: tuple[OpenBreak, ...]  # open breaks of the month's business days
    as_of: date | None = None  # the business day the report was made on

    @property
    def days_so_far(self) -> tuple[date, ...]:
        """The month's business days up to ``as_of``: the days still to come have no sales yet,
        and a table or chart that showed them would read as days of no sales."""
        if self.as_of is None:
            return self.days
        return tuple(d for d in self.days if d <= self.as_of)

    def names(self) -> dict[str, str]:
        """Vendor names by clientID."""
        return {v.client_id: v.name for v in self.vendors}


def _in(column: Any, window: Window) -> Any:
    return and_(column >= window.start, column < window.end)


def _day_index(column: Any, calendar: Calendar, days: list[date]) -> Any:
    """CASE mapping an instant to the index of its business day (portable: no SQL timezones)."""
    ends = [calendar.day_end(d) for d in days]
    return case(*((column < end, literal(i)) for i, end in enumerate(ends)), else_=literal(-1))


def _ledger_sums(session: Session, window: Window) -> dict[tuple[int, str, str], int]:
    rows = session.execute(
        select(E.vendor_id, E.kind, P.account, func.sum(P.amount_cents))
        .join(P, P.journal_entry_id == E.id)
        .where(_in(E.at, window))
        .group_by(E.vendor_id, E.kind, P.account)
    )
    return {(v, kind, account): int(total) for v, kind, account, total in rows}


def _floats(session: Session, window: Window) -> dict[int, tuple[int, int]]:
    opening = func.sum(case((E.at < window.start, P.amount_cents), else_=0))
    rows = session.execute(
        select(E.vendor_id, opening, func.sum(P.amount_cents))
        .join(P, P.journal_entry_id == E.id)
        .where(P.account == ledger.FLOAT, E.at < window.end)
        .group_by(E.vendor_id)
    )
    return {v: (int(o), int(c)) for v, o, c in rows}


def _counts(session: Session, window: Window) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(E.vendor_id, E.kind, func.count())
        .where(_in(E.at, window))
        .group_by(E.vendor_id, E.kind)
    )
    return {(v, kind): int(n) for v, kind, n in rows}


def _kwh(session: Session, window: Window) -> dict[int, int]:
    sold = dict(
        session.execute(
            select(T.vendor_id, func.sum(T.units_tenths))
            .join(E, E.id == T.journal_entry_id)
            .where(E.kind == "vend", _in(E.at, window))
            .group_by(T.vendor_id)
        ).all()
    )
    reversal = aliased(JournalEntry)
    back = dict(
        session.execute(
            select(T.vendor_id, func.sum(T.units_tenths))
            .join(reversal, reversal.reversal_of_id == T.journal_entry_id)
            .where(_in(reversal.at, window))
            .group_by(T.vendor_id)
        ).all()
    )
    return {v: int(sold.get(v, 0)) - int(back.get(v, 0)) for v in set(sold) | set(back)}


def _fbe(session: Session, window: Window) -> dict[int, int]:
    reversed_by_end = and_(T.status == "reversed", T.reversed_at < window.end)
    return {
        v: int(n)
        for v, n in session.execute(
            select(T.vendor_id, func.sum(T.fbe_units_tenths))
            .where(_in(T.created_at, window), T.fbe_units_tenths > 0, ~reversed_by_end)
            .group_by(T.vendor_id)
        )
    }


def _daily(
    session: Session, window: Window, calendar: Calendar, days: list[date]
) -> dict[int, list[int]]:
    inner = (
        select(
            E.vendor_id.label("vendor_id"),
            _day_index(E.at, calendar, days).label("day"),
            P.amount_cents.label("amount"),
        )
        .join(P, P.journal_entry_id == E.id)
        .where(E.kind == "vend", _in(E.at, window), P.account.in_(REVENUE))
        .subquery()
    )
    out: dict[int, list[int]] = defaultdict(lambda: [0] * len(days))
    for vendor_id, day, total in session.execute(
        select(inner.c.vendor_id, inner.c.day, func.sum(inner.c.amount)).group_by(
            inner.c.vendor_id, inner.c.day
        )
    ):
        if 0 <= day < len(days):
            out[vendor_id][day] += int(total)
    return out


def _reconciliation(session: Session, period: Period) -> tuple[dict[int, str], dict[int, int]]:
    status = {}
    for run_id, vendor_id in session.execute(
        select(ReconRun.id, ReconRun.vendor_id).where(
            ReconRun.period_kind == MONTHLY,
            ReconRun.period_label == period.label,
            ReconRun.status == "current",
        )
    ):
        open_ = (
            session.scalar(
                select(func.count())
                .select_from(ReconBreak)
                .where(ReconBreak.last_run_id == run_id, ReconBreak.status == "open")
            )
            or 0
        )
        status[vendor_id] = f"reconciled (run {run_id}, {open_} open breaks)"
    open_breaks = dict(
        session.execute(
            select(ReconBreak.vendor_id, func.count())
            .where(
                ReconBreak.status == "open",
                ReconBreak.business_date >= period.first,
                ReconBreak.business_date <= period.last,
            )
            .group_by(ReconBreak.vendor_id)
        ).all()
    )
    return status, {v: int(n) for v, n in open_breaks.items()}


def monthly_report(
    session: Session, period: Period, calendar: Calendar, as_of: date
) -> MonthlyReport:
    """The month's figures; ``as_of`` (a business day) is what break ages count to."""
    window = calendar.window(period)
    days = period.days()
    sums = _ledger_sums(session, window)
    floats = _floats(session, window)
    counts = _counts(session, window)
    kwh = _kwh(session, window)
    fbe = _fbe(session, window)
    daily = _daily(session, window, calendar, days)
    recon, open_breaks = _reconciliation(session, period)

    def s(vendor_id: int, kinds: tuple[str, ...], accounts: tuple[str, ...]) -> int:
        return sum(sums.get((vendor_id, k, a), 0) for k in kinds for a in accounts)

    both = ("vend", "reversal")
    vendors = []
    for vendor_id, client_id, name in session.execute(
        select(Vendor.id, Vendor.client_id, Vendor.name).order_by(Vendor.client_id)
    ):
        sales = s(vendor_id, ("vend",), REVENUE)
        reversals = -s(vendor_id, ("reversal",), REVENUE)
        commission = -s(vendor_id, both, (ledger.COMMISSION_EXPENSE,))
        opening, closing = floats.get(vendor_id, (0, 0))
        vendors.append(
            VendorMonth(
                client_id=client_id,
                name=name,
                opening_float_cents=opening,
                deposits_cents=s(vendor_id, ("deposit",), (ledger.FLOAT,)),
                adjustments_cents=s(vendor_id, ("adjustment",), (ledger.FLOAT,)),
                sales_count=counts.get((vendor_id, "vend"), 0),
                sales_cents=sales,
                reversals_count=counts.get((vendor_id, "reversal"), 0),
                reversals_cents=reversals,
                net_sales_cents=sales - reversals,
                kwh_tenths=kwh.get(vendor_id, 0),
                energy_cents=s(vendor_id, both, (ledger.ENERGY_REVENUE,)),
                fixed_charge_cents=s(vendor_id, both, (ledger.FIXED_CHARGE_REVENUE,)),
                vat_cents=s(vendor_id, both, (ledger.VAT_PAYABLE,)),
                debt_recovered_cents=s(vendor_id, both, (ledger.DEBT_RECOVERED,)),
                commission_cents=commission,
                settlement_due_cents=sales - reversals - commission,
                fbe_kwh_tenths=fbe.get(vendor_id, 0),
                voucher_stock_cents=-s(
                    vendor_id, ("voucher_sale", "voucher_void"), (ledger.FLOAT,)
                ),
                voucher_redemptions_count=counts.get((vendor_id, "voucher_use"), 0),
                voucher_redemptions_cents=s(vendor_id, ("voucher_use",), REVENUE),
                closing_float_cents=closing,
                monthly_report=recon.get(vendor_id, "not received"),
                open_breaks=open_breaks.get(vendor_id, 0),
            )
        )
    totals = VendorMonth(client_id="TOTAL", name="all vendors", monthly_report="")
    for v in vendors:
        totals = totals.plus(v)
    by_client = {
        client_id: tuple(daily.get(vendor_id, [0] * len(days)))
        for vendor_id, client_id in session.execute(
            select(Vendor.id, Vendor.client_id).order_by(Vendor.client_id)
        )
    }
    ledger_view: dict[tuple[str, str], int] = defaultdict(int)
    for (_, kind, account), total in sums.items():
        ledger_view[(kind, account)] += total
    month_breaks = tuple(
        b for b in open_breaks_of(session, as_of) if period.first <= b.business_date <= period.last
    )
    return MonthlyReport(
        period,
        window,
        calendar.zone.key,
        tuple(vendors),
        totals,
        tuple(days),
        by_client,
        dict(ledger_view),
        month_breaks,
        as_of,
    )
