"""`vendgw meter`: meters and their customers."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from core.cli_support import CliError
from core.db import transaction
from core.runtime import Runtime
from gateway.meter_import import MasterData, apply_rows, read_rows, validate_rows


@click.group()
def meter() -> None:
    """Meters and customers."""


@meter.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good rows even when some are bad.")
@click.pass_obj
def import_(runtime: Runtime, path: Path, skip_bad: bool) -> None:
    """Import meters with their customers from a CSV file (upsert by meter number)."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        try:
            raw_rows = list(
                tqdm(read_rows(stream), desc="reading", unit=" rows", leave=False, disable=None)
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
    with transaction(runtime.sessions) as session:
        good, problems = validate_rows(raw_rows, MasterData.load(session))
        for problem in problems:
            click.echo(f"{path.name}: {problem}", err=True)
        if problems and not skip_bad:
            raise CliError(
                f"{len(problems)} bad row(s); nothing imported (--skip-bad imports the good rows)"
            )
        counts = apply_rows(
            session, tqdm(good, desc="importing", unit=" meters", leave=False, disable=None)
        )
    click.echo(
        f"{counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged"
        + (f", {len(problems)} bad row(s) skipped" if problems else "")
    )
