"""Operational reports for the utility's vending staff, read from what the vend path recorded.

Each report is a ``Table`` (column names and rows of plain values) that the CLI writes as CSV.
They show the current state of the records: a vend reversed since is counted as reversed, and
reversals are listed by the day they happened. Days and months are business days and months
(timezone and cut-off from settings), as for reconciliation.

Vending groups by vendor, terminal or operator (the XMLVend ``opName`` the vend was sold under;
empty when the terminal sent none); reprints come from the append-only ``vend_reprint`` record.
A scratch-card voucher redeemed through a vendor's channel is a purchase of the customer's, but
not a sale of the vendor's float (the voucher's buyer paid at activation): vending counts the
redemptions in columns of their own, and a meter whose customer redeems a voucher has bought.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from core.money import format_cents, format_tenths
from gateway.models import Customer, Meter
from gateway.vend.models import ReportedFault, VendReprint, VendTransaction
from reconciliation.periods import Calendar, Period
from vendor_accounts.models import Vendor

__all__ = [
    "Table",
    "abnormal_customers",
    "debt_collected",
    "faults",
    "fbe_issued",
    "reprints",
    "reversals",
    "vending",
]

T = VendTransaction
# What a customer buys electricity with at a vendor: a credit vend, or a voucher redeemed.
_PURCHASES = ("credit", "voucher")


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _in(column: Any, calendar: Calendar, period: Period) -> Any:
    window = calendar.window(period)
    return and_(column >= window.start, column < window.end)


def _local(calendar: Calendar, at: Any) -> str:
    return at.astimezone(calendar.zone).isoformat(sep=" ", timespec="seconds") if at else ""


def _day_index(calendar: Calendar, days: list[date]) -> Any:
    return case(
        *((T.created_at < calendar.day_end(d), literal(i)) for i, d in enumerate(days)),
        else_=literal(-1),
    )


def vending(
    session: Session,
    period: Period,
    calendar: Calendar,
    *,
    by: str = "vendor",
    per_day: bool = False,
) -> Table:
    """Credit vends per vendor (or terminal, or operator), for the period or per business day,
    and the voucher redemptions of the same group apart.

    Columns: the group, then ``vends``/``amount``/``kwh`` (credit vends not reversed since: what
    the float paid for), ``reversed_vends``/``reversed_amount`` (credit vends reversed since),
    ``voucher_vends``/``voucher_amount``/``voucher_kwh`` (voucher redemptions not reversed; the
    float paid nothing for them)."""
    days = period.days()
    is_reversed = T.status == "reversed"
    keys: list[Any] = [T.client_id.label("client_id")]
    if by == "terminal":
        keys.append(T.terminal_id.label("terminal_id"))
    elif by == "operator":
        keys.append(T.terminal_id.label("terminal_id"))
        keys.append(T.operator.label("operator"))
    bucket = _day_index(calendar, days) if per_day else literal(0)
    inner = (
        select(
            *keys,
            bucket.label("day"),
            T.tender_cents,
            T.units_tenths,
            is_reversed.label("rev"),
            (T.kind == "voucher").label("voucher"),
        )
        .where(_in(T.created_at, calendar, period), T.kind.in_(_PURCHASES), T.tender_cents > 0)
        .subquery()
    )
    c = inner.c
    group = [c.client_id, *(c[k.name] for k in keys[1:]), c.day]
    sold = and_(~c.rev, ~c.voucher)
    sold_reversed = and_(c.rev, ~c.voucher)
    redeemed = and_(~c.rev, c.voucher)
    rows = session.execute(
        select(
            *group,
            func.count().filter(sold),
            func.coalesce(func.sum(c.tender_cents).filter(sold), 0),
            func.coalesce(func.sum(c.units_tenths).filter(sold), 0),
            func.count().filter(sold_reversed),
            func.coalesce(func.sum(c.tender_cents).filter(sold_reversed), 0),
            func.count().filter(redeemed),
            func.coalesce(func.sum(c.tender_cents).filter(redeemed), 0),
            func.coalesce(func.sum(c.units_tenths).filter(redeemed), 0),
        )
        .group_by(*group)
        .order_by(c.day, *group[:-1])
    ).all()
    names = dict(session.execute(select(Vendor.client_id, Vendor.name)).all())
    out = []
    for row in rows:
        *key, day, n, amount, kwh, n_rev, rev_amount, n_voucher, voucher_amount, voucher_kwh = row
        when = days[day].isoformat() if per_day and 0 <= day < len(days) else period.label
        # PostgreSQL sums bigints as numeric: back to integers before formatting.
        out.append(
            (
                when,
                key[0],
                names.get(key[0], ""),
                *key[1:],
                n,
                format_cents(int(amount)),
                format_tenths(int(kwh)),
                n_rev,
                format_cents(int(rev_amount)),
                n_voucher,
                format_cents(int(voucher_amount)),
                format_tenths(int(voucher_kwh)),
            )
        )
    extra_columns = {
        "vendor": (),
        "terminal": ("terminal_id",),
        "operator": ("terminal_id", "operator"),
    }[by]
    columns = (
        "day" if per_day else "period",
        "client_id",
        "vendor",
        *extra_columns,
        "vends",
        "amount",
        "kwh",
        "reversed_vends",
        "reversed_amount",
        "voucher_vends",
        "voucher_amount",
        "voucher_kwh",
    )
    return Table(columns, out)


def fbe_issued(session: Session, period: Period, calendar: Calendar) -> Table:
    """Every transaction that issued free basic electricity, with its token's kWh."""
    rows = session.execute(
        select(
            T.created_at,
            T.client_id,
            T.terminal_id,
            T.meter_number,
            T.receipt_no,
            T.kind,
            T.fbe_units_tenths,
            T.status,
        )
        .where(_in(T.created_at, calendar, period), T.fbe_units_tenths > 0)
        .order_by(T.created_at, T.id)
    ).all()
    return Table(
        (
            "issued_at",
            "client_id",
            "terminal_id",
            "meter_number",
            "receipt_no",
            "with",
            "fbe_kwh",
            "status",
        ),
        [
            (
                _local(calendar, at),
                client,
                terminal,
                meter,
                receipt,
                "FBE vend" if kind == "fbe" else "credit vend",
                format_tenths(units),
                status,
            )
            for at, client, terminal, meter, receipt, kind, units, status in rows
        ],
    )


