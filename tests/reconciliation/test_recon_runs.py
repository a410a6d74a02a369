"""Runs over time: a re-run gives the same answer, a re-import needs --replace (audited), breaks
carry forward, clear when a corrected report no longer has them, and age until resolved."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db import utcnow
from core.models import AuditEvent
from core.runtime import Runtime
from reconciliation import runs
from reconciliation.breaks import open_breaks, resolve
from reconciliation.cli import recon
from reconciliation.exceptions import (
    AlreadyReconciled,
    BreakNotOpen,
    PeriodNotOver,
    UnknownVendor,
)
from reconciliation.models import ReconBreak, ReconRun, ReconRunTotal
from reconciliation.outputs import write_outputs
from reconciliation.report_file import identify
from tests.reconciliation.test_recon_day_breaks import AFTER_THE_DAY, plant_the_day
from tests.support.reconciliation import BANK, Utility, line, local, write_report


def snapshot(u: Utility, run_id: int) -> tuple[object, ...]:
    with u.db.sessions() as session:
        run = session.get(ReconRun, run_id)
        assert run is not None
        totals = sorted(
            (
                t.category,
                t.item_count,
                t.vendor_amount_cents,
                t.gateway_amount_cents,
                t.effect_cents,
            )
            for t in session.scalars(select(ReconRunTotal).where(ReconRunTotal.run_id == run_id))
        )
        found = sorted(
            (b.id, b.category, b.msg_id, b.occurrence, b.effect_cents, b.note)
            for b in session.scalars(select(ReconBreak).where(ReconBreak.last_run_id == run_id))
        )
        return (
            run.gateway_count,
            run.gateway_total_cents,
            run.vendor_count,
            run.vendor_total_cents,
            run.commission_cents,
            totals,
            found,
        )


def run(
    u: Utility, path: Path, *, replace: bool = False, now: object = AFTER_THE_DAY
) -> runs.RunOutcome:
    return runs.reconcile(
        u.db.runtime, identify(path), actor="ops", replace=replace, now=now, progress=False
    )  # type: ignore[arg-type]


def test_a_rerun_gives_the_same_result_and_a_corrected_report_clears_its_breaks(
    utility: Utility, tmp_path: Path
) -> None:
    m, lines = plant_the_day(utility)
    path = write_report(tmp_path, BANK, "20261120", lines)
    first = run(utility, path)
    before = snapshot(utility, first.run_id)

    with pytest.raises(AlreadyReconciled) as refused:
        run(utility, path)
    assert refused.value.run_id == first.run_id

    again = run(utility, path, replace=True)
    # the same figures and the very same breaks (same ids: carried, not raised again)
    assert snapshot(utility, again.run_id) == before
    with utility.db.sessions() as session:
        statuses = dict(session.execute(select(ReconRun.id, ReconRun.status)).all())
        replaced = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recon.replace")
        ).all()
        ids_first = {b.id for b in session.scalars(select(ReconBreak))}
    assert statuses == {first.run_id: "replaced", again.run_id: "current"}
    assert len(replaced) == 1 and replaced[0].actor == "ops"
    assert f'"replaced_run_id": {first.run_id}' in replaced[0].detail
    assert len(ids_first) == 11  # carried, not doubled

    # The vendor corrects its one-cent error and resends: that break clears, the rest stay.
    fixed = [text.replace(",50.01,", ",50.00,") for text in lines]
    third = run(utility, write_report(tmp_path, BANK, "20261120", fixed), replace=True)
    with utility.db.sessions() as session:
        cent = session.scalars(select(ReconBreak).where(ReconBreak.msg_id == m["cent"])).one()
        still_open = session.scalar(
            select(func.count())
            .select_from(ReconBreak)
            .where(ReconBreak.status == "open", ReconBreak.last_run_id == third.run_id)
        )
    assert (cent.status, cent.cleared_by_run_id) == ("cleared", third.run_id)
    assert still_open == 10 == third.break_count

    # Replaced once more by the original file: the cleared break opens again, same identity.
    run(utility, write_report(tmp_path, BANK, "20261120", lines), replace=True)
    with utility.db.sessions() as session:
        again_cent = session.get(ReconBreak, cent.id)
        assert again_cent is not None
        assert (again_cent.status, again_cent.cleared_by_run_id) == ("open", None)


def test_breaks_age_until_resolved_and_a_resolution_survives_a_rerun(
    utility: Utility, tmp_path: Path
) -> None:
    m, lines = plant_the_day(utility)
    first = run(utility, write_report(tmp_path, BANK, "20261120", lines))
    with utility.db.sessions() as session:
        ghost = session.scalars(select(ReconBreak).where(ReconBreak.msg_id == m["ghost"])).one()
        aged = {b.msg_id: b for b in open_breaks(session, local(2026, 11, 30).date())}
    assert aged[m["ghost"]].age_days == 10 and aged[m["ghost"]].bucket == "8-30 days"
    assert aged[m["yesterday"]].age_days == 11  # ages from the gateway's day of the sale

    result = CliRunner().invoke(
        recon,
        [
            "resolve",
            str(ghost.id),
            "--note",
            "vendor test transaction, written off",
            "--operator",
            "thandi",
        ],
        obj=utility.db.runtime,
    )
    assert result.exit_code == 0, result.output
    with utility.db.sessions() as session, pytest.raises(BreakNotOpen):
        resolve(session, ghost.id, note="again", operator="thandi", now=utcnow())
    with utility.db.sessions() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recon.resolve")
        ).one()
    assert audit.actor == "thandi" and "written off" in audit.detail

    run(utility, write_report(tmp_path, BANK, "20261120", lines), replace=True)
    with utility.db.sessions() as session:
        again = session.get(ReconBreak, ghost.id)
        assert again is not None and again.status == "resolved"
        assert again.last_run_id != first.run_id
    listed = CliRunner().invoke(recon, ["breaks", "--as-of", "2026-11-30"], obj=utility.db.runtime)
    assert listed.exit_code == 0
    assert m["ghost"] not in listed.output and m["cent"] in listed.output
    assert "10 open break(s)" in listed.output

    # The next night: yesterday's open breaks are brought forward in the new run's summary.
    next_day = run(
        utility,
        write_report(
            tmp_path, BANK, "20261121", [line(m["midnight"], 1200, local(2026, 11, 21, 0, 0, 0))]
        ),
        now=local(2026, 11, 22, 2, 0),
    )
    with utility.db.sessions() as session:
        summary_path, breaks_path, text = write_outputs(
            session,
            utility.db.settings,
            runs.calendar_of(utility.db.runtime),
            next_day.run_id,
            local(2026, 11, 22).date(),
        )
    assert next_day.break_count == 0
    assert "brought forward from other periods" in text and "0-1 days" in text
    assert summary_path.parent == utility.db.settings.home / "var" / "recon" / "outbox"
    assert breaks_path.read_text().count("\n") == 1  # the header only


def test_the_summary_and_breaks_csv_say_what_the_run_stored(
    utility: Utility, tmp_path: Path
) -> None:
    m, lines = plant_the_day(utility)
    outcome = run(utility, write_report(tmp_path, BANK, "20261120", lines))
    with utility.db.sessions() as session:
        summary_path, breaks_path, text = write_outputs(
            session,
            utility.db.settings,
            runs.calendar_of(utility.db.runtime),
            outcome.run_id,
            local(2026, 11, 21).date(),
        )
    assert summary_path.read_text() == text
    words = " ".join(text.split())
    for expected in (
        "AMOUNT_MISMATCH 1 50.01 50.00 0.01",
        "MISSING_IN_REPORT 1 0.00 40.00 -40.00",
        "gateway total 300.00",
        "vendor total 295.01",
        "difference -4.99",
        "commission 4.49",
        "settlement due 295.51",
        "11 new",
    ):
        assert expected in words, text
    rows = breaks_path.read_text().splitlines()
    assert rows[0].startswith("break_id,status,category,client_id,period,msg_id")
    assert len(rows) == 12
    assert any(m["cent"] in r and "difference 0.01" in r for r in rows)

    runner = CliRunner()
    shown = runner.invoke(recon, ["show", str(outcome.run_id)], obj=utility.db.runtime)
    assert shown.exit_code == 0 and shown.output == text  # read back, not recomputed
    listed = runner.invoke(recon, ["runs", "--all"], obj=utility.db.runtime)
    assert listed.exit_code == 0 and "6004000000019_20261120.csv" in listed.output
    missing = runner.invoke(recon, ["show", "999"], obj=utility.db.runtime)
    assert missing.exit_code == 1 and "no reconciliation run 999" in missing.output


def test_refusals_before_any_work(utility: Utility, tmp_path: Path) -> None:
    path = write_report(tmp_path, BANK, "20261120", [])
    with pytest.raises(PeriodNotOver):
        run(utility, path, now=local(2026, 11, 20, 23, 59))
    with pytest.raises(UnknownVendor):
        run(utility, write_report(tmp_path, "6004000000033", "20261120", []))
    empty_day = run(utility, path)  # a vendor with no sales sends just the header
    assert (empty_day.line_count, empty_day.break_count) == (0, 0)


def test_the_database_keeps_one_current_run_per_period(utility: Utility, tmp_path: Path) -> None:
    outcome = run(utility, write_report(tmp_path, BANK, "20261120", []))
    with utility.db.sessions() as session:
        original = session.get(ReconRun, outcome.run_id)
        assert original is not None
        values = {
            c.key: getattr(original, c.key) for c in ReconRun.__table__.columns if c.key != "id"
        }
        session.add(ReconRun(**{**values, "status": "replaced"}))  # history may hold many
        session.flush()
        session.add(ReconRun(**values))
        with pytest.raises(IntegrityError) as refused:
            session.flush()
    message = str(refused.value)
    assert "uq_recon_run_current" in message or "recon_run.period_label" in message


def test_an_evening_cutoff_from_the_settings_moves_the_day(
    utility: Utility, tmp_path: Path
) -> None:
    settings = utility.db.settings
    evening = dataclasses.replace(
        settings, reconciliation=dataclasses.replace(settings.reconciliation, cutoff="22:00")
    )
    runtime = Runtime(evening, _engine=utility.db.engine)
    before, _ = utility.vend(local(2026, 11, 20, 21, 59, 59), 1000)
    after, _ = utility.vend(local(2026, 11, 20, 22, 0, 0), 2000)
    path = write_report(
        tmp_path,
        BANK,
        "20261120",
        [
            line(before, 1000, local(2026, 11, 20, 21, 59, 59)),
            line(after, 2000, local(2026, 11, 20, 22, 0, 0)),
        ],
    )
    outcome = runs.reconcile(
        runtime, identify(path), actor="ops", now=local(2026, 11, 20, 22, 0), progress=False
    )
    with utility.db.sessions() as session:
        found = session.execute(select(ReconBreak.category, ReconBreak.msg_id)).all()
        run_row = session.get(ReconRun, outcome.run_id)
    assert found == [("OUTSIDE_PERIOD", after)]
    assert run_row is not None and run_row.gateway_total_cents == 1000
