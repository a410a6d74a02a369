"""/reports [finance, auditor]: the monthly finance report on screen (the three vendor views, a
chart of daily sales per vendor, the ledger, the open breaks), its CSV, XLSX and printable HTML
downloads written by reconciliation.monthly_render (the same files `vendgw report monthly`
writes), and the operational reports with CSV downloads.

The renderer's headings are English; HEADINGS gives each its catalog entry here, where the
console's messages are extracted (a test fails on a heading of the renderer without one)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.db import utcnow
from reconciliation import (
    Calendar,
    MonthlyReport,
    Period,
    ReconciliationError,
    calendar_of,
    monthly_render,
    operational,
)
from reconciliation import monthly_report as compute_monthly_report
from reconciliation.periods import DAILY, MONTHLY, parse_period
from vendgw.console import web
from vendgw.console.access import allowed

blueprint = Blueprint("reports", __name__, url_prefix="/reports")

HEADINGS: dict[str, Any] = {
    "Sales and settlement": _l("Sales and settlement"),
    "Revenue (excluding VAT) and VAT": _l("Revenue (excluding VAT) and VAT"),
    "Floats and reconciliation": _l("Floats and reconciliation"),
    "Scratch-card vouchers": _l("Scratch-card vouchers"),
    "Voucher stock bought": _l("Voucher stock bought"),
    "Vouchers redeemed": _l("Vouchers redeemed"),
    "Redeemed value": _l("Redeemed value"),
    "Voucher sales": _l("Voucher sales"),
    "Voucher redemptions": _l("Voucher redemptions"),
    "Voucher voids": _l("Voucher voids"),
    "Voucher liability": _l("Voucher liability"),
    "Vendor": _l("Vendor"),
    "Client ID": _l("Client ID"),
    "Vends": _l("Vends"),
    "Sales": _l("Sales"),
    "Reversals": _l("Reversals"),
    "Reversals (count)": _l("Reversals (count)"),
    "Net sales": _l("Net sales"),
    "kWh sold": _l("kWh sold"),
    "Commission": _l("Commission"),
    "Settlement due": _l("Settlement due"),
    "Energy": _l("Energy"),
    "Energy excl. VAT": _l("Energy excl. VAT"),
    "Fixed charges": _l("Fixed charges"),
    "Fixed charges excl. VAT": _l("Fixed charges excl. VAT"),
    "VAT": _l("VAT"),
    "Debt recovered": _l("Debt recovered"),
    "Free kWh (FBE)": _l("Free kWh (FBE)"),
    "Opening float": _l("Opening float"),
    "Deposits": _l("Deposits"),
    "Adjustments": _l("Adjustments"),
    "Closing float": _l("Closing float"),
    "Vendor's monthly report": _l("Vendor's monthly report"),
    "Open breaks": _l("Open breaks"),
    "Total, all vendors": _l("Total, all vendors"),
    "Vendor floats": _l("Vendor floats"),
    "Energy revenue": _l("Energy revenue"),
    "Fixed charge revenue": _l("Fixed charge revenue"),
    "VAT payable": _l("VAT payable"),
    "Commission expense": _l("Commission expense"),
    "Bank": _l("Bank"),
    "Entry kind": _l("Entry kind"),
    "Account": _l("Account"),
    "Sum of postings": _l("Sum of postings"),
    "Break": _l("Break"),
    "Period": _l("Period"),
    "Category": _l("Category"),
    "Message ID": _l("Message ID"),
    "Business day": _l("Business day"),
    "Age (days)": _l("Age (days)"),
    "Effect": _l("Effect"),
    "Note": _l("Note"),
    "Daily sales per vendor": _l("Daily sales per vendor"),
    "Ledger postings of the month": _l("Ledger postings of the month"),
    "Open reconciliation breaks": _l("Open reconciliation breaks"),
    "No sales yet this month.": _l("No sales yet this month."),
    "No open breaks for this month.": _l("No open breaks for this month."),
    "Up to": _l("Up to"),
}

# The operational reports: (title, the function that builds its Table from a period).
OPERATIONAL: dict[str, Any] = {
    "vending": _l("Vending per vendor"),
    "vending-terminal": _l("Vending per terminal"),
    "vending-operator": _l("Vending per operator"),
    "fbe": _l("Free basic electricity issued"),
    "reprints": _l("Receipts reprinted"),
    "reversals": _l("Vends reversed"),
    "debt": _l("Customer arrears recovered"),
    "abnormal": _l("Meters without a purchase for 60 days"),
}
COLUMNS: dict[str, Any] = {
    "period": _l("Period"),
    "day": _l("Day"),
    "client_id": _l("Client ID"),
    "vendor": _l("Vendor"),
    "terminal_id": _l("Terminal"),
    "operator": _l("Operator"),
    "vends": _l("Vends"),
    "amount": _l("Amount"),
    "kwh": _l("kWh"),
    "reversed_vends": _l("Reversed vends"),
    "reversed_amount": _l("Reversed amount"),
    "voucher_vends": _l("Voucher vends"),
    "voucher_amount": _l("Voucher amount"),
    "voucher_kwh": _l("Voucher kWh"),
    "issued_at": _l("Issued"),
    "meter_number": _l("Meter"),
    "receipt_no": _l("Receipt"),
    "with": _l("With"),
    "fbe_kwh": _l("Free kWh"),
    "status": _l("Status"),
    "reprinted_at": _l("Reprinted"),
    "vended_at": _l("Vended"),
    "sold_by": _l("Sold by"),
    "reversed_at": _l("Reversed"),
    "vend_business_day": _l("Vend's business day"),
    "after_the_vend_day": _l("After the vend's day"),
    "reason": _l("Reason"),
    "account_no": _l("Account"),
    "customer": _l("Customer"),
    "debt_recovered": _l("Debt recovered"),
    "debt_outstanding_now": _l("Debt outstanding now"),
    "last_purchase": _l("Last purchase"),
    "days_without_purchase": _l("Days without a purchase"),
}


def heading(text: str) -> str:
    return str(HEADINGS.get(text, text))


def _calendar() -> Calendar:
    return calendar_of(web.runtime())


def _month(calendar: Calendar) -> Period:
    text = request.args.get("month") or calendar.business_day(utcnow()).strftime("%Y-%m")
    try:
        return parse_period(text, MONTHLY)
    except ReconciliationError:
        abort(400)


def _report(period: Period, calendar: Calendar) -> MonthlyReport:
    with web.unit_of_work() as db:
        return compute_monthly_report(db, period, calendar, calendar.business_day(utcnow()))


@blueprint.route("/")
@allowed("reports")
def index() -> Any:
    calendar = _calendar()
    period = _month(calendar)
    figures = _report(period, calendar)
    currency = web.runtime().settings.utility.currency
    chart = Markup(  # noqa: S704 (the renderer escapes every label it draws)
        monthly_render.daily_chart(
            figures,
            _(
                "Daily sales per vendor, %(month)s (%(currency)s)",
                month=period.label,
                currency=currency,
            ),
        )
    )
    names, daily, daily_totals = monthly_render.daily_rows(figures)
    return render_template(
        "pages/reports.html",
        period=period,
        figures=figures,
        views=monthly_render.VENDOR_VIEWS,
        total=monthly_render.TOTAL_LABEL,
        heading=heading,
        chart=chart,
        has_sales=any(any(v) for v in figures.daily_sales.values()) and bool(figures.days_so_far),
        daily_names=names,
        daily=list(zip(figures.days_so_far, daily, strict=True)),
        daily_totals=daily_totals,
        ledger=monthly_render.ledger_rows(figures),
        breaks=monthly_render.breaks_rows(figures),
        operational=OPERATIONAL,
        months=_recent_months(calendar),
    )


def _recent_months(calendar: Calendar) -> list[str]:
    today = calendar.business_day(utcnow())
    out = []
    year, month = today.year, today.month
    for _i in range(12):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def _download(data: bytes | str, mimetype: str, name: str) -> Response:
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@blueprint.route("/monthly.<fmt>")
@allowed("reports")
def monthly_file(fmt: str) -> Any:
    if fmt not in monthly_render.FORMATS:
        abort(404)
    calendar = _calendar()
    period = _month(calendar)
    figures = _report(period, calendar)
    utility = web.runtime().settings.utility
    with web.unit_of_work() as db:
        web.record(db, "report.download", f"monthly {period.label}", format=fmt)
    name = f"vending_{period.compact}.{fmt}"
    if fmt == "csv":
        return _download(monthly_render.render_csv(figures), "text/csv", name)
    if fmt == "html":
        return _download(
            monthly_render.render_html(figures, utility.name, utility.currency), "text/html", name
        )
    with tempfile.TemporaryDirectory(prefix="vendgw-report-") as folder:
        path = Path(folder) / name
        monthly_render.write_xlsx(
            figures, path, utility_name=utility.name, currency=utility.currency
        )
        data = path.read_bytes()
    return _download(
        data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name
    )


def _operational_table(name: str, calendar: Calendar) -> tuple[operational.Table, str]:
    builders: dict[str, Callable[..., operational.Table]] = {
        "vending": lambda db, p: operational.vending(db, p, calendar),
        "vending-terminal": lambda db, p: operational.vending(db, p, calendar, by="terminal"),
        "vending-operator": lambda db, p: operational.vending(db, p, calendar, by="operator"),
        "fbe": lambda db, p: operational.fbe_issued(db, p, calendar),
        "reprints": lambda db, p: operational.reprints(db, p, calendar),
        "reversals": lambda db, p: operational.reversals(db, p, calendar),
        "debt": lambda db, p: operational.debt_collected(db, p, calendar),
    }
    if name == "abnormal":
        today = calendar.business_day(utcnow())
        with web.unit_of_work() as db:
            return operational.abnormal_customers(db, today, calendar, days=60), today.isoformat()
    if name not in builders:
        abort(404)
    day_text = request.args.get("day")
    try:
        period = parse_period(day_text, DAILY) if day_text else _month(calendar)
    except ReconciliationError:
        abort(400)
    with web.unit_of_work() as db:
        return builders[name](db, period), period.label


@blueprint.route("/operational/<name>")
@allowed("reports")
def operational_report(name: str) -> Any:
    calendar = _calendar()
    table, label = _operational_table(name, calendar)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([str(COLUMNS.get(c, c)) for c in table.columns])
        writer.writerows(table.rows)
        return _download(out.getvalue(), "text/csv", f"{name}_{label}.csv")
    numeric = {
        i
        for i, c in enumerate(table.columns)
        if c
        in {
            "vends",
            "amount",
            "kwh",
            "reversed_vends",
            "reversed_amount",
            "voucher_vends",
            "voucher_amount",
            "voucher_kwh",
            "fbe_kwh",
            "debt_recovered",
            "debt_outstanding_now",
            "days_without_purchase",
        }
    }
    return render_template(
        "pages/report_operational.html",
        name=name,
        title=OPERATIONAL[name],
        label=label,
        columns=[str(COLUMNS.get(c, c)) for c in table.columns],
        rows=table.rows[:2000],
        more=max(0, len(table.rows) - 2000),
        numeric=numeric,
    )
