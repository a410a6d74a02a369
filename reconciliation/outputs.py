"""What a run leaves for people: a summary (printed and written) and a breaks CSV, in the outbox.

Only reads what the run stored, so the files can be written again at any time (``vendgw recon
show RUN_ID --write``) and always say the same as the database. Files are named after the vendor,
the period and the run, so a replacing run never overwrites the record of the one it replaced:
``<clientID>_<period>_run<id>_summary.txt`` and ``..._breaks.csv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from core.money import format_cents
from core.settings import Settings
from reconciliation.breaks import AGE_BUCKETS, age_bucket
from reconciliation.exceptions import InvalidInput
from reconciliation.models import CATEGORIES, ReconBreak, ReconRun, ReconRunTotal
from reconciliation.periods import Calendar
from vendor_accounts.models import Vendor

__all__ = [
    "BREAK_COLUMNS",
    "RunSummary",
    "outbox",
    "render_summary",
    "run_summary",
    "write_breaks_csv",
    "write_outputs",
]

BREAK_COLUMNS = (
    "break_id",
    "status",
    "category",
    "client_id",
    "period",
    "msg_id",
    "occurrence",
    "line_no",
    "business_date",
    "terminal_id",
    "receipt_no",
    "meter_number",
    "vendor_amount",
    "vendor_status",
    "vended_at",
    "gateway_receipt_no",
    "gateway_terminal_id",
    "gateway_meter_number",
    "gateway_amount",
    "gateway_status",
    "gateway_at",
    "effect",
    "note",
    "first_run_id",
)


@dataclass(frozen=True)
class RunSummary:
    run: ReconRun
    vendor_name: str
    totals: dict[str, ReconRunTotal]
    new_breaks: int
    carried_breaks: int
    resolved_breaks: int
    cleared_breaks: int
    earlier_open: dict[str, tuple[int, int]]  # age bucket -> (count, effect cents)

    @property
    def difference_cents(self) -> int:
        return self.run.vendor_total_cents - self.run.gateway_total_cents


def outbox(settings: Settings) -> Path:
    return settings.path(settings.reconciliation.outbox)


def run_summary(session: Session, run_id: int, as_of: date) -> RunSummary:
    run = session.get(ReconRun, run_id)
    if run is None:
        raise InvalidInput(f"no reconciliation run {run_id}", field="run_id", value=run_id)
    vendor_name = session.scalar(select(Vendor.name).where(Vendor.id == run.vendor_id)) or ""
    totals = {
        t.category: t
        for t in session.scalars(select(ReconRunTotal).where(ReconRunTotal.run_id == run_id))
    }
    found = dict(
        session.execute(
            select(ReconBreak.status, func.count())
            .where(ReconBreak.last_run_id == run_id)
            .group_by(ReconBreak.status)
        ).all()
    )
    new = (
        session.scalar(
            select(func.count()).select_from(ReconBreak).where(ReconBreak.first_run_id == run_id)
        )
        or 0
    )
    cleared = (
        session.scalar(
            select(func.count())
            .select_from(ReconBreak)
            .where(ReconBreak.cleared_by_run_id == run_id)
        )
        or 0
    )
    earlier: dict[str, tuple[int, int]] = {}
    for day, effect in session.execute(
        select(ReconBreak.business_date, ReconBreak.effect_cents).where(
            ReconBreak.vendor_id == run.vendor_id,
            ReconBreak.status == "open",
            ReconBreak.last_run_id != run_id,
        )
    ):
        bucket = age_bucket(max(0, (as_of - day).days))
        count, amount = earlier.get(bucket, (0, 0))
        earlier[bucket] = (count + 1, amount + effect)
    open_now = int(found.get("open", 0))
    return RunSummary(
        run,
        vendor_name,
        totals,
        new_breaks=int(new),
        carried_breaks=open_now + int(found.get("resolved", 0)) - int(new),
        resolved_breaks=int(found.get("resolved", 0)),
        cleared_breaks=int(cleared),
        earlier_open=earlier,
    )


def render_summary(summary: RunSummary, calendar: Calendar) -> str:
    run = summary.run
    local = calendar.zone
    lines = [
        f"Reconciliation run {run.id}: vendor {run.client_id} ({summary.vendor_name}), "
        f"{run.period_kind} period {run.period_label}",
        f"window {run.window_start.astimezone(local).isoformat(sep=' ')} to "
        f"{run.window_end.astimezone(local).isoformat(sep=' ')} ({local.key}, cut-off "
        f"{calendar.cutoff:%H:%M})",
        f"file {run.file_name}, {run.line_count} lines, sha256 {run.file_sha256}",
    ]
    if run.replaces_run_id is not None:
        lines.append(f"replaces run {run.replaces_run_id}")
    lines += [
        "",
        f"{'category':<21}{'count':>9}{'vendor amount':>17}{'gateway amount':>17}{'effect':>15}",
    ]
    for category in CATEGORIES:
        t = summary.totals.get(category)
        count, vendor, gateway, effect = (
            (t.item_count, t.vendor_amount_cents, t.gateway_amount_cents, t.effect_cents)
            if t
            else (0, 0, 0, 0)
        )
        lines.append(
            f"{category:<21}{count:>9}{format_cents(vendor):>17}"
            f"{format_cents(gateway):>17}{format_cents(effect):>15}"
        )
    lines += [
        "",
        f"gateway total   {format_cents(run.gateway_total_cents):>15}  "
        f"({run.gateway_count} sales in the period; reversed by its end not counted)",
        f"vendor total    {format_cents(run.vendor_total_cents):>15}  "
        f"({run.vendor_count} lines; SUCCESS lines counted)",
        f"difference      {format_cents(summary.difference_cents):>15}  (vendor - gateway)",
        f"vouchers        {format_cents(run.voucher_total_cents):>15}  "
        f"({run.voucher_count} voucher redemptions in the gateway total; no float debit)",
        f"commission      {format_cents(run.commission_cents):>15}  (from the ledger)",
        f"settlement due  {format_cents(run.settlement_due_cents):>15}  "
        "(gateway sales - voucher redemptions - commission)",
        "",
        f"breaks: {summary.new_breaks} new, {summary.carried_breaks} carried from an earlier "
        f"run of this period ({summary.resolved_breaks} of them resolved), "
        f"{summary.cleared_breaks} cleared",
    ]
    if summary.earlier_open:
        lines.append("open breaks of this vendor brought forward from other periods:")
        for bucket in AGE_BUCKETS:
            if bucket in summary.earlier_open:
                count, effect = summary.earlier_open[bucket]
                lines.append(f"  {bucket:<14}{count:>7}  effect {format_cents(effect)}")
    return "\n".join(lines) + "\n"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_breaks_csv(
    session: Session, run_id: int, path: Path, progress: bool | None = None
) -> int:
    """The breaks this run found (with their tracking status), one line each."""
    count = (
        session.scalar(
            select(func.count()).select_from(ReconBreak).where(ReconBreak.last_run_id == run_id)
        )
        or 0
    )
    query = (
        select(ReconBreak)
        .where(ReconBreak.last_run_id == run_id)
        .order_by(ReconBreak.category, ReconBreak.msg_id, ReconBreak.occurrence)
        .execution_options(yield_per=1000)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with (
        tmp.open("w", newline="", encoding="utf-8") as fh,
        tqdm(
            total=count,
            unit="break",
            desc=f"write {path.name}",
            disable=None if progress is None else not progress,
            leave=False,
        ) as bar,
    ):
        out = csv.writer(fh)
        out.writerow(BREAK_COLUMNS)
        for b in session.scalars(query):
            out.writerow(
                [
                    _text(v)
                    for v in (
                        b.id,
                        b.status,
                        b.category,
                        b.client_id,
                        b.period_label,
                        b.msg_id,
                        b.occurrence,
                        b.line_no,
                        b.business_date,
                        b.terminal_id,
                        b.receipt_no,
                        b.meter_number,
                        format_cents(b.vendor_amount_cents)
                        if b.vendor_amount_cents is not None
                        else None,
                        b.vendor_status,
                        b.vended_at,
                        b.gateway_receipt_no,
                        b.gateway_terminal_id,
                        b.gateway_meter_number,
                        format_cents(b.gateway_amount_cents)
                        if b.gateway_amount_cents is not None
                        else None,
                        b.gateway_status,
                        b.gateway_at,
                        format_cents(b.effect_cents),
                        b.note,
                        b.first_run_id,
                    )
                ]
            )
            bar.update()
    tmp.replace(path)  # a reader of the outbox never sees half a file
    return int(count)


def write_outputs(
    session: Session,
    settings: Settings,
    calendar: Calendar,
    run_id: int,
    as_of: date,
    progress: bool | None = None,
) -> tuple[Path, Path, str]:
    """Write the run's summary and breaks CSV to the outbox; returns both paths and the text."""
    summary = run_summary(session, run_id, as_of)
    run = summary.run
    stem = f"{run.client_id}_{run.period_label.replace('-', '')}_run{run.id}"
    folder = outbox(settings)
    folder.mkdir(parents=True, exist_ok=True)
    breaks_path = folder / f"{stem}_breaks.csv"
    write_breaks_csv(session, run_id, breaks_path, progress)
    text = render_summary(summary, calendar)
    summary_path = folder / f"{stem}_summary.txt"
    tmp = summary_path.with_suffix(".txt.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(summary_path)
    return summary_path, breaks_path, text
