"""The monthly finance report written out as finance reads it: CSV (every figure per vendor, one
row each), XLSX (a sheet per view) and HTML (the document that is printed and signed), and the
same views for the console's reports page.

What finance expects, and why each choice:

* titled columns ("Net sales", not ``net_sales``) and vendors by name, with the clientID beside
  it, in the chart's legend too;
* the twenty-odd figures split into three views of at most nine columns (sales and settlement,
  revenue, floats), so each fits an A4 landscape page; the HTML has a print stylesheet
  (``@page`` A4 landscape, headings kept with their tables, header rows repeated) and the XLSX
  sheets print landscape, one page wide;
* the totals row set apart (a rule above it, bold; the table's foot), and in the XLSX after a
  gap so a sort or filter of the vendors never moves it;
* the days still to come left out of the daily table and the chart (``MonthlyReport.days_so_far``):
  shown as zero, they read as days without sales.

Renderers only format a computed ``MonthlyReport``; they never query. Money in XLSX is written as
exact decimals (Decimal, never float) with a two-place number format, so a spreadsheet total
equals the report's total to the cent. Headings are plain English marked with :func:`N_` so the
console can look them up in its gettext catalogs (``_(column.heading)``); this package does not
translate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.money import format_cents, format_tenths
from reconciliation.breaks import OpenBreak
from reconciliation.monthly import MonthlyReport, VendorMonth
from reconciliation.svg_chart import line_chart

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "N_",
    "PRINT_CSS",
    "SHEETS",
    "VENDOR_VIEWS",
    "Column",
    "View",
    "breaks_rows",
    "daily_chart",
    "daily_rows",
    "format_value",
    "ledger_rows",
    "render_csv",
    "render_html",
    "render_html_body",
    "write_xlsx",
]

FORMATS = ("csv", "xlsx", "html")
MONEY, KWH, COUNT, TEXT = "money", "kwh", "count", "text"


def N_(message: str) -> str:
    """Marks a heading for the console's message catalogs; returns it unchanged."""
    return message


@dataclass(frozen=True)
class Column:
    heading: str
    attr: str  # a VendorMonth attribute
    kind: str  # MONEY, KWH, COUNT or TEXT
    width: int = 13  # characters, for the XLSX sheet


@dataclass(frozen=True)
class View:
    """One table of vendor figures: each fits an A4 landscape page."""

    title: str
    sheet: str
    columns: tuple[Column, ...]


_VENDOR = Column(N_("Vendor"), "name", TEXT, 28)
_CLIENT = Column(N_("Client ID"), "client_id", TEXT, 15)
VENDOR_VIEWS: tuple[View, ...] = (
    View(
        N_("Sales and settlement"),
        "Sales",
        (
            _VENDOR,
            _CLIENT,
            Column(N_("Vends"), "sales_count", COUNT, 8),
            Column(N_("Sales"), "sales_cents", MONEY),
            Column(N_("Reversals"), "reversals_cents", MONEY),
            Column(N_("Net sales"), "net_sales_cents", MONEY),
            Column(N_("kWh sold"), "kwh_tenths", KWH, 11),
            Column(N_("Commission"), "commission_cents", MONEY),
            Column(N_("Settlement due"), "settlement_due_cents", MONEY, 15),
        ),
    ),
    View(
        N_("Revenue (excluding VAT) and VAT"),
        "Revenue",
        (
            _VENDOR,
            _CLIENT,
            Column(N_("Energy"), "energy_cents", MONEY),
            Column(N_("Fixed charges"), "fixed_charge_cents", MONEY),
            Column(N_("VAT"), "vat_cents", MONEY),
            Column(N_("Debt recovered"), "debt_recovered_cents", MONEY),
            Column(N_("Net sales"), "net_sales_cents", MONEY),
            Column(N_("Free kWh (FBE)"), "fbe_kwh_tenths", KWH, 11),
        ),
    ),
    View(
        N_("Scratch-card vouchers"),
        "Vouchers",
        (
            _VENDOR,
            _CLIENT,
            Column(N_("Voucher stock bought"), "voucher_stock_cents", MONEY, 15),
            Column(N_("Vouchers redeemed"), "voucher_redemptions_count", COUNT, 10),
            Column(N_("Redeemed value"), "voucher_redemptions_cents", MONEY, 15),
        ),
    ),
    View(
        N_("Floats and reconciliation"),
        "Floats",
        (
            _VENDOR,
            _CLIENT,
            Column(N_("Opening float"), "opening_float_cents", MONEY),
            Column(N_("Deposits"), "deposits_cents", MONEY),
            Column(N_("Adjustments"), "adjustments_cents", MONEY),
            Column(N_("Closing float"), "closing_float_cents", MONEY),
            Column(N_("Vendor's monthly report"), "monthly_report", TEXT, 30),
            Column(N_("Open breaks"), "open_breaks", COUNT, 8),
        ),
    ),
)
SHEETS = (*(v.sheet for v in VENDOR_VIEWS), "Daily sales", "Ledger", "Open breaks")

