"""The monthly finance report: a month of vending (deposits, debt recovery, a fixed charge, free
basic electricity, a reversal in the month and one the month after, an adjustment), with every
figure recomputed from the ledger postings, and the CSV, XLSX and HTML the finance office gets."""

from __future__ import annotations

import csv
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.db import transaction
from gateway.vend.models import VendTransaction
from reconciliation import runs
from reconciliation.cli import reconcile, report
from reconciliation.monthly import MonthlyReport, monthly_report
from reconciliation.monthly_render import SHEETS, VENDOR_VIEWS, render_html, write_xlsx
from reconciliation.periods import parse_period
from tests.support.reconciliation import (
    BANK,
    COMMERCIAL_METER,
    DEBT_METER,
    FBE_METER,
    METER,
    SHOP,
    Utility,
    line,
    local,
    write_report,
)
from vendor_accounts import adjust, deposit, statement
from vendor_accounts.ledger import check_invariants
from vendor_accounts.models import JournalEntry, Posting

OCTOBER = parse_period("2026-10")
REVENUE = ("energy_revenue", "fixed_charge_revenue", "vat_payable", "debt_recovered")


def plant_october(u: Utility) -> dict[str, str]:
    m: dict[str, str] = {}
    m["plain"], _ = u.vend(local(2026, 10, 5, 9, 0), 10000)
    m["debt"], _ = u.vend(local(2026, 10, 10, 9, 0), 20000, meter=DEBT_METER)
    m["commercial"], _ = u.vend(local(2026, 10, 12, 9, 0), 30000, meter=COMMERCIAL_METER)
    m["fbe"], _ = u.vend(local(2026, 10, 15, 9, 0), 5000, meter=FBE_METER)
    m["reversed"], _ = u.vend(local(2026, 10, 20, 9, 0), 8000)
    u.reverse(m["reversed"], local(2026, 10, 20, 9, 10))
    m["late"], _ = u.vend(local(2026, 10, 31, 23, 50), 6000)
    u.reverse(m["late"], local(2026, 11, 1, 0, 5))
    m["shop"], _ = u.vend(local(2026, 10, 7, 12, 0), 2500, client_id=SHOP)
    m["november"], _ = u.vend(local(2026, 11, 10, 9, 0), 20000, meter=COMMERCIAL_METER)
    with transaction(u.db.sessions) as session:
        deposit(
            session,
            vendor_id=u.vendor_ids[BANK],
            amount_cents=100000,
            bank_reference="EFT-1016",
            actor="finance",
            at=local(2026, 10, 16, 11, 0),
        )
        adjust(
            session,
            vendor_id=u.vendor_ids[SHOP],
            amount_cents=-500,
            reason="bank charges",
            operator="finance",
            at=local(2026, 10, 18, 11, 0),
        )
    return m


def figures(u: Utility) -> MonthlyReport:
    with u.db.sessions() as session:
        return monthly_report(session, OCTOBER, runs.calendar_of(u.db.runtime), date(2026, 11, 21))


