"""/reports through the real application: the monthly report on screen with its chart of daily
sales per vendor, the CSV, XLSX and printable HTML downloads, the operational reports, and who
may see them."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from reconciliation import monthly_render
from tests.console.conftest import Console
from tests.support.reconciliation import BANK, Clock, Utility, local
from vendgw.console.access import ROLES
from vendgw.console.pages import reports
from vendor_accounts import get_vendor


def _october(console: Console) -> None:
    with console.db.sessions() as s:
        ids = {BANK: get_vendor(s, BANK).id}
    utility = Utility(console.db, Clock(), ids)
    utility.vend(local(2026, 10, 5, 9, 0), 10000)
    utility.vend(local(2026, 10, 6, 9, 0), 4000)


def test_every_heading_of_the_renderer_has_a_catalog_entry() -> None:
    wanted = {c.heading for view in monthly_render.VENDOR_VIEWS for c in view.columns}
    wanted |= {view.title for view in monthly_render.VENDOR_VIEWS}
    wanted |= {c.heading for c in monthly_render.CSV_COLUMNS}
    wanted |= set(monthly_render.ENTRY_KINDS.values()) | set(monthly_render.ACCOUNTS.values())
    wanted |= set(monthly_render.LEDGER_HEADINGS) | set(monthly_render.BREAK_HEADINGS)
    wanted |= {monthly_render.TOTAL_LABEL}
    assert wanted - set(reports.HEADINGS) == set()


def test_the_monthly_report_on_screen_and_its_downloads(console: Console) -> None:
    _october(console)
    client = console.client("finance")
    page = client.get("/reports/?month=2026-10")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Sales and settlement" in html and "Settlement due" in html
    assert "Demo Bank" in html and "Total, all vendors" in html
    assert "<svg" in html and f'data-series="{BANK}"' in html and ">Demo Bank</text>" in html
    assert "<script" not in html

    as_csv = client.get("/reports/monthly.csv?month=2026-10")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.reader(as_csv.get_data(as_text=True).splitlines()))
    bank = next(r for r in rows if r[0] == BANK)
    assert bank[rows[0].index("Sales")] == "140.00"

    as_xlsx = client.get("/reports/monthly.xlsx?month=2026-10")
    assert as_xlsx.status_code == 200
    assert "vending_202610.xlsx" in as_xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(as_xlsx.get_data()))
    assert book.sheetnames == list(monthly_render.SHEETS)

    printable = client.get("/reports/monthly.html?month=2026-10").get_data(as_text=True)
    assert "@page { size: A4 landscape" in printable and "Demo Bank" in printable

    assert client.get("/reports/monthly.pdf?month=2026-10").status_code == 404
    assert client.get("/reports/?month=October").status_code == 400


def test_the_report_in_french_formats_amounts_for_the_locale(console: Console) -> None:
    _october(console)
    console.add_user("finance-fr", "finance", language="fr")
    client = console.app.test_client()
    console.login(client, "finance-fr")
    html = client.get("/reports/?month=2026-10").get_data(as_text=True)
    assert "140,00" in html  # the French decimal comma, from the money filter


@pytest.mark.parametrize("name", list(reports.OPERATIONAL))
def test_the_operational_reports(console: Console, name: str) -> None:
    _october(console)
    client = console.client("auditor")
    page = client.get(f"/reports/operational/{name}?month=2026-10")
    assert page.status_code == 200
    download = client.get(f"/reports/operational/{name}?month=2026-10&format=csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    header = next(csv.reader(download.get_data(as_text=True).splitlines()))
    assert all("_" not in h for h in header), header  # every column titled
    if name == "vending":
        assert "Demo Bank" in page.get_data(as_text=True)
    if name.startswith("vending"):  # voucher redemptions apart, after the float's own vends
        assert header[-5:] == [
            "Reversed vends",
            "Reversed amount",
            "Voucher vends",
            "Voucher amount",
            "Voucher kWh",
        ]
    assert client.get("/reports/operational/nothing").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_who_may_use_the_reports(console: Console, role: str) -> None:
    client = console.client(role)
    expected = 200 if role in ("finance", "auditor") else 403
    assert client.get("/reports/").status_code == expected
    assert client.get("/reports/monthly.csv").status_code == expected
    assert client.get("/reports/operational/vending").status_code == expected
    assert console.anonymous().get("/reports/").status_code == 302