# The CSV: every figure, one row per vendor, for a spreadsheet or another system.
CSV_COLUMNS: tuple[Column, ...] = (
    _CLIENT,
    _VENDOR,
    Column(N_("Opening float"), "opening_float_cents", MONEY),
    Column(N_("Deposits"), "deposits_cents", MONEY),
    Column(N_("Adjustments"), "adjustments_cents", MONEY),
    Column(N_("Vends"), "sales_count", COUNT),
    Column(N_("Sales"), "sales_cents", MONEY),
    Column(N_("Reversals (count)"), "reversals_count", COUNT),
    Column(N_("Reversals"), "reversals_cents", MONEY),
    Column(N_("Net sales"), "net_sales_cents", MONEY),
    Column(N_("kWh sold"), "kwh_tenths", KWH),
    Column(N_("Energy excl. VAT"), "energy_cents", MONEY),
    Column(N_("Fixed charges excl. VAT"), "fixed_charge_cents", MONEY),
    Column(N_("VAT"), "vat_cents", MONEY),
    Column(N_("Debt recovered"), "debt_recovered_cents", MONEY),
    Column(N_("Commission"), "commission_cents", MONEY),
    Column(N_("Settlement due"), "settlement_due_cents", MONEY),
    Column(N_("Free kWh (FBE)"), "fbe_kwh_tenths", KWH),
    Column(N_("Voucher stock bought"), "voucher_stock_cents", MONEY),
    Column(N_("Vouchers redeemed"), "voucher_redemptions_count", COUNT),
    Column(N_("Redeemed value"), "voucher_redemptions_cents", MONEY),
    Column(N_("Closing float"), "closing_float_cents", MONEY),
    Column(N_("Vendor's monthly report"), "monthly_report", TEXT),
    Column(N_("Open breaks"), "open_breaks", COUNT),
)

TOTAL_LABEL = N_("Total, all vendors")
ENTRY_KINDS = {
    "vend": N_("Vends"),
    "reversal": N_("Reversals"),
    "deposit": N_("Deposits"),
    "adjustment": N_("Adjustments"),
    "voucher_sale": N_("Voucher sales"),
    "voucher_use": N_("Voucher redemptions"),
    "voucher_void": N_("Voucher voids"),
}
ACCOUNTS = {
    "vendor_float": N_("Vendor floats"),
    "energy_revenue": N_("Energy revenue"),
    "fixed_charge_revenue": N_("Fixed charge revenue"),
    "vat_payable": N_("VAT payable"),
    "debt_recovered": N_("Debt recovered"),
    "commission_expense": N_("Commission expense"),
    "bank": N_("Bank"),
    "adjustments": N_("Adjustments"),
    "voucher_liability": N_("Voucher liability"),
}
LEDGER_HEADINGS = (N_("Entry kind"), N_("Account"), N_("Sum of postings"))
BREAK_HEADINGS = (
    N_("Break"),
    N_("Vendor"),
    N_("Period"),
    N_("Category"),
    N_("Message ID"),
    N_("Business day"),
    N_("Age (days)"),
    N_("Effect"),
    N_("Note"),
)


