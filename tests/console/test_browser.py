"""The console in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
headless, no browser download) against `vendgw console` under gunicorn, on a seeded database of
each backend. Each journey saves a screenshot under this run's basetemp
(<basetemp>/console-screenshots/).

Users are added with the real CLI (`vendgw user add --password-file`).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader, VendReceipt
from tests.conftest import TestDatabase
from tests.e2e.conftest import ROOT, e2e_db, free_port  # noqa: F401 - e2e_db is a fixture
from vendor_accounts import get_terminal, get_vendor

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser test password"
USERS = {  # username -> (role, language)
    "olga": ("operator", "en"),
    "amina": ("supervisor", "ar"),
    "fatou": ("finance", "fr"),
    "frank": ("finance", "en"),
    "audrey": ("auditor", "en"),
}
_numbers = itertools.count(1)

if not Path(CHROMIUM).exists():  # .ci/run installs it; say so rather than skip silently
    raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")


class ConsoleServer:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log


def _cli(database: TestDatabase, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vendgw.cli", *args],
        cwd=ROOT,
        env={**os.environ, **database.env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def console_server(
    e2e_db: TestDatabase,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ConsoleServer]:
    """`vendgw console` (gunicorn) on the module's demo database, with a user per journey."""
    folder = tmp_path_factory.mktemp("console-server")
    password_file = folder / "password.txt"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    for username, (role, language) in USERS.items():
        if username == "olga":
            # without --password-file: a generated password, printed once; then reset to ours
            out = _cli(e2e_db, "user", "add", "--username", username, "--role", role)
            assert re.search(r"password \(shown once\): \S{16,}", out)
            _cli(e2e_db, "user", "reset-password", username, "--password-file", str(password_file))
            continue
        _cli(
            e2e_db,
            "user",
            "add",
            "--username",
            username,
            "--role",
            role,
            "--language",
            language,
            "--password-file",
            str(password_file),
        )
    port = free_port()
    log = folder / "console.log"
    env = {**os.environ, **e2e_db.env(), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vendgw.cli",
                "console",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"vendgw console exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/login", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"vendgw console did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    try:
        yield ConsoleServer(url, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object, console_server: ConsoleServer) -> Iterator[object]:
    context = browser.new_context(base_url=console_server.url, accept_downloads=True)  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "console-screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def shot(page: object, folder: Path, name: str, backend: str) -> Path:
    path = folder / f"{name}-{backend}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    assert path.stat().st_size > 1000
    return path


def log_in(page: object, username: str) -> None:
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-form button[type=submit]")  # type: ignore[attr-defined]


def vend(database: TestDatabase, meter: str, cents: int) -> VendReceipt:
    client_id, code = "6004000000019", "ATM-0001"
    with database.sessions() as session:
        vendor = get_vendor(session, client_id)
        terminal = get_terminal(session, client_id, code)
        who = Principal(vendor.id, client_id, code, frozenset(terminal.privileges), vendor.kind)
    head = RequestHeader(client_id, code, MsgID("20261201100000", 8_000_000 + next(_numbers)))
    return DatabaseVendingService(database.runtime).credit_vend(who, head, meter, cents, "cash")


def test_an_operator_logs_in_and_finds_a_meters_tokens(
    page: object,
    e2e_db: TestDatabase,  # noqa: F811
    screenshots: Path,
) -> None:
    receipt = vend(e2e_db, "01234567897", 7500)
    token = next(t for line in receipt.lines for t in line.tokens)
    page.goto("/meters")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    log_in(page, "olga")
    page.wait_for_url("**/meters")  # type: ignore[attr-defined]
    page.fill("#q", "Thandi")  # type: ignore[attr-defined]  # the demo customer of 01234567897
    page.click("#meter-search button")  # type: ignore[attr-defined]
    assert "Thandi Mokoena" in page.locator("#meter-hits").inner_text()  # type: ignore[attr-defined]
    page.click("a:has-text('01234567897')")  # type: ignore[attr-defined]
    page.wait_for_url("**/meters/01234567897")  # type: ignore[attr-defined]
    spaced = " ".join(token[i : i + 4] for i in range(0, 20, 4))
    row = page.locator(f"#vends tr:has-text('{receipt.receipt_no}')")  # type: ignore[attr-defined]
    assert spaced in row.inner_text()
    shot(page, screenshots, "meter-tokens", e2e_db.backend)
    page.click(f"#reprint-{receipt.receipt_no}")  # type: ignore[attr-defined]
    assert spaced in page.locator("#receipt").inner_text()  # type: ignore[attr-defined]


def test_the_dashboard_in_arabic_reads_right_to_left(
    page: object,
    e2e_db: TestDatabase,  # noqa: F811
    screenshots: Path,
) -> None:
    vend(e2e_db, "04000000044", 20000)
    page.goto("/")  # type: ignore[attr-defined]
    log_in(page, "amina")  # her language is Arabic
    page.wait_for_selector("#sales-today")  # type: ignore[attr-defined]
    html = page.locator("html")  # type: ignore[attr-defined]
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
    assert page.locator("h1").inner_text() == "لوحة المعلومات"  # type: ignore[attr-defined]
    assert page.locator("#vends-per-hour svg").count() == 1  # type: ignore[attr-defined]
    shot(page, screenshots, "dashboard-ar", e2e_db.backend)
    # switching language is per user and sticks
    page.select_option("#language", "en")  # type: ignore[attr-defined]
    page.click("#language-form button")  # type: ignore[attr-defined]
    page.wait_for_selector("html[dir=ltr]")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Dashboard"  # type: ignore[attr-defined]
    page.select_option("#language", "ar")  # type: ignore[attr-defined]
    page.click("#language-form button")  # type: ignore[attr-defined]
    page.wait_for_selector("html[dir=rtl]")  # type: ignore[attr-defined]


def _balance(database: TestDatabase, client_id: str) -> int:
    from vendor_accounts import balance

    with database.sessions() as session:
        return balance(session, get_vendor(session, client_id).id).balance_cents


def test_a_deposit_entered_by_one_user_posts_when_another_approves_it(
    browser: object,
    console_server: ConsoleServer,
    e2e_db: TestDatabase,  # noqa: F811
    screenshots: Path,
) -> None:
    shop = "6004000000026"
    reference = f"BANK-REF-{e2e_db.backend}-{next(_numbers)}"
    before = _balance(e2e_db, shop)
    maker_context = browser.new_context(base_url=console_server.url)  # type: ignore[attr-defined]
    checker_context = browser.new_context(base_url=console_server.url)  # type: ignore[attr-defined]
    try:
        maker = maker_context.new_page()
        maker.goto("/floats/")
        log_in(maker, "fatou")  # French
        maker.wait_for_selector("#deposit-form")
        assert maker.locator("html").get_attribute("lang") == "fr"
        maker.select_option("#deposit-vendor", shop)
        maker.fill("#deposit-amount", "250.00")
        maker.fill("#deposit-reference", reference)
        maker.click("#deposit-submit")
        row = maker.locator(f"#pending-deposits tr:has-text('{reference}')")
        row.wait_for()
        assert row.locator("button[id^=approve-]").count() == 0  # not by the maker
        assert _balance(e2e_db, shop) == before  # nothing posted before approval
        shot(maker, screenshots, "deposit-entered", e2e_db.backend)

        checker = checker_context.new_page()
        checker.goto("/floats/")
        log_in(checker, "frank")
        pending = checker.locator(f"#pending-deposits tr:has-text('{reference}')")
        pending.locator("button[id^=approve-]").click()
        checker.locator(f"#decided-deposits tr:has-text('{reference}')").wait_for()
        assert _balance(e2e_db, shop) == before + 25000  # posted once
        shot(checker, screenshots, "deposit-approved", e2e_db.backend)
    finally:
        maker_context.close()
        checker_context.close()
    assert _balance(e2e_db, shop) == before + 25000


def test_finance_uploads_a_vendor_file_and_resolves_a_break(
    page: object,
    e2e_db: TestDatabase,  # noqa: F811
    screenshots: Path,
) -> None:
    page.goto("/reconciliation/")  # type: ignore[attr-defined]
    log_in(page, "frank")
    example = ROOT / "reconciliation" / "examples" / "6004000000019_20261120.csv"
    page.set_input_files("#upload-file", str(example))  # type: ignore[attr-defined]
    page.check("#upload-replace")  # type: ignore[attr-defined]
    page.click("#upload-submit")  # type: ignore[attr-defined]
    first = page.locator("#open-breaks tr[id^=break-]").first  # type: ignore[attr-defined]
    first.wait_for()
    break_id = (first.get_attribute("id") or "").removeprefix("break-")
    page.fill(f"#resolve-note-{break_id}", "vendor confirmed by phone")  # type: ignore[attr-defined]
    page.click(f"#resolve-{break_id}")  # type: ignore[attr-defined]
    page.wait_for_selector(f"#break-{break_id}", state="detached")  # type: ignore[attr-defined]
    shot(page, screenshots, "break-resolved", e2e_db.backend)
    from reconciliation.models import ReconBreak

    with e2e_db.sessions() as session:
        resolved = session.get(ReconBreak, int(break_id))
        assert resolved is not None and resolved.resolution_note == "vendor confirmed by phone"


def test_finance_downloads_the_monthly_report(
    page: object,
    e2e_db: TestDatabase,  # noqa: F811
    screenshots: Path,
    tmp_path: Path,
) -> None:
    from openpyxl import load_workbook

    vend(e2e_db, "01234567897", 12300)
    page.goto("/reports/")  # type: ignore[attr-defined]
    log_in(page, "audrey")  # the auditor may read the reports too
    page.wait_for_selector("#daily-sales svg")  # type: ignore[attr-defined]
    shot(page, screenshots, "monthly-report", e2e_db.backend)
    with page.expect_download() as caught:  # type: ignore[attr-defined]
        page.click("#download-xlsx")  # type: ignore[attr-defined]
    download = caught.value
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    assert target.suffix == ".xlsx" and target.read_bytes()[:2] == b"PK"
    book = load_workbook(target, read_only=True)
    assert book.sheetnames  # a real workbook
    with page.expect_download() as caught_csv:  # type: ignore[attr-defined]
        page.click("#download-csv")  # type: ignore[attr-defined]
    csv_file = tmp_path / caught_csv.value.suggested_filename
    caught_csv.value.save_as(str(csv_file))
    assert "Demo Bank" in csv_file.read_text(encoding="utf-8-sig")


def test_a_voucher_activation_entered_by_one_user_is_sold_when_another_approves_it(
    browser: object,
    console_server: ConsoleServer,
    e2e_db: TestDatabase,  # noqa: F811
    screenshots: Path,
) -> None:
    import json

    office = "6004000000095"  # the demo's utility office, whose float pays for the stock
    made = json.loads(
        _cli(
            e2e_db,
            "voucher",
            "batch",
            "create",
            "--vendor",
            office,
            "--denomination",
            "20.00",
            "--count",
            "5",
            "--json",
        )
    )
    batch_id = made["batch_id"]
    before = _balance(e2e_db, office)
    maker_context = browser.new_context(base_url=console_server.url)  # type: ignore[attr-defined]
    checker_context = browser.new_context(base_url=console_server.url)  # type: ignore[attr-defined]
    try:
        maker = maker_context.new_page()
        maker.goto("/vouchers")
        log_in(maker, "fatou")  # French
        maker.wait_for_selector(f"#batch-{batch_id}")
        assert maker.locator("nav a[href='/vouchers']").count() == 1  # a batch exists: listed
        maker.click(f"#batch-{batch_id} a")
        maker.wait_for_selector("#activation-form")
        assert maker.locator("#scope-batch").is_checked()  # the whole batch by default
        maker.click("#activation-submit")
        row = maker.locator("#pending-voucher-requests tr[id^=request-]")
        row.wait_for()
        assert row.locator("button[id^=approve-]").count() == 0  # not by the maker
        assert maker.locator("#state-created td.num").first.inner_text() == "5"
        assert _balance(e2e_db, office) == before  # nothing sold before approval
        shot(maker, screenshots, "voucher-activation-entered", e2e_db.backend)

        checker = checker_context.new_page()
        checker.goto(f"/vouchers/batches/{batch_id}")
        log_in(checker, "frank")
        checker.locator("#pending-voucher-requests button[id^=approve-]").click()
        checker.locator("#decided-voucher-requests").wait_for()
        assert checker.locator("#state-active td.num").first.inner_text() == "5"
        assert checker.locator("#state-created td.num").first.inner_text() == "0"
        assert checker.locator("#pending-voucher-requests #no-pending").count() == 1
        shot(checker, screenshots, "voucher-activation-approved", e2e_db.backend)
    finally:
        maker_context.close()
        checker_context.close()
    assert (
        _balance(e2e_db, office) == before - 5 * 2000
    )  # sold once (the office earns no commission)
    states = _cli(e2e_db, "voucher", "batch", "show", str(batch_id))
    assert re.search(rf"^\s*{batch_id}\s.*\s0\s+5\s+0\s+0\s*$", states, re.MULTILINE), states
