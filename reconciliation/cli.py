"""`vendgw reconcile`, `vendgw recon` and `vendgw report`: reconciling vendor reports, working the
breaks, and the reports finance and vending staff read.

Commands are thin: they parse options, call one function of the package and print. Our refusals
become a one-line (or, for a malformed file, a line-per-problem) error and exit status 1 with
nothing changed; `reconcile nightly` exits 1 when any file of the night was refused.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO

import click
from sqlalchemy import select
from tqdm import tqdm

from core.cli_support import CliError, actor_option
from core.db import transaction, utcnow
from core.money import format_cents
from core.runtime import Runtime
from reconciliation import monthly_render, nightly, operational, outputs, runs, vouchers_report
from reconciliation.breaks import open_breaks, resolve
from reconciliation.exceptions import ReconciliationError
from reconciliation.models import ReconRun
from reconciliation.monthly import monthly_report
from reconciliation.periods import DAILY, MONTHLY, Calendar, Period, parse_period
from reconciliation.report_file import identify

__all__ = ["recon", "reconcile", "report"]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except ReconciliationError as exc:
        raise CliError(exc.message) from exc


def _today(calendar: Calendar) -> date:
    return calendar.business_day(utcnow())


def _day(text: str | None, calendar: Calendar) -> date:
    if text is None:
        return calendar.last_closed_day(utcnow())
    with _refusals():
        return parse_period(text, DAILY).first


# -- reconcile ------------------------------------------------------------------------------


@click.group()
def reconcile() -> None:
    """Reconcile vendor reports against what the gateway issued."""


@reconcile.command("file")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--vendor",
    "client_id",
    default=None,
    help="The vendor's clientID (default: from the file name).",
)
@click.option(
    "--period",
    default=None,
    help="YYYY-MM-DD (daily file) or YYYY-MM (monthly report); default: from the name.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Reconcile a period that already was, replacing its run (audited).",
)
@actor_option
@click.pass_obj
def reconcile_file(
    runtime: Runtime,
    path: Path,
    client_id: str | None,
    period: str | None,
    replace: bool,
    actor: str,
) -> None:
    """Reconcile one vendor report: a daily file <clientID>_<YYYYMMDD>.csv or a monthly report
    <clientID>_<YYYYMM>.csv."""
    calendar = runs.calendar_of(runtime)
    with _refusals():
        source = identify(path, client_id, period)
        outcome = runs.reconcile(runtime, source, actor=actor, replace=replace)
    with runtime.sessions() as session:
        summary_path, breaks_path, text = outputs.write_outputs(
            session, runtime.settings, calendar, outcome.run_id, _today(calendar)
        )
    click.echo(text, nl=False)
    click.echo(f"\nwritten: {summary_path}\n         {breaks_path}")


@reconcile.command("nightly")
@click.option(
    "--date",
    "day",
    default=None,
    help="The business day (YYYY-MM-DD); default: the last one that has ended.",
)
@actor_option
@click.pass_obj
def reconcile_nightly(runtime: Runtime, day: str | None, actor: str) -> None:
    """Reconcile every vendor file of a business day from the inbox; archive what was
    reconciled, record active vendors whose file is missing. Exit 1 if a file was refused."""
    calendar = runs.calendar_of(runtime)
    result = nightly.run_nightly(runtime, _day(day, calendar), actor=actor)
    click.echo(nightly.render(result), nl=False)
    for _, error in result.refused:
        click.echo(f"\n{error.message}", err=True)
    if not result.ok:
        raise CliError(
            f"{len(result.refused)} file(s) could not be reconciled; they are still in the inbox"
        )


# -- recon ----------------------------------------------------------------------------------


@click.group()
def recon() -> None:
    """Reconciliation runs and the breaks they found."""


@recon.command("breaks")
@click.option("--vendor", "client_id", default=None, help="Only this clientID.")
@click.option("--as-of", default=None, help="Age breaks to this day (default: today).")
@click.pass_obj
def recon_breaks(runtime: Runtime, client_id: str | None, as_of: str | None) -> None:
    """Open breaks by vendor and age (days since the item's business day)."""
    calendar = runs.calendar_of(runtime)
    day = _today(calendar) if as_of is None else _day(as_of, calendar)
    with runtime.sessions() as session:
        rows = open_breaks(session, day, client_id=client_id)
    if not rows:
        click.echo("no open breaks")
        return
    click.echo(
        f"{'break':>7}  {'clientID':13}  {'period':10}  {'category':20}  {'age':>4}  "
        f"{'bucket':12}  {'effect':>11}  msg_id / note"
    )
    current = None
    for b in rows:
        if b.client_id != current and current is not None:
            click.echo("")
        current = b.client_id
        click.echo(
            f"{b.id:>7}  {b.client_id:13}  {b.period_label:10}  {b.category:20}  "
            f"{b.age_days:>4}  {b.bucket:12}  {format_cents(b.effect_cents):>11}  "
            f"{b.msg_id}: {b.note}"
        )
    click.echo(f"\n{len(rows)} open break(s)")


@recon.command("resolve")
@click.argument("break_id", type=int)
@click.option("--note", required=True, help="How it was explained or settled.")
@click.option("--operator", required=True, help="Who resolves it (audited).")
@click.pass_obj
def recon_resolve(runtime: Runtime, break_id: int, note: str, operator: str) -> None:
    """Resolve an open break with a note (audited)."""
    with _refusals(), transaction(runtime.sessions) as session:
        found = resolve(session, break_id, note=note, operator=operator, now=utcnow())
        click.echo(
            f"break {found.id} ({found.category} {found.msg_id}) resolved by {found.resolved_by}"
        )


@recon.command("runs")
@click.option("--vendor", "client_id", default=None)
@click.option("--all", "show_all", is_flag=True, help="Include replaced runs.")
@click.pass_obj
def recon_runs(runtime: Runtime, client_id: str | None, show_all: bool) -> None:
    """Reconciliation runs, newest first."""
    query = select(ReconRun).order_by(ReconRun.id.desc())
    if client_id:
        query = query.where(ReconRun.client_id == client_id)
    if not show_all:
        query = query.where(ReconRun.status == "current")
    with runtime.sessions() as session:
        found = list(session.scalars(query))
    if not found:
        click.echo("no runs")
        return
    for r in found:
        click.echo(
            f"{r.id:>6}  {r.client_id}  {r.period_kind:7}  {r.period_label:10}  "
            f"{r.status:8}  lines {r.line_count:>8}  gateway "
            f"{format_cents(r.gateway_total_cents):>14}  vendor "
            f"{format_cents(r.vendor_total_cents):>14}  vouchers "
            f"{format_cents(r.voucher_total_cents):>14}  settlement "
            f"{format_cents(r.settlement_due_cents):>14}  {r.file_name}"
        )


@recon.command("show")
@click.argument("run_id", type=int)
@click.option("--write", is_flag=True, help="Write the summary and breaks CSV again.")
@click.pass_obj
def recon_show(runtime: Runtime, run_id: int, write: bool) -> None:
    """Print a run's summary (from what it stored)."""
    calendar = runs.calendar_of(runtime)
    with _refusals(), runtime.sessions() as session:
        if write:
            summary_path, breaks_path, text = outputs.write_outputs(
                session, runtime.settings, calendar, run_id, _today(calendar)
            )
            click.echo(text, nl=False)
            click.echo(f"\nwritten: {summary_path}\n         {breaks_path}")
            return
        click.echo(
            outputs.render_summary(
                outputs.run_summary(session, run_id, _today(calendar)), calendar
            ),
            nl=False,
        )


# -- report ---------------------------------------------------------------------------------


@click.group()
def report() -> None:
    """Finance and operational reports."""


def _period(day: str | None, month: str | None) -> Period:
    if (day is None) == (month is None):
        raise CliError("give exactly one of --day YYYY-MM-DD or --month YYYY-MM")
    with _refusals():
        return parse_period(day, DAILY) if day else parse_period(month or "", MONTHLY)


def _write_table(table: operational.Table, out: Path | None) -> None:
    fh: IO[str]
    fh = sys.stdout if out is None else out.open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(table.columns)
        for row in tqdm(table.rows, desc="write", unit="row", disable=None, leave=False):
            writer.writerow(row)
    finally:
        if out is not None:
            fh.close()
            click.echo(f"written: {out} ({len(table.rows)} rows)", err=True)


_out_option = click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write here instead of to standard output.",
)
_day_option = click.option("--day", default=None, help="A business day YYYY-MM-DD.")
_month_option = click.option("--month", default=None, help="A business month YYYY-MM.")