def _grouped(text: str) -> str:
    """'1234567.50' -> '1,234,567.50' (thousands separated, as a printed report has them)."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + ",".join([whole, *groups]) + dot + frac


def format_value(kind: str, value: Any, *, grouped: bool = True) -> str:
    """A figure as text: cents and tenths of kWh as decimals, thousands separated."""
    if kind == MONEY:
        text = format_cents(value)
    elif kind == KWH:
        text = format_tenths(value)
    else:
        return str(value)
    return _grouped(text) if grouped else text


def _total_row(report: MonthlyReport) -> VendorMonth:
    return replace(report.totals, name=TOTAL_LABEL, client_id="")


# -- the other views, as rows of (text, numeric) -------------------------------------------------


def daily_rows(report: MonthlyReport) -> tuple[list[str], list[list[int]], list[int]]:
    """The days so far: (vendor names as headings, [per day: amounts per vendor], totals)."""
    clients = list(report.daily_sales)
    names = report.names()
    rows = []
    for i, _day in enumerate(report.days_so_far):
        rows.append([report.daily_sales[c][i] for c in clients])
    totals = [sum(r[k] for r in rows) for k in range(len(clients))]
    return [names.get(c, c) for c in clients], rows, totals


def ledger_rows(report: MonthlyReport) -> list[tuple[str, str, int]]:
    """(entry kind, account, sum of postings), titled, in the books' order."""
    order = list(ENTRY_KINDS)
    accounts = list(ACCOUNTS)
    return [
        (ENTRY_KINDS.get(kind, kind), ACCOUNTS.get(account, account), total)
        for (kind, account), total in sorted(
            report.ledger.items(),
            key=lambda item: (
                order.index(item[0][0]) if item[0][0] in order else 99,
                accounts.index(item[0][1]) if item[0][1] in accounts else 99,
            ),
        )
    ]


def breaks_rows(report: MonthlyReport) -> list[tuple[OpenBreak, str]]:
    """The month's open breaks with their vendor's name."""
    names = report.names()
    return [(b, names.get(b.client_id, b.client_id)) for b in report.breaks]


def daily_chart(
    report: MonthlyReport,
    title: str,
    *,
    width: int = 920,
    height: int = 340,
) -> str:
    """The days so far as an inline SVG line chart, one line per vendor that sold, its name in
    the legend (the clientID in ``data-series``)."""
    days = report.days_so_far
    series = {c: list(v[: len(days)]) for c, v in report.daily_sales.items() if any(v)}
    return line_chart(
        title,
        [f"{d.day:02d}" for d in days],
        series,
        lambda cents: _grouped(format_cents(cents)),
        labels=report.names(),
        width=width,
        height=height,
    )


# -- CSV ------------------------------------------------------------------------------------------


def render_csv(report: MonthlyReport) -> str:
    """Every figure, one row per vendor and a totals row; plain decimals (no separators)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.heading for c in CSV_COLUMNS])
    total = _total_row(report)
    for row in (*report.vendors, total):
        writer.writerow(
            [format_value(c.kind, getattr(row, c.attr), grouped=False) for c in CSV_COLUMNS]
        )
    return out.getvalue()


# -- XLSX -----------------------------------------------------------------------------------------


def _cell(kind: str, value: Any) -> Any:
    if kind == MONEY:
        return Decimal(value).scaleb(-2)
    if kind == KWH:
        return Decimal(value).scaleb(-1)
    return value


_NUMBER_FORMAT = {MONEY: "#,##0.00", KWH: "#,##0.0", COUNT: "#,##0"}
_HEAD_FILL = PatternFill("solid", fgColor="DDE3EA")
_RULE = Side(style="medium")
_TOTAL_BORDER = Border(top=_RULE, bottom=Side(style="double"))


def _sheet_setup(sheet: Worksheet, title: str, widths: Sequence[int]) -> None:
    """A4 landscape, one page wide, the heading row repeated on every printed page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "3:3"
    sheet.oddHeader.center.text = title
    sheet.oddFooter.right.text = "&P / &N"
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A4"


