"""The night's reconciliation of one vending day: every kind of break planted in the vendor's file
and in the gateway's day, found exactly, with the money explained to the cent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from reconciliation import runs
from reconciliation.models import ReconBreak, ReconRun, ReconRunTotal
from reconciliation.report_file import identify
from tests.support.reconciliation import (
    BANK,
    FBE_METER,
    SHOP,
    Utility,
    line,
    local,
    write_report,
)

AFTER_THE_DAY = local(2026, 11, 21, 2, 0)


def plant_the_day(u: Utility) -> tuple[dict[str, str], list[str]]:
    """The gateway's day (2026-11-20) and the Bank's report of it, with every break in both."""
    m: dict[str, str] = {}
    m["yesterday"], _ = u.vend(local(2026, 11, 19, 23, 59, 59), 700)
    m["ok"], _ = u.vend(local(2026, 11, 20, 9, 0), 10000)
    m["cent"], _ = u.vend(local(2026, 11, 20, 9, 10), 5000)
    m["meter"], _ = u.vend(local(2026, 11, 20, 9, 20), 2000)
    m["reversed"], _ = u.vend(local(2026, 11, 20, 9, 30), 3000)
    u.reverse(m["reversed"], local(2026, 11, 20, 9, 35))
    m["vendor_reversed"], _ = u.vend(local(2026, 11, 20, 9, 40), 2500)
    m["ghost"] = "20261120095000999999"
    m["refused"] = u.refused_msg_id(local(2026, 11, 20, 9, 55))
    m["unreported"], _ = u.vend(local(2026, 11, 20, 10, 0), 4000)
    m["twice"], _ = u.vend(local(2026, 11, 20, 10, 10), 1000)
    m["fbe"] = u.fbe(local(2026, 11, 20, 10, 20))  # free electricity: not a sale
    u.vend(local(2026, 11, 20, 10, 30), 6000, client_id=SHOP)  # another vendor's sale
    m["last_second"], _ = u.vend(local(2026, 11, 20, 23, 59, 59), 1500)
    m["late_reversal"], _ = u.vend(local(2026, 11, 20, 23, 58), 2200)
    m["late_reversal_reported"], _ = u.vend(local(2026, 11, 20, 23, 57), 1800)
    m["midnight"], _ = u.vend(local(2026, 11, 21, 0, 0, 0), 1200)
    u.reverse(m["late_reversal"], local(2026, 11, 21, 0, 3))
    u.reverse(m["late_reversal_reported"], local(2026, 11, 21, 0, 4))

    lines = [
        # the vendor's clock is a few seconds fast: it puts yesterday's last sale in today
        line(m["yesterday"], 700, local(2026, 11, 20, 0, 0, 1)),
        line(m["ok"], 10000, local(2026, 11, 20, 9, 0)),
        line(m["cent"], 5001, local(2026, 11, 20, 9, 10)),
        line(m["meter"], 2000, local(2026, 11, 20, 9, 20), meter=FBE_METER),
        line(m["reversed"], 3000, local(2026, 11, 20, 9, 30)),
        line(m["vendor_reversed"], 2500, local(2026, 11, 20, 9, 40), status="REVERSED"),
        line(m["ghost"], 900, local(2026, 11, 20, 9, 50)),
        line(m["refused"], 1000, local(2026, 11, 20, 9, 55)),
        line(m["twice"], 1000, local(2026, 11, 20, 10, 10)),
        line(m["twice"], 1000, local(2026, 11, 20, 10, 10)),
        line(m["last_second"], 1500, local(2026, 11, 20, 23, 59, 59)),
        line(m["late_reversal"], 2200, local(2026, 11, 20, 23, 58)),
        line(m["late_reversal_reported"], 1800, local(2026, 11, 20, 23, 57), status="REVERSED"),
        line(m["midnight"], 1200, local(2026, 11, 21, 0, 0, 0)),
    ]
    return m, lines


def reconcile(u: Utility, path: Path, **kwargs: object) -> runs.RunOutcome:
    return runs.reconcile(
        u.db.runtime, identify(path), actor="test", now=AFTER_THE_DAY, progress=False, **kwargs
    )  # type: ignore[arg-type]


def test_every_break_of_the_day_is_found_and_the_money_is_explained(
    utility: Utility, tmp_path: Path
) -> None:
    m, lines = plant_the_day(utility)
    path = write_report(tmp_path, BANK, "20261120", lines)
    outcome = reconcile(utility, path)

    with utility.db.sessions() as session:
        found = {
            (b.category, b.msg_id, b.occurrence)
            for b in session.scalars(
                select(ReconBreak).where(ReconBreak.last_run_id == outcome.run_id)
            )
        }
        run = session.get(ReconRun, outcome.run_id)
        totals = {
            t.category: t
            for t in session.scalars(
                select(ReconRunTotal).where(ReconRunTotal.run_id == outcome.run_id)
            )
        }
        notes = {b.msg_id: b.note for b in session.scalars(select(ReconBreak))}
    assert found == {
        ("OUTSIDE_PERIOD", m["yesterday"], 0),
        ("AMOUNT_MISMATCH", m["cent"], 0),
        ("METER_MISMATCH", m["meter"], 0),
        ("STATUS_MISMATCH", m["reversed"], 0),
        ("STATUS_MISMATCH", m["vendor_reversed"], 0),
        ("MISSING_AT_GATEWAY", m["ghost"], 0),
        ("MISSING_AT_GATEWAY", m["refused"], 0),
        ("MISSING_IN_REPORT", m["unreported"], 0),
        ("DUPLICATE_IN_REPORT", m["twice"], 1),
        ("STATUS_MISMATCH", m["late_reversal_reported"], 0),
        ("OUTSIDE_PERIOD", m["midnight"], 0),
    }
    # ok, the first copy of twice, the last second of the day, and the vend reversed after
    # midnight (it stands in its own day: status as of the period's end)
    assert totals["MATCHED"].item_count == 4
    assert (
        outcome.break_count == 11 == sum(t.item_count for c, t in totals.items() if c != "MATCHED")
    )
    assert "refused" in notes[m["refused"]] and "never received" in notes[m["ghost"]]
    assert "after the period ended" in notes[m["late_reversal_reported"]]

    counted = [10000, 5000, 2000, 2500, 4000, 1000, 1500, 2200, 1800]
    assert run is not None
    assert run.gateway_count == 10  # the reversed vend is in the period, not in the total
    assert run.gateway_total_cents == sum(counted)
    assert run.vendor_count == 14
    assert run.vendor_total_cents == (
        700 + 10000 + 5001 + 2000 + 3000 + 900 + 1000 + 1000 + 1000 + 1500 + 2200 + 1200
    )
    assert run.vendor_total_cents - run.gateway_total_cents == sum(
        t.effect_cents for t in totals.values()
    )
    assert run.commission_cents == sum(a * 150 // 10000 for a in counted)
    assert run.settlement_due_cents == run.gateway_total_cents - run.commission_cents
