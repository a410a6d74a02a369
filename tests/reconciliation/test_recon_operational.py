"""The vending staff's reports over the same month: vending per vendor and terminal and day, FBE
issued, reversals (with the one after midnight flagged), debt collected, abnormal customers."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from reconciliation import operational, runs
from reconciliation.cli import report
from reconciliation.periods import parse_period
from tests.reconciliation.test_recon_monthly import plant_october
from tests.support.reconciliation import (
    BANK,
    COMMERCIAL_METER,
    DEBT_METER,
    FBE_METER,
    METER,
    SHOP,
    Utility,
)


def test_the_vending_staffs_reports(utility: Utility, tmp_path: Path) -> None:
    m = plant_october(utility)
    calendar = runs.calendar_of(utility.db.runtime)
    october, november = parse_period("2026-10"), parse_period("2026-11")
    with utility.db.sessions() as session:
        vending = operational.vending(session, october, calendar)
        fbe = operational.fbe_issued(session, october, calendar)
        late = operational.reversals(session, november, calendar)
        same_day = operational.reversals(session, october, calendar)
        debt = operational.debt_collected(session, october, calendar)
        quiet = operational.abnormal_customers(session, date(2026, 11, 30), calendar, days=30)

    by_vendor = {row[1]: dict(zip(vending.columns, row, strict=True)) for row in vending.rows}
    assert by_vendor[BANK]["vends"] == 4  # six sold, two reversed since
    assert by_vendor[BANK]["amount"] == "650.00"
    assert (by_vendor[BANK]["reversed_vends"], by_vendor[BANK]["reversed_amount"]) == (2, "140.00")
    assert (by_vendor[SHOP]["vends"], by_vendor[SHOP]["amount"]) == (1, "25.00")

    assert [(r[3], r[5], r[6]) for r in fbe.rows] == [(FBE_METER, "credit vend", "50.0")]
    assert [(r[4], r[7], r[8]) for r in late.rows] == [(METER, "2026-10-31", "yes")]
    assert [(r[4], r[8]) for r in same_day.rows] == [(METER, "no")]
    [(account, _, meter, vends, recovered, outstanding)] = debt.rows
    assert (account, meter, vends, recovered, outstanding) == (
        "ACC-0004",
        DEBT_METER,
        1,
        "40.00",
        "460.00",
    )
    quiet_meters = {r[0]: r for r in quiet.rows}
    # bought in October only (both later METER vends were reversed: the 7th was its last)
    assert set(quiet_meters) == {METER, DEBT_METER, FBE_METER}
    assert quiet_meters[METER][3] == "2026-10-07" and quiet_meters[METER][4] == 54
    assert COMMERCIAL_METER not in quiet_meters  # bought again in November
    del m

    out = tmp_path / "terminals.csv"
    result = CliRunner().invoke(
        report,
        ["vending", "--month", "2026-10", "--by", "terminal", "--per-day", "--out", str(out)],
        obj=utility.db.runtime,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert {(r["day"], r["terminal_id"], r["vends"]) for r in rows} >= {
        ("2026-10-05", "ATM-0001", "1"),
        ("2026-10-07", "POS-0001", "1"),
    }
    assert sum(int(r["vends"]) + int(r["reversed_vends"]) for r in rows) == 7
    refused = CliRunner().invoke(
        report, ["fbe", "--month", "2026-10", "--day", "2026-10-01"], obj=utility.db.runtime
    )
    assert refused.exit_code != 0 and "exactly one of" in refused.output