def _heading_rows(sheet: Worksheet, title: str, subtitle: str, headings: Sequence[str]) -> None:
    sheet.append([title])
    sheet.cell(1, 1).font = Font(bold=True, size=13)
    sheet.append([subtitle])
    sheet.append(list(headings))
    for c in range(1, len(headings) + 1):
        cell = sheet.cell(3, c)
        cell.font = Font(bold=True)
        cell.fill = _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _format_row(sheet: Worksheet, r: int, kinds: Sequence[str]) -> None:
    for c, kind in enumerate(kinds, start=1):
        if kind in _NUMBER_FORMAT:
            sheet.cell(r, c).number_format = _NUMBER_FORMAT[kind]


def _total_style(sheet: Worksheet, r: int, columns: int) -> None:
    for c in range(1, columns + 1):
        cell = sheet.cell(r, c)
        cell.font = Font(bold=True)
        cell.border = _TOTAL_BORDER


def write_xlsx(
    report: MonthlyReport, path: Path, *, utility_name: str = "", currency: str = ""
) -> None:
    """One sheet per view; totals after a blank row, bold between rules; prints A4 landscape."""
    book = Workbook()
    label = report.period.label
    subtitle = f"Business month {label} ({report.timezone})" + (
        f"; amounts in {currency}" if currency else ""
    )
    prefix = f"{utility_name}: " if utility_name else ""
    total = _total_row(report)
    first = True
    for view in VENDOR_VIEWS:
        if first:
            sheet = book.active
            assert sheet is not None
            sheet.title = view.sheet
            first = False
        else:
            sheet = book.create_sheet(view.sheet)
        title = f"{prefix}{view.title}, {label}"
        _heading_rows(sheet, title, subtitle, [c.heading for c in view.columns])
        kinds = [c.kind for c in view.columns]
        for row in report.vendors:
            sheet.append([_cell(c.kind, getattr(row, c.attr)) for c in view.columns])
            _format_row(sheet, sheet.max_row, kinds)
        sheet.append([])
        sheet.append([_cell(c.kind, getattr(total, c.attr)) for c in view.columns])
        _format_row(sheet, sheet.max_row, kinds)
        _total_style(sheet, sheet.max_row, len(view.columns))
        _sheet_setup(sheet, title, [c.width for c in view.columns])

    daily = book.create_sheet("Daily sales")
    names, rows, totals = daily_rows(report)
    title = f"{prefix}Daily sales per vendor, {label}"
    _heading_rows(daily, title, subtitle, ["Day", *names, "All vendors"])
    kinds = [TEXT, *([MONEY] * (len(names) + 1))]
    for day, amounts in zip(report.days_so_far, rows, strict=True):
        daily.append([day, *(_cell(MONEY, a) for a in amounts), _cell(MONEY, sum(amounts))])
        daily.cell(daily.max_row, 1).number_format = "yyyy-mm-dd"
        _format_row(daily, daily.max_row, kinds)
    daily.append([])
    daily.append(["Total", *(_cell(MONEY, t) for t in totals), _cell(MONEY, sum(totals))])
    _format_row(daily, daily.max_row, kinds)
    _total_style(daily, daily.max_row, len(names) + 2)
    _sheet_setup(daily, title, [12, *([14] * (len(names) + 1))])

    ledger_sheet = book.create_sheet("Ledger")
    title = f"{prefix}Ledger postings of the month, {label}"
    _heading_rows(ledger_sheet, title, subtitle, list(LEDGER_HEADINGS))
    for kind, account, amount in ledger_rows(report):
        ledger_sheet.append([kind, account, _cell(MONEY, amount)])
        _format_row(ledger_sheet, ledger_sheet.max_row, [TEXT, TEXT, MONEY])
    _sheet_setup(ledger_sheet, title, [16, 24, 16])

    breaks_sheet = book.create_sheet("Open breaks")
    title = f"{prefix}Open reconciliation breaks, {label}"
    _heading_rows(breaks_sheet, title, subtitle, list(BREAK_HEADINGS))
    for b, name in breaks_rows(report):
        breaks_sheet.append(
            [
                b.id,
                name,
                b.period_label,
                b.category,
                b.msg_id,
                b.business_date,
                b.age_days,
                _cell(MONEY, b.effect_cents),
                b.note,
            ]
        )
        breaks_sheet.cell(breaks_sheet.max_row, 6).number_format = "yyyy-mm-dd"
        breaks_sheet.cell(breaks_sheet.max_row, 8).number_format = _NUMBER_FORMAT[MONEY]
    _sheet_setup(breaks_sheet, title, [8, 24, 10, 16, 22, 12, 8, 12, 30])
    book.save(path)


