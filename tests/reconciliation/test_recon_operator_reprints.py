"""Vending by operator (the XMLVend opName a vend was sold under) and the reprint report."""

from __future__ import annotations

from dataclasses import replace

from click.testing import CliRunner

from reconciliation import operational, runs
from reconciliation.cli import report
from reconciliation.periods import parse_period
from tests.support.reconciliation import BANK, METER, Utility, local


def test_vending_per_operator_and_every_reprint(utility: Utility) -> None:
    who = replace(utility.who(BANK), privileges=frozenset({"vend", "reprint"}))
    sales = [("thandi", 2000), ("thandi", 3000), ("sipho", 1500), ("", 1000)]
    receipts = []
    for minute, (operator, cents) in enumerate(sales):
        at = local(2026, 11, 18, 9, minute)
        utility.clock.now = at
        h = replace(utility.header(BANK, at), operator=operator)
        receipts.append((h, utility.service.credit_vend(who, h, METER, cents, "cash")))
    utility.clock.now = local(2026, 11, 18, 12, 0)
    reprint_header = replace(utility.header(BANK, utility.clock.now), operator="sipho")
    again = utility.service.reprint(who, reprint_header, METER, receipts[0][0].msg_id)
    assert again == (receipts[0][1],)
    last3 = utility.service.reprint(who, utility.header(BANK, utility.clock.now), METER, None)
    assert len(last3) == 3

    calendar = runs.calendar_of(utility.db.runtime)
    day = parse_period("2026-11-18")
    with utility.db.sessions() as session:
        by_operator = operational.vending(session, day, calendar, by="operator")
        reprinted = operational.reprints(session, day, calendar)
    rows = {row[4]: dict(zip(by_operator.columns, row, strict=True)) for row in by_operator.rows}
    assert by_operator.columns[3:5] == ("terminal_id", "operator")
    assert (rows["thandi"]["vends"], rows["thandi"]["amount"]) == (2, "50.00")
    assert (rows["sipho"]["vends"], rows["sipho"]["amount"]) == (1, "15.00")
    assert (rows[""]["vends"], rows[""]["amount"]) == (1, "10.00")

    assert len(reprinted.rows) == 4  # one receipt, then the meter's last three
    first = dict(zip(reprinted.columns, reprinted.rows[0], strict=True))
    assert (first["operator"], first["receipt_no"], first["meter_number"]) == (
        "sipho",
        receipts[0][1].receipt_no,
        METER,
    )

    result = CliRunner().invoke(report, ["reprints", "--day", "2026-11-18"], obj=utility.db.runtime)
    assert result.exit_code == 0, result.output
    assert receipts[0][1].receipt_no in result.output