def test_every_figure_ties_back_to_the_ledger_postings(utility: Utility) -> None:
    m = plant_october(utility)
    result = figures(utility)
    window = result.window
    with utility.db.sessions() as session:
        assert check_invariants(session) == []
        sums: dict[tuple[str, str], int] = {}
        for kind, account, total in session.execute(
            select(JournalEntry.kind, Posting.account, func.sum(Posting.amount_cents))
            .join(Posting, Posting.journal_entry_id == JournalEntry.id)
            .where(JournalEntry.at >= window.start, JournalEntry.at < window.end)
            .group_by(JournalEntry.kind, Posting.account)
        ):
            sums[(kind, account)] = int(total)
        before = int(
            session.scalar(
                select(func.sum(Posting.amount_cents))
                .join(JournalEntry, JournalEntry.id == Posting.journal_entry_id)
                .where(Posting.account == "vendor_float", JournalEntry.at < window.start)
            )
            or 0
        )
        units = {
            msg: n
            for msg, n in session.execute(
                select(VendTransaction.msg_id, VendTransaction.units_tenths)
            )
        }
        bank_statement = statement(
            session,
            utility.vendor_ids[BANK],
            OCTOBER.first,
            OCTOBER.last,
            timezone="Africa/Johannesburg",
        )

    def posted(kinds: tuple[str, ...], *accounts: str) -> int:
        return sum(sums.get((k, a), 0) for k in kinds for a in accounts)

    both = ("vend", "reversal")
    t = result.totals
    assert t.sales_cents == posted(("vend",), *REVENUE)
    assert t.reversals_cents == -posted(("reversal",), *REVENUE)
    assert t.energy_cents == posted(both, "energy_revenue")
    assert t.fixed_charge_cents == posted(both, "fixed_charge_revenue")
    assert t.vat_cents == posted(both, "vat_payable")
    assert t.debt_recovered_cents == posted(both, "debt_recovered")
    assert t.commission_cents == -posted(both, "commission_expense")
    assert t.deposits_cents == posted(("deposit",), "vendor_float")
    assert t.adjustments_cents == posted(("adjustment",), "vendor_float")
    assert t.opening_float_cents == before
    assert t.closing_float_cents - t.opening_float_cents == posted(
        ("vend", "reversal", "deposit", "adjustment"), "vendor_float"
    )
    assert (
        t.net_sales_cents
        == (t.energy_cents + t.fixed_charge_cents + t.vat_cents + t.debt_recovered_cents)
        == t.sales_cents - t.reversals_cents
    )
    assert t.settlement_due_cents == t.net_sales_cents - t.commission_cents
    for v in (*result.vendors, t):
        assert v.closing_float_cents == (
            v.opening_float_cents
            + v.deposits_cents
            + v.adjustments_cents
            - v.net_sales_cents
            + v.commission_cents
        )

    bank, shop = (next(v for v in result.vendors if v.client_id == c) for c in (BANK, SHOP))
    assert (bank.sales_count, bank.sales_cents) == (6, 79000)  # the late reversal's vend too
    assert (bank.reversals_count, bank.reversals_cents) == (1, 8000)
    assert bank.commission_cents == sum(a * 150 // 10000 for a in (10000, 20000, 30000, 5000, 6000))
    assert bank.debt_recovered_cents == 4000  # 20 % of the tender on the indebted meter
    assert bank.fixed_charge_cents > 0 and bank.fbe_kwh_tenths == 500
    assert bank.kwh_tenths == sum(
        units[m[k]] for k in ("plain", "debt", "commercial", "fbe", "late")
    )
    assert bank.closing_float_cents == bank_statement.closing_balance_cents
    assert bank.opening_float_cents == bank_statement.opening_balance_cents
    assert (shop.sales_cents, shop.adjustments_cents, shop.commission_cents) == (2500, -500, 0)
    assert (bank.monthly_report, shop.monthly_report) == ("not received", "not received")
    assert sum(result.daily_sales[BANK]) == bank.sales_cents
    assert result.daily_sales[BANK][4] == 10000  # 5 October


def test_the_finance_office_gets_csv_xlsx_and_html(utility: Utility, tmp_path: Path) -> None:
    m = plant_october(utility)
    monthly_file = write_report(
        tmp_path,
        BANK,
        "202610",
        [
            line(m["plain"], 10000, local(2026, 10, 5, 9, 0)),
            line(m["debt"], 20000, local(2026, 10, 10, 9, 0), meter=DEBT_METER),
            line(m["commercial"], 30000, local(2026, 10, 12, 9, 0), meter=COMMERCIAL_METER),
            line(m["fbe"], 5000, local(2026, 10, 15, 9, 0), meter=FBE_METER),
            line(m["reversed"], 8000, local(2026, 10, 20, 9, 0), status="REVERSED"),
            line(m["late"], 6000, local(2026, 10, 31, 23, 50), meter=METER),
        ],
    )
    done = CliRunner().invoke(reconcile, ["file", str(monthly_file)], obj=utility.db.runtime)
    assert done.exit_code == 0, done.output
    assert "settlement due" in done.output

    runner = CliRunner()
    as_csv = runner.invoke(
        report, ["monthly", "--month", "2026-10", "--format", "csv"], obj=utility.db.runtime
    )
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.reader(as_csv.output.splitlines()))
    header, bank_row, shop_row, total_row = rows
    assert header[:3] == ["Client ID", "Vendor", "Opening float"]
    assert all("_" not in h for h in header)  # titled, not snake_case
    names = {v.client_id: v.name for v in figures(utility).vendors}
    assert bank_row[:2] == [BANK, names[BANK]] and total_row[:2] == ["", "Total, all vendors"]
    sales = header.index("Sales")
    assert (bank_row[sales], shop_row[sales], total_row[sales]) == ("790.00", "25.00", "815.00")
    assert bank_row[header.index("Vendor's monthly report")] == "reconciled (run 1, 0 open breaks)"
    assert shop_row[header.index("Vendor's monthly report")] == "not received"

    xlsx = tmp_path / "october.xlsx"
    done = runner.invoke(
        report,
        ["monthly", "--month", "2026-10", "--format", "xlsx", "--out", str(xlsx)],
        obj=utility.db.runtime,
    )
    assert done.exit_code == 0, done.output
    book = load_workbook(xlsx)
    assert book.sheetnames == list(SHEETS)
    for view in VENDOR_VIEWS:
        sheet = book[view.sheet]
        assert len(view.columns) <= 9
        assert sheet.page_setup.orientation == "landscape"
        assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4  # 9: A4
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    sales_sheet = list(book["Sales"].iter_rows(values_only=True))
    headings = list(sales_sheet[2])
    assert headings[:2] == ["Vendor", "Client ID"] and "Settlement due" in headings
    assert sales_sheet[3][:2] == (names[BANK], BANK)
    assert all(c is None for c in sales_sheet[-2])  # the gap before the totals
    assert sales_sheet[-1][0] == "Total, all vendors"
    assert book["Sales"].cell(book["Sales"].max_row, 1).font.bold
    assert Decimal(str(sales_sheet[-1][headings.index("Sales")])) == Decimal("815.00")
    daily = list(book["Daily sales"].iter_rows(values_only=True))
    assert daily[2][1:3] == tuple(names[c] for c in figures(utility).daily_sales)
    assert len(daily) == 3 + 31 + 2 and daily[2][-1] == "All vendors"
    ledger_sheet = list(book["Ledger"].iter_rows(values_only=True))
    assert ("Vends", "Energy revenue") in {row[:2] for row in ledger_sheet[3:]}

    html_path = tmp_path / "october.html"
    done = runner.invoke(
        report,
        ["monthly", "--month", "2026-10", "--format", "html", "--out", str(html_path)],
        obj=utility.db.runtime,
    )
    assert done.exit_code == 0, done.output
    html = html_path.read_text()
    assert "<svg" in html and "Daily sales per vendor" in html
    assert f'data-series="{BANK}"' in html and f'data-series="{SHOP}"' in html
    assert f">{names[BANK]}</text>" in html  # the legend names the vendor
    assert "@page { size: A4 landscape" in html and "@media print" in html
    assert "<th>Vendor</th>" in html and "net_sales" not in html
    assert "<tfoot><tr><td>Total, all vendors</td>" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_days_still_to_come_are_left_out(utility: Utility, tmp_path: Path) -> None:
    plant_october(utility)
    with utility.db.sessions() as session:
        result = monthly_report(
            session, OCTOBER, runs.calendar_of(utility.db.runtime), date(2026, 10, 12)
        )
    assert result.days_so_far[-1] == date(2026, 10, 12) and len(result.days_so_far) == 12
    html = render_html(result, "Demo Power", "ZAR")
    polylines = re.findall(r'<polyline class="series"[^>]* points="([^"]*)"', html)
    assert polylines and all(len(p.split()) == 12 for p in polylines)
    assert "Figures up to 2026-10-12" in html
    path = tmp_path / "so-far.xlsx"
    write_xlsx(result, path)
    daily = list(load_workbook(path)["Daily sales"].iter_rows(values_only=True))
    assert len(daily) == 3 + 12 + 2
    assert daily[-3][0].date() == date(2026, 10, 12)