# -- HTML -----------------------------------------------------------------------------------------

# Screen and print. A4 landscape is 297 mm wide: less 2 x 12 mm margins, about 1030 CSS px, so the
# nine-column views at 12 px and the 920 px chart fit without shrinking.
PRINT_CSS = """
.report { font-family: system-ui, sans-serif; color: #222; }
.report table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 12px; }
.report th, .report td { border: 1px solid #bbb; padding: 3px 6px; vertical-align: top; }
.report th { background: #e8ecf1; text-align: left; font-weight: 600; }
.report th.n, .report td.n { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.report td .id { display: block; color: #666; font-size: 10px; }
.report tfoot td { font-weight: bold; border-top: 2px solid #222;
  border-bottom: 3px double #222; background: #f5f5f5; }
.report .meta { color: #555; font-size: 12px; }
.report .signatures { margin-top: 2em; display: flex; gap: 4em; font-size: 12px; }
.report .signatures div { border-top: 1px solid #222; padding-top: 4px; min-width: 14em; }
.report svg.chart { max-width: 100%; height: auto; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; }
  .report { font-size: 10pt; }
  .report h2, .report h3 { break-after: avoid; page-break-after: avoid; }
  .report table, .report figure { break-inside: auto; }
  .report tr, .report svg.chart { break-inside: avoid; page-break-inside: avoid; }
  .report thead { display: table-header-group; }
  .report tfoot { display: table-row-group; }
  .report section.view + section.view { break-before: auto; }
  .no-print { display: none; }
}
"""


def _th(text: str, numeric: bool) -> str:
    return f'<th class="n">{escape(text)}</th>' if numeric else f"<th>{escape(text)}</th>"


def _td(text: str, numeric: bool) -> str:
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _view_table(view: View, report: MonthlyReport, heading: Callable[[str], str]) -> str:
    # The clientID sits under the vendor's name, so the view keeps one column for both.
    columns = [c for c in view.columns if c.attr != "client_id"]
    head = "".join(_th(heading(c.heading), c.kind != TEXT) for c in columns)
    body = []
    for row in report.vendors:
        cells = []
        for c in columns:
            if c.attr == "name":
                cells.append(
                    f'<td>{escape(row.name)}<span class="id">{escape(row.client_id)}</span></td>'
                )
            else:
                cells.append(_td(format_value(c.kind, getattr(row, c.attr)), c.kind != TEXT))
        body.append("<tr>" + "".join(cells) + "</tr>")
    total = _total_row(report)
    foot = "".join(
        _td(
            heading(TOTAL_LABEL)
            if c.attr == "name"
            else format_value(c.kind, getattr(total, c.attr)),
            c.kind != TEXT,
        )
        for c in columns
    )
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
        f"<tfoot><tr>{foot}</tr></tfoot></table>"
    )