@report.command("monthly")
@click.option("--month", required=True, help="The business month, YYYY-MM.")
@click.option(
    "--format", "fmt", type=click.Choice(monthly_render.FORMATS), default="csv", show_default=True
)
@_out_option
@click.pass_obj
def report_monthly(runtime: Runtime, month: str, fmt: str, out: Path | None) -> None:
    """The monthly finance report per vendor (ties to the ledger), with a totals row. CSV and
    HTML go to standard output unless --out; XLSX to the outbox unless --out."""
    calendar = runs.calendar_of(runtime)
    with _refusals():
        period = parse_period(month, MONTHLY)
    steps = tqdm(total=2, desc=f"report {period.label}", disable=None, leave=False)
    with steps, runtime.sessions() as session:
        figures = monthly_report(session, period, calendar, _today(calendar))
        steps.update()
        if fmt == "xlsx":  # a binary file: written to the outbox unless --out says where
            target = out or outputs.outbox(runtime.settings) / f"vending_{period.compact}.xlsx"
            target.parent.mkdir(parents=True, exist_ok=True)
            u = runtime.settings.utility
            monthly_render.write_xlsx(figures, target, utility_name=u.name, currency=u.currency)
        else:
            u = runtime.settings.utility
            text = (
                monthly_render.render_csv(figures)
                if fmt == "csv"
                else monthly_render.render_html(figures, u.name, u.currency)
            )
            if out is None:
                click.echo(text, nl=False)
                return
            target = out
            target.write_text(text, encoding="utf-8")
        steps.update()
    click.echo(f"written: {target}", err=True)