def reprints(session: Session, period: Period, calendar: Calendar) -> Table:
    """Every receipt handed out again, with who asked and the vend it repeated."""
    rows = session.execute(
        select(
            VendReprint.at,
            VendReprint.client_id,
            VendReprint.terminal_id,
            VendReprint.operator,
            T.meter_number,
            T.receipt_no,
            T.created_at,
            T.client_id,
        )
        .join(T, T.id == VendReprint.transaction_id)
        .where(_in(VendReprint.at, calendar, period))
        .order_by(VendReprint.at, VendReprint.id)
    ).all()
    return Table(
        (
            "reprinted_at",
            "client_id",
            "terminal_id",
            "operator",
            "meter_number",
            "receipt_no",
            "vended_at",
            "sold_by",
        ),
        [
            (
                _local(calendar, at),
                client,
                terminal,
                operator,
                meter,
                receipt,
                _local(calendar, vended),
                sold_by,
            )
            for at, client, terminal, operator, meter, receipt, vended, sold_by in rows
        ],
    )


def reversals(session: Session, period: Period, calendar: Calendar) -> Table:
    """Vends reversed in the period, with whether the reversal fell after the vend's own day."""
    rows = session.execute(
        select(
            T.reversed_at,
            T.client_id,
            T.terminal_id,
            T.receipt_no,
            T.meter_number,
            T.tender_cents,
            T.created_at,
            T.reversal_reason,
        )
        .where(T.status == "reversed", _in(T.reversed_at, calendar, period))
        .order_by(T.reversed_at, T.id)
    ).all()
    out = []
    for reversed_at, client, terminal, receipt, meter, amount, created, reason in rows:
        assert reversed_at is not None  # the query selects reversed vends only
        vend_day = calendar.business_day(created)
        late = calendar.business_day(reversed_at) != vend_day
        out.append(
            (
                _local(calendar, reversed_at),
                client,
                terminal,
                receipt,
                meter,
                format_cents(amount),
                _local(calendar, created),
                vend_day.isoformat(),
                "yes" if late else "no",
                reason,
            )
        )
    return Table(
        (
            "reversed_at",
            "client_id",
            "terminal_id",
            "receipt_no",
            "meter_number",
            "amount",
            "vended_at",
            "vend_business_day",
            "after_the_vend_day",
            "reason",
        ),
        out,
    )