def render_html_body(
    report: MonthlyReport,
    currency: str,
    *,
    heading: Callable[[str], str] = N_,
) -> str:
    """The report's views, chart, ledger and breaks as one ``<div class="report">``: the file's
    body, and what the console's reports page embeds (``heading`` translates the titles)."""
    label = report.period.label
    parts = ['<div class="report">']
    for view in VENDOR_VIEWS:
        parts.append(f'<section class="view"><h2>{escape(heading(view.title))}</h2>')
        parts.append(_view_table(view, report, heading))
        parts.append("</section>")
    days = report.days_so_far
    parts.append(f"<h2>{escape(heading(N_('Daily sales per vendor')))}</h2>")
    if days and any(any(v) for v in report.daily_sales.values()):
        parts.append(
            daily_chart(report, f"{heading(N_('Daily sales per vendor'))}, {label} ({currency})")
        )
        if len(days) < len(report.days):
            parts.append(
                f'<p class="meta">{escape(heading(N_("Up to")))} {escape(days[-1].isoformat())}</p>'
            )
    else:
        parts.append(f"<p>{escape(heading(N_('No sales yet this month.')))}</p>")
    parts.append(f"<h2>{escape(heading(N_('Ledger postings of the month')))}</h2>")
    rows = "".join(
        "<tr>"
        + _td(heading(kind), False)
        + _td(heading(account), False)
        + _td(format_value(MONEY, amount), True)
        + "</tr>"
        for kind, account, amount in ledger_rows(report)
    )
    head = "".join(_th(heading(h), i == 2) for i, h in enumerate(LEDGER_HEADINGS))
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    parts.append(f"<h2>{escape(heading(N_('Open reconciliation breaks')))}</h2>")
    found = breaks_rows(report)
    if found:
        numeric = {0, 6, 7}
        head = "".join(_th(heading(h), i in numeric) for i, h in enumerate(BREAK_HEADINGS))
        rows = "".join(
            "<tr>"
            + "".join(
                _td(text, i in numeric)
                for i, text in enumerate(
                    (
                        str(b.id),
                        name,
                        b.period_label,
                        b.category,
                        b.msg_id,
                        b.business_date.isoformat(),
                        str(b.age_days),
                        format_value(MONEY, b.effect_cents),
                        b.note,
                    )
                )
            )
            + "</tr>"
            for b, name in found
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    else:
        parts.append(f"<p>{escape(heading(N_('No open breaks for this month.')))}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def render_html(report: MonthlyReport, utility_name: str, currency: str) -> str:
    """The self-contained document (no script, nothing fetched) that is printed and signed."""
    label = report.period.label
    title = f"{utility_name}: monthly vending report {label}"
    as_of = (
        f" Figures up to {report.days_so_far[-1].isoformat()}."
        if report.days_so_far and len(report.days_so_far) < len(report.days)
        else ""
    )
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{escape(title)}</title>",
                f"<style>body {{ margin: 2em; }}{PRINT_CSS}</style></head><body>",
                '<div class="report">',
                f"<h1>{escape(title)}</h1>",
                f'<p class="meta">Business month {escape(label)} in {escape(report.timezone)}: '
                f"{escape(report.window.start.isoformat())} to "
                f"{escape(report.window.end.isoformat())} (UTC). Amounts in "
                f"{escape(currency)}; every figure is a sum of ledger postings.{escape(as_of)}</p>",
                "</div>",
                render_html_body(report, currency),
                '<div class="report"><div class="signatures"><div>Prepared by</div>'
                "<div>Checked by</div><div>Date</div></div></div>",
                "</body></html>",
            ]
        )
        + "\n"
    )
