"""The orchestrator: one function runs a vendor report through every stage, in one transaction.

    import     stream the file, line by line, into the staging table      (report_file, staging)
    normalise  cents, UTC instants, msg_id split into the request key    (report_file)
    match      staged lines with the gateway's vends, set-based          (matching)
    classify   category and money effect of every pair                   (classify)
    record     the run, its category totals and its tracked breaks      (breaks)

Reports (outputs.py, the CLI) only read what this stored. Everything happens in one database
transaction, so a refused file - malformed, already reconciled, of a period not yet over - changes
nothing, and a run that fails half way leaves no half run. Replacing a reconciled period is
explicit and audited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tqdm import tqdm

from core import audit
from core.db import transaction, utcnow
from core.runtime import Runtime
from reconciliation import breaks, classify, matching, staging
from reconciliation.exceptions import (
    AlreadyReconciled,
    MalformedReport,
    PeriodNotOver,
    UnknownVendor,
)
from reconciliation.models import ReconBreak, ReconMissingReport, ReconRun, ReconRunTotal
from reconciliation.periods import Calendar
from reconciliation.report_file import ReportReader, ReportSource
from vendor_accounts.models import Vendor

__all__ = ["RunOutcome", "RunSummary", "calendar_of", "current_run", "recent_runs", "reconcile"]


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    client_id: str
    period: str
    line_count: int
    break_count: int
    replaced_run_id: int | None
    # Seconds per stage: import (read, check, load), match (pair and classify), record.
    timings: dict[str, float] = field(default_factory=dict)


def calendar_of(runtime: Runtime) -> Calendar:
    s = runtime.settings
    return Calendar.from_settings(s.utility.timezone, s.reconciliation.cutoff)


def current_run(session: Session, vendor_id: int, kind: str, label: str) -> ReconRun | None:
    return session.scalar(
        select(ReconRun).where(
            ReconRun.vendor_id == vendor_id,
            ReconRun.period_kind == kind,
            ReconRun.period_label == label,
            ReconRun.status == "current",
        )
    )


def _vendor(session: Session, client_id: str) -> Vendor:
    vendor = session.scalar(select(Vendor).where(Vendor.client_id == client_id))
    if vendor is None:
        raise UnknownVendor(client_id)
    return vendor


def reconcile(
    runtime: Runtime,
    source: ReportSource,
    *,
    actor: str,
    replace: bool = False,
    now: datetime | None = None,
    progress: bool | None = None,
) -> RunOutcome:
    """Reconcile one vendor report; refuses with a ReconciliationError, changing nothing.

    ``progress``: None shows a bar only on a terminal (tqdm's rule), False never.
    """
    now = now or utcnow()
    started = utcnow()
    calendar = calendar_of(runtime)
    period = source.period
    window = calendar.window(period)
    if now < window.end:
        raise PeriodNotOver(period=period.label, ends_at=window.end)
    timings: dict[str, float] = {}
    with transaction(runtime.sessions) as session:
        vendor = _vendor(session, source.client_id)
        existing = current_run(session, vendor.id, period.kind, period.label)
        if existing is not None and not replace:
            raise AlreadyReconciled(
                client_id=source.client_id, period=period.label, run_id=existing.id
            )
        if session.get_bind().dialect.name == "postgresql":
            # Room for the hash joins and the duplicate sort of a big report, this run only.
            session.execute(text("SET LOCAL work_mem = '128MB'"))

        clock = time.perf_counter()
        reader = _import(session, source, progress)
        if reader.problem_count:
            raise MalformedReport(
                path=source.path, problems=reader.problems, problem_count=reader.problem_count
            )
        timings["import"] = time.perf_counter() - clock

        clock = time.perf_counter()
        staging.mark_duplicates(session)
        matching.pair(session, vendor_id=vendor.id, client_id=source.client_id, window=window)
        totals, head = classify.totals(session, window)
        commission = classify.commission(session, vendor.id, window)
        timings["match"] = time.perf_counter() - clock

        clock = time.perf_counter()
        if existing is not None:
            existing.status = "replaced"
            session.flush()  # before the new current run takes its place in the unique index
        run = ReconRun(
            vendor_id=vendor.id,
            client_id=source.client_id,
            period_kind=period.kind,
            period_label=period.label,
            window_start=window.start,
            window_end=window.end,
            file_name=source.path.name,
            file_sha256=reader.sha256,
            line_count=reader.line_count,
            status="current",
            replaces_run_id=existing.id if existing is not None else None,
            actor=actor,
            started_at=started,
            finished_at=utcnow(),
            gateway_count=head.gateway_count,
            gateway_total_cents=head.gateway_total_cents,
            vendor_count=head.vendor_count,
            vendor_total_cents=head.vendor_total_cents,
            voucher_count=head.voucher_count,
            voucher_total_cents=head.voucher_total_cents,
            commission_cents=commission,
            # What the float owes: the redemptions' buyers paid at activation, not this float.
            settlement_due_cents=head.gateway_total_cents - head.voucher_total_cents - commission,
        )
        session.add(run)
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent run of the same period committed first
            raise AlreadyReconciled(
                client_id=source.client_id, period=period.label, run_id=0
            ) from exc
        session.add_all(
            ReconRunTotal(
                run_id=run.id,
                category=t.category,
                item_count=t.count,
                vendor_amount_cents=t.vendor_amount_cents,
                gateway_amount_cents=t.gateway_amount_cents,
                effect_cents=t.effect_cents,
            )
            for t in totals
        )
        found = breaks.record(session, run, window, calendar, now)
        session.execute(
            update(ReconMissingReport)
            .where(
                ReconMissingReport.vendor_id == vendor.id,
                ReconMissingReport.period_kind == period.kind,
                ReconMissingReport.period_label == period.label,
            )
            .values(received_run_id=run.id)
        )
        detail = {
            "run_id": run.id,
            "file": source.path.name,
            "sha256": reader.sha256,
            "lines": reader.line_count,
            "breaks": found,
        }
        if existing is not None:
            audit.record(
                session,
                actor,
                "recon.replace",
                f"{source.client_id}/{period.label}",
                replaced_run_id=existing.id,
                **detail,
            )
        audit.record(session, actor, "recon.run", f"{source.client_id}/{period.label}", **detail)
        staging.drop(session)
        staging.drop_temporary(session, "recon_pair")
        timings["record"] = time.perf_counter() - clock
        return RunOutcome(
            run.id,
            source.client_id,
            period.label,
            reader.line_count,
            found,
            existing.id if existing is not None else None,
            timings,
        )


def _import(session: Session, source: ReportSource, progress: bool | None) -> ReportReader:
    bar = tqdm(
        total=source.path.stat().st_size if source.path.exists() else None,
        unit="B",
        unit_scale=True,
        desc=f"import {source.path.name}",
        disable=None if progress is None else not progress,
        leave=False,
    )
    update_bar: Callable[[int], object] = bar.update
    with bar:
        reader = ReportReader(source, progress=update_bar)
        staging.create(session)
        staging.load(session, reader)
    return reader


@dataclass(frozen=True)
class RunSummary:
    """A stored run as a list shows it (the console's reconciliation page)."""

    run_id: int
    client_id: str
    vendor_name: str
    period_kind: str
    period_label: str
    file_name: str
    line_count: int
    status: str
    actor: str
    finished_at: datetime
    gateway_total_cents: int
    vendor_total_cents: int
    settlement_due_cents: int
    open_breaks: int
    # The voucher redemptions in gateway_total_cents, left out of the settlement due.
    voucher_total_cents: int


def recent_runs(
    session: Session, *, limit: int = 50, client_id: str | None = None
) -> list[RunSummary]:
    """The latest runs first (current and replaced), with each run's breaks still open."""
    open_count = (
        select(func.count())
        .select_from(ReconBreak)
        .where(ReconBreak.last_run_id == ReconRun.id, ReconBreak.status == "open")
        .correlate(ReconRun)
        .scalar_subquery()
    )
    query = (
        select(ReconRun, Vendor.name, open_count)
        .join(Vendor, Vendor.id == ReconRun.vendor_id)
        .order_by(ReconRun.id.desc())
        .limit(limit)
    )
    if client_id is not None:
        query = query.where(ReconRun.client_id == client_id)
    return [
        RunSummary(
            run.id,
            run.client_id,
            name,
            run.period_kind,
            run.period_label,
            run.file_name,
            run.line_count,
            run.status,
            run.actor,
            run.finished_at,
            run.gateway_total_cents,
            run.vendor_total_cents,
            run.settlement_due_cents,
            int(breaks_open or 0),
            run.voucher_total_cents,
        )
        for run, name, breaks_open in session.execute(query)
    ]
