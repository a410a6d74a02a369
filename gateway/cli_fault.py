"""`vendgw fault`: the customer fault reports terminals sent (CustReportFault), for the
utility's field staff."""

from __future__ import annotations

import json
from datetime import datetime

import click

from core.cli_support import CliError
from core.localtime import day_bounds_utc, utility_zone
from core.runtime import Runtime
from gateway.vend import fault_reports


@click.group()
def fault() -> None:
    """Customer fault reports."""


@fault.command("list")
@click.option("--since", help="Reports from this business day on (YYYY-MM-DD, utility's time).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_obj
def list_faults(runtime: Runtime, since: str | None, as_json: bool) -> None:
    """List fault reports, oldest first, with their reference numbers."""
    zone = utility_zone(runtime.settings.utility.timezone)
    start = None
    if since is not None:
        try:
            day = datetime.strptime(since, "%Y-%m-%d").date()
        except ValueError:
            raise CliError(f"--since must be a date YYYY-MM-DD, not {since!r}") from None
        start, _ = day_bounds_utc(day, day, zone)
    with runtime.sessions() as session:
        rows = fault_reports.recent(session, start)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "ref_no": r.ref_no,
                        "reported_at": r.reported_at.astimezone(zone).isoformat(),
                        "client_id": r.client_id,
                        "terminal_id": r.terminal_id,
                        "operator": r.operator,
                        "meter_number": r.meter_number,
                        "account_no": r.account_no,
                        "fault_kind": r.fault_kind,
                        "description": r.description,
                        "contact": r.contact,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no fault reports")
        return
    for r in rows:
        at = r.reported_at.astimezone(zone).isoformat(sep=" ", timespec="seconds")
        where = " ".join(
            part
            for part in (
                f"meter {r.meter_number}" if r.meter_number else "",
                f"account {r.account_no}" if r.account_no else "",
            )
            if part
        )
        click.echo(
            f"{r.ref_no}  {at}  {r.fault_kind}  {where or '-'}  contact {r.contact or '-'}  "
            f"({r.client_id}/{r.terminal_id})  {r.description}"
        )
