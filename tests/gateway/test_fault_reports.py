"""Customer fault reports: stored once per msgID with a reference number, refused when they name
a meter or an account the utility does not have, listed by `vendgw fault list` and reported by
`vendgw report faults`."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from gateway import errors
from gateway.vend.models import ReportedFault
from gateway.vend.service import DatabaseVendingService
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, Clock, header, principal
from vendgw.cli import cli


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 2026-11-20 08:30 UTC, 10:30 in Johannesburg


@pytest.fixture
def service(demo_db: TestDatabase, clock: Clock) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=clock)


def vendgw(db: TestDatabase, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=db.env())


def stored(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(ReportedFault)) or 0


def test_a_fault_report_is_stored_once_with_a_reference_number(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), replace(header(), operator="thabo")
    report = service.report_fault(
        who, h, "01234567897", "ACC-0001", "MeterFaultReport", "  display   blank ", "082 555 0101"
    )
    assert report.ref_no.startswith("FLT") and len(report.ref_no) <= 20
    assert (report.meter_number, report.account_no, report.description) == (
        "01234567897",
        "ACC-0001",
        "display blank",
    )
    again = service.report_fault(
        who, h, "01234567897", "ACC-0001", "MeterFaultReport", "  display   blank ", "082 555 0101"
    )
    assert again == report and stored(demo_db) == 1
    with pytest.raises(errors.DuplicateMsgID):
        service.report_fault(who, h, "01234567897", None, "MeterFaultReport", "other", "")
    network = service.report_fault(who, header(), None, None, "NetworkFaultReport", "no power", "")
    assert network.ref_no != report.ref_no and stored(demo_db) == 2


@pytest.mark.parametrize(
    ("meter", "account", "kind", "error"),
    [
        ("04000000994", None, "MeterFaultReport", errors.UnknownMeter),
        ("04000000011", None, "MeterFaultReport", errors.MeterCheckDigit),
        (None, "ACC-9999", "MeterFaultReport", errors.ConfirmCustomer),
        (None, None, "", errors.SchemaError),
        (None, None, "bad kind!", errors.SchemaError),
    ],
)
def test_a_refused_fault_report_stores_nothing(
    demo_db: TestDatabase,
    service: DatabaseVendingService,
    meter: str | None,
    account: str | None,
    kind: str,
    error: type[errors.GatewayError],
) -> None:
    with pytest.raises(error):
        service.report_fault(principal(demo_db, BANK), header(), meter, account, kind, "x", "")
    assert stored(demo_db) == 0


def test_fault_list_and_the_faults_report(
    demo_db: TestDatabase, service: DatabaseVendingService, clock: Clock
) -> None:
    who = principal(demo_db, BANK)
    first = service.report_fault(
        who,
        replace(header(), operator="thabo"),
        "01234567897",
        None,
        "MeterFaultReport",
        "display blank",
        "082 555 0101",
    )
    clock.now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    second = service.report_fault(
        who, header(), None, "ACC-0003", "NetworkFaultReport", "street dark", ""
    )
    listed = vendgw(demo_db, "fault", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{first.ref_no}  2026-11-20 10:30:00+02:00  MeterFaultReport")
    assert "meter 01234567897" in lines[0] and "contact 082 555 0101" in lines[0]
    assert "display blank" in lines[0] and f"({BANK}/ATM-0001)" in lines[0]
    assert lines[1].startswith(second.ref_no) and "account ACC-0003" in lines[1]
    since = vendgw(demo_db, "fault", "list", "--since", "2026-11-21", "--json")
    assert since.exit_code == 0, since.output
    [only] = json.loads(since.output)
    assert (only["ref_no"], only["account_no"], only["meter_number"]) == (
        second.ref_no,
        "ACC-0003",
        None,
    )
    assert only["reported_at"] == "2026-11-22T11:00:00+02:00"
    bad = vendgw(demo_db, "fault", "list", "--since", "22/11/2026")
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
    clock.now += timedelta(days=30)
    report = vendgw(demo_db, "report", "faults", "--month", "2026-11")
    assert report.exit_code == 0, report.output
    rows = list(csv.DictReader(io.StringIO(report.output)))
    assert [(r["ref_no"], r["fault_kind"], r["operator"]) for r in rows] == [
        (first.ref_no, "MeterFaultReport", "thabo"),
        (second.ref_no, "NetworkFaultReport", ""),
    ]


def test_no_fault_reports(demo_db: TestDatabase) -> None:
    result = vendgw(demo_db, "fault", "list")
    assert (result.exit_code, result.output) == (0, "no fault reports\n")
