"""The monthly finance report written out: CSV (the vendor view), XLSX (one sheet per view) and
HTML (tables and an inline SVG chart of daily sales per vendor).

Renderers only format a computed ``MonthlyReport``; they never query. Money in XLSX is written as
exact decimals (Decimal, never float) with a two-place number format, so a spreadsheet total
equals the report's total to the cent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from core.money import format_cents, format_tenths
from reconciliation.monthly import MonthlyReport, VendorMonth
from reconciliation.svg_chart import line_chart

__all__ = ["FORMATS", "SHEETS", "VENDOR_COLUMNS", "render_csv", "render_html", "write_xlsx"]

FORMATS = ("csv", "xlsx", "html")
SHEETS = ("Vendors", "Daily sales", "Ledger", "Open breaks")
MONEY, KWH, COUNT, TEXT = "money", "kwh", "count", "text"
# (heading, VendorMonth attribute, kind)
VENDOR_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("client_id", "client_id", TEXT),
    ("vendor", "name", TEXT),
    ("opening_float", "opening_float_cents", MONEY),
    ("deposits", "deposits_cents", MONEY),
    ("adjustments", "adjustments_cents", MONEY),
    ("sales_count", "sales_count", COUNT),
    ("sales", "sales_cents", MONEY),
    ("reversals_count", "reversals_count", COUNT),
    ("reversals", "reversals_cents", MONEY),
    ("net_sales", "net_sales_cents", MONEY),
    ("kwh_sold", "kwh_tenths", KWH),
    ("energy_excl_vat", "energy_cents", MONEY),
    ("fixed_charges_excl_vat", "fixed_charge_cents", MONEY),
    ("vat", "vat_cents", MONEY),
    ("debt_recovered", "debt_recovered_cents", MONEY),
    ("commission", "commission_cents", MONEY),
    ("settlement_due", "settlement_due_cents", MONEY),
    ("fbe_kwh_issued", "fbe_kwh_tenths", KWH),
    ("voucher_stock", "voucher_stock_cents", MONEY),
    ("voucher_redemptions_count", "voucher_redemptions_count", COUNT),
    ("voucher_redemptions", "voucher_redemptions_cents", MONEY),
    ("closing_float", "closing_float_cents", MONEY),
    ("monthly_report", "monthly_report", TEXT),
    ("open_breaks", "open_breaks", COUNT),
)
_TEXT_FORMAT: dict[str, Callable[[Any], str]] = {
    MONEY: format_cents,
    KWH: format_tenths,
    COUNT: str,
    TEXT: str,
}


def _rows(report: MonthlyReport) -> list[VendorMonth]:
    return [*report.vendors, report.totals]


def render_csv(report: MonthlyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([heading for heading, _, _ in VENDOR_COLUMNS])
    for row in _rows(report):
        writer.writerow(
            [_TEXT_FORMAT[kind](getattr(row, attr)) for _, attr, kind in VENDOR_COLUMNS]
        )
    return out.getvalue()


def _cell(kind: str, value: Any) -> Any:
    if kind == MONEY:
        return Decimal(value).scaleb(-2)
    if kind == KWH:
        return Decimal(value).scaleb(-1)
    return value


_NUMBER_FORMAT = {MONEY: "#,##0.00", KWH: "#,##0.0", COUNT: "0"}


def write_xlsx(report: MonthlyReport, path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEETS[0]
    sheet.append([heading for heading, _, _ in VENDOR_COLUMNS])
    for r, row in enumerate(_rows(report), start=2):
        sheet.append([_cell(kind, getattr(row, attr)) for _, attr, kind in VENDOR_COLUMNS])
        for c, (_, _, kind) in enumerate(VENDOR_COLUMNS, start=1):
            if kind in _NUMBER_FORMAT:
                sheet.cell(r, c).number_format = _NUMBER_FORMAT[kind]
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)

    daily = book.create_sheet(SHEETS[1])
    clients = list(report.daily_sales)
    daily.append(["date", *clients, "total"])
    for i, day in enumerate(report.days):
        amounts = [report.daily_sales[c][i] for c in clients]
        daily.append([day, *(_cell(MONEY, a) for a in amounts), _cell(MONEY, sum(amounts))])
        daily.cell(i + 2, 1).number_format = "yyyy-mm-dd"
        for c in range(2, len(clients) + 3):
            daily.cell(i + 2, c).number_format = _NUMBER_FORMAT[MONEY]

    ledger_sheet = book.create_sheet(SHEETS[2])
    ledger_sheet.append(["entry_kind", "account", "postings_sum"])
    for (kind, account), total in sorted(report.ledger.items()):
        ledger_sheet.append([kind, account, _cell(MONEY, total)])
        ledger_sheet.cell(ledger_sheet.max_row, 3).number_format = _NUMBER_FORMAT[MONEY]

    breaks_sheet = book.create_sheet(SHEETS[3])
    breaks_sheet.append(
        [
            "break_id",
            "client_id",
            "period",
            "category",
            "msg_id",
            "business_date",
            "age_days",
            "effect",
            "note",
        ]
    )
    for b in report.breaks:
        breaks_sheet.append(
            [
                b.id,
                b.client_id,
                b.period_label,
                b.category,
                b.msg_id,
                b.business_date,
                b.age_days,
                _cell(MONEY, b.effect_cents),
                b.note,
            ]
        )
    book.save(path)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f3f3f3; }
"""


