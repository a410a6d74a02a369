"""The nightly job: every vendor file of a business day from the inbox, reconciled, archived and
reported, and every active vendor that sent nothing recorded.

Each file is its own run in its own transaction, so one bad file does not stop the others. A file
that is reconciled moves to ``archive/<YYYYMMDD>/``; one that is refused (unreadable, malformed,
an unknown vendor, a day already reconciled) stays in the inbox for an operator, with the reasons
written next to the outputs as ``<file>.rejected.txt``. The night's summary goes to the outbox as
``nightly_<YYYYMMDD>.txt``. The caller (the CLI) exits non-zero when any file was refused; a
missing file alone is recorded, not a failure (the job cannot make a vendor send it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import transaction, utcnow
from core.runtime import Runtime
from core.settings import Settings
from reconciliation import outputs, runs
from reconciliation.exceptions import ReconciliationError
from reconciliation.models import ReconMissingReport, ReconRun
from reconciliation.periods import DAILY, Period
from reconciliation.report_file import identify
from vendor_accounts.models import Vendor

__all__ = ["Folders", "NightlyResult", "run_nightly"]


@dataclass(frozen=True)
class Folders:
    """Where vendor files arrive, where results go and where processed files are kept."""

    inbox: Path
    outbox: Path
    archive: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Folders:
        r = settings.reconciliation
        return cls(settings.path(r.inbox), settings.path(r.outbox), settings.path(r.archive))

    def files_for(self, period: Period) -> list[Path]:
        if not self.inbox.is_dir():
            return []
        suffix = f"_{period.compact}.csv"
        return sorted(
            p
            for p in self.inbox.iterdir()
            if p.name.lower().endswith(suffix) and not p.name.startswith(".")
        )


@dataclass
class NightlyResult:
    day: date
    reconciled: list[tuple[Path, runs.RunOutcome, Path, Path]] = field(default_factory=list)
    refused: list[tuple[Path, ReconciliationError]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # clientIDs
    summary_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.refused


def _archive(path: Path, folder: Path, run_id: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():  # a replaced day's earlier file stays; this one gets its run id
        target = folder / f"{path.stem}.run{run_id}{path.suffix}"
    return Path(shutil.move(str(path), target))


def _record_missing(session: Session, period: Period, sent: set[str], now: datetime) -> list[str]:
    """Active vendors with neither a file tonight nor a reconciled run of the day."""
    reconciled = select(ReconRun.vendor_id).where(
        ReconRun.period_kind == DAILY,
        ReconRun.period_label == period.label,
        ReconRun.status == "current",
    )
    already = select(ReconMissingReport.vendor_id).where(
        ReconMissingReport.period_kind == DAILY, ReconMissingReport.period_label == period.label
    )
    recorded = set(session.scalars(already))
    missing = []
    for vendor_id, client_id in session.execute(
        select(Vendor.id, Vendor.client_id)
        .where(Vendor.status == "active", Vendor.id.not_in(reconciled))
        .order_by(Vendor.client_id)
    ):
        if client_id in sent:
            continue
        missing.append(client_id)
        if vendor_id not in recorded:
            session.add(
                ReconMissingReport(
                    vendor_id=vendor_id,
                    client_id=client_id,
                    period_kind=DAILY,
                    period_label=period.label,
                    recorded_at=now,
                )
            )
    return missing


def run_nightly(
    runtime: Runtime,
    day: date,
    *,
    actor: str,
    now: datetime | None = None,
    folders: Folders | None = None,
    progress: bool | None = None,
) -> NightlyResult:
    now = now or utcnow()
    folders = folders or Folders.from_settings(runtime.settings)
    calendar = runs.calendar_of(runtime)
    period = Period.day(day)
    result = NightlyResult(day)
    sent: set[str] = set()
    for path in folders.files_for(period):
        try:
            source = identify(path)
            sent.add(source.client_id)
            outcome = runs.reconcile(runtime, source, actor=actor, now=now, progress=progress)
        except ReconciliationError as exc:
            result.refused.append((path, exc))
            folders.outbox.mkdir(parents=True, exist_ok=True)
            (folders.outbox / f"{path.name}.rejected.txt").write_text(
                exc.message + "\n", encoding="utf-8"
            )
            continue
        with runtime.sessions() as session:
            summary_path, breaks_path, _ = outputs.write_outputs(
                session,
                runtime.settings,
                calendar,
                outcome.run_id,
                calendar.business_day(now),
                progress,
            )
        _archive(path, folders.archive / period.compact, outcome.run_id)
        result.reconciled.append((path, outcome, summary_path, breaks_path))
    with transaction(runtime.sessions) as session:
        result.missing = _record_missing(session, period, sent, now)
    result.summary_path = _write_summary(result, folders)
    return result


def render(result: NightlyResult) -> str:
    lines = [f"Nightly reconciliation of business day {result.day.isoformat()}", ""]
    for path, outcome, summary_path, _ in result.reconciled:
        lines.append(
            f"reconciled  {path.name}: run {outcome.run_id}, {outcome.line_count} "
            f"lines, {outcome.break_count} breaks -> {summary_path.name}"
        )
    for path, error in result.refused:
        first = error.message.splitlines()[0]
        lines.append(f"REFUSED     {path.name}: {first}")
    for client_id in result.missing:
        lines.append(f"missing     no file from active vendor {client_id}")
    if len(lines) == 2:
        lines.append("no vendor files and no active vendors")
    lines += [
        "",
        f"{len(result.reconciled)} reconciled, {len(result.refused)} refused, "
        f"{len(result.missing)} missing",
    ]
    return "\n".join(lines) + "\n"


def _write_summary(result: NightlyResult, folders: Folders) -> Path:
    folders.outbox.mkdir(parents=True, exist_ok=True)
    path = folders.outbox / f"nightly_{result.day:%Y%m%d}.txt"
    path.write_text(render(result), encoding="utf-8")
    return path