def debt_collected(session: Session, period: Period, calendar: Calendar) -> Table:
    """Arrears recovered from tenders per customer (reversed vends give theirs back)."""
    rows = session.execute(
        select(
            Customer.account_no,
            Customer.name,
            T.meter_number,
            func.count(),
            func.sum(T.debt_recovered_cents),
            Customer.debt_cents,
        )
        .join(Customer, Customer.id == T.customer_id)
        .where(
            _in(T.created_at, calendar, period), T.debt_recovered_cents > 0, T.status != "reversed"
        )
        .group_by(Customer.account_no, Customer.name, T.meter_number, Customer.debt_cents)
        .order_by(Customer.account_no, T.meter_number)
    ).all()
    return Table(
        (
            "account_no",
            "customer",
            "meter_number",
            "vends",
            "debt_recovered",
            "debt_outstanding_now",
        ),
        [
            (a, name, meter, n, format_cents(int(total)), format_cents(now))
            for a, name, meter, n, total, now in rows
        ],
    )


def abnormal_customers(
    session: Session, as_of: date, calendar: Calendar, *, days: int = 60
) -> Table:
    """Active meters with no purchase (a credit vend, or a voucher redeemed) in ``days`` days up
    to the end of business day ``as_of`` (a meter never sold to counts from the day it was
    registered)."""
    end = calendar.day_end(as_of)
    threshold = end - timedelta(days=days)
    last = (
        select(T.meter_id, func.max(T.created_at).label("last"))
        .where(
            T.kind.in_(_PURCHASES), T.tender_cents > 0, T.status != "reversed", T.created_at < end
        )
        .group_by(T.meter_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Meter.meter_number, Customer.account_no, Customer.name, last.c.last, Meter.created_at
        )
        .outerjoin(Customer, Customer.id == Meter.customer_id)
        .outerjoin(last, last.c.meter_id == Meter.id)
        .where(
            Meter.status == "active",
            or_(last.c.last < threshold, and_(last.c.last.is_(None), Meter.created_at < threshold)),
        )
        .order_by(Meter.meter_number)
    ).all()
    out = []
    for meter, account, name, last_at, registered in rows:
        since = last_at or registered
        out.append(
            (
                meter,
                account or "",
                name or "",
                calendar.business_day(last_at).isoformat() if last_at else "never",
                (as_of - calendar.business_day(since)).days,
            )
        )
    return Table(
        ("meter_number", "account_no", "customer", "last_purchase", "days_without_purchase"), out
    )


def faults(session: Session, period: Period, calendar: Calendar) -> Table:
    """The customer fault reports terminals sent in the period (CustReportFault), oldest first,
    with the reference numbers the customers were given."""
    F = ReportedFault
    rows = session.execute(
        select(
            F.ref_no,
            F.reported_at,
            F.fault_kind,
            F.meter_number,
            F.account_no,
            F.contact,
            F.client_id,
            F.terminal_id,
            F.operator,
            F.description,
        )
        .where(_in(F.reported_at, calendar, period))
        .order_by(F.reported_at, F.id)
    ).all()
    return Table(
        (
            "ref_no",
            "reported_at",
            "fault_kind",
            "meter_number",
            "account_no",
            "contact",
            "client_id",
            "terminal_id",
            "operator",
            "description",
        ),
        [
            (ref, _local(calendar, at), kind, meter or "", account or "", *rest)
            for ref, at, kind, meter, account, *rest in rows
        ],
    )