@report.command("vouchers")
@click.option("--month", required=True, help="The business month, YYYY-MM.")
@_out_option
@click.pass_obj
def report_vouchers(runtime: Runtime, month: str, out: Path | None) -> None:
    """Scratch-card vouchers in the month per batch and per vendor (created, activated,
    redeemed, voided, expired; counts and values), redemptions per channel, and the outstanding
    liability tied to the ledger's voucher liability account (CSV)."""
    calendar = runs.calendar_of(runtime)
    with _refusals():
        period = parse_period(month, MONTHLY)
    with runtime.sessions() as session:
        text = vouchers_report.render_csv(
            vouchers_report.vouchers_report(session, period, calendar)
        )
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"written: {out}", err=True)


@report.command("vending")
@_day_option
@_month_option
@click.option(
    "--by",
    type=click.Choice(["vendor", "terminal", "operator"]),
    default="vendor",
    show_default=True,
)
@click.option("--per-day", is_flag=True, help="One row per business day of a month.")
@_out_option
@click.pass_obj
def report_vending(
    runtime: Runtime, day: str | None, month: str | None, by: str, per_day: bool, out: Path | None
) -> None:
    """Credit vends per vendor, terminal or operator (counts, amount, kWh, reversed)."""
    period = _period(day, month)
    with runtime.sessions() as session:
        table = operational.vending(
            session, period, runs.calendar_of(runtime), by=by, per_day=per_day
        )
    _write_table(table, out)


@report.command("fbe")
@_day_option
@_month_option
@_out_option
@click.pass_obj
def report_fbe(runtime: Runtime, day: str | None, month: str | None, out: Path | None) -> None:
    """Free basic electricity issued."""
    with runtime.sessions() as session:
        table = operational.fbe_issued(session, _period(day, month), runs.calendar_of(runtime))
    _write_table(table, out)


@report.command("faults")
@_day_option
@_month_option
@_out_option
@click.pass_obj
def report_faults(runtime: Runtime, day: str | None, month: str | None, out: Path | None) -> None:
    """Customer fault reports sent by terminals (CustReportFault)."""
    with runtime.sessions() as session:
        table = operational.faults(session, _period(day, month), runs.calendar_of(runtime))
    _write_table(table, out)


@report.command("reprints")
@_day_option
@_month_option
@_out_option
@click.pass_obj
def report_reprints(runtime: Runtime, day: str | None, month: str | None, out: Path | None) -> None:
    """Receipts handed out again by Reprint."""
    with runtime.sessions() as session:
        table = operational.reprints(session, _period(day, month), runs.calendar_of(runtime))
    _write_table(table, out)


@report.command("reversals")
@_day_option
@_month_option
@_out_option
@click.pass_obj
def report_reversals(
    runtime: Runtime, day: str | None, month: str | None, out: Path | None
) -> None:
    """Vends reversed in the period."""
    with runtime.sessions() as session:
        table = operational.reversals(session, _period(day, month), runs.calendar_of(runtime))
    _write_table(table, out)


@report.command("debt")
@_day_option
@_month_option
@_out_option
@click.pass_obj
def report_debt(runtime: Runtime, day: str | None, month: str | None, out: Path | None) -> None:
    """Customer arrears recovered from vends."""
    with runtime.sessions() as session:
        table = operational.debt_collected(session, _period(day, month), runs.calendar_of(runtime))
    _write_table(table, out)


@report.command("abnormal")
@click.option(
    "--days",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="No purchase in this many days.",
)
@click.option("--as-of", default=None, help="Up to the end of this day (default: today).")
@_out_option
@click.pass_obj
def report_abnormal(runtime: Runtime, days: int, as_of: str | None, out: Path | None) -> None:
    """Active meters whose customers bought nothing for --days days."""
    calendar = runs.calendar_of(runtime)
    day = _today(calendar) if as_of is None else _day(as_of, calendar)
    with runtime.sessions() as session:
        table = operational.abnormal_customers(session, day, calendar, days=days)
    _write_table(table, out)