def _table(
    headings: list[str], rows: list[list[tuple[str, bool]]], total_last: bool = False
) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headings) + "</tr>"]
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 else ""
        cells = "".join(
            f'<td class="n">{escape(v)}</td>' if numeric else f"<td>{escape(v)}</td>"
            for v, numeric in row
        )
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(report: MonthlyReport, utility_name: str, currency: str) -> str:
    label = report.period.label
    vendor_rows = [
        [(_TEXT_FORMAT[kind](getattr(row, attr)), kind != TEXT) for _, attr, kind in VENDOR_COLUMNS]
        for row in _rows(report)
    ]
    chart = line_chart(
        f"Daily sales per vendor, {label} ({currency})",
        [f"{d.day:02d}" for d in report.days],
        {c: list(v) for c, v in report.daily_sales.items()},
        format_cents,
    )
    ledger_rows = [
        [(kind, False), (account, False), (format_cents(total), True)]
        for (kind, account), total in sorted(report.ledger.items())
    ]
    break_rows = [
        [
            (str(b.id), True),
            (b.client_id, False),
            (b.period_label, False),
            (b.category, False),
            (b.msg_id, False),
            (b.business_date.isoformat(), False),
            (str(b.age_days), True),
            (format_cents(b.effect_cents), True),
            (b.note, False),
        ]
        for b in report.breaks
    ]
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{escape(utility_name)}: vending report {escape(label)}</title>",
                f"<style>{_CSS}</style></head><body>",
                f"<h1>{escape(utility_name)}: monthly vending report {escape(label)}</h1>",
                f"<p>Business month {escape(label)} in {escape(report.timezone)}: "
                f"{escape(report.window.start.isoformat())} to "
                f"{escape(report.window.end.isoformat())}"
                f" (UTC). Amounts in {escape(currency)}; every figure is a sum of ledger postings."
                "</p>",
                "<h2>Vendors</h2>",
                _table([h for h, _, _ in VENDOR_COLUMNS], vendor_rows, total_last=True),
                "<h2>Daily sales</h2>",
                chart,
                "<h2>Ledger</h2>",
                _table(["entry kind", "account", "postings sum"], ledger_rows),
                "<h2>Open breaks</h2>",
                _table(
                    [
                        "break",
                        "client_id",
                        "period",
                        "category",
                        "msg_id",
                        "business date",
                        "age (days)",
                        "effect",
                        "note",
                    ],
                    break_rows,
                )
                if break_rows
                else "<p>No open breaks for this month.</p>",
                "</body></html>",
            ]
        )
        + "\n"
    )
