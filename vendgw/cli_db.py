"""`vendgw db`: schema migrations and the backup restore drill; `vendgw verify`: every invariant
check against the live database."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli_support import CliError
from core.runtime import Runtime
from vendgw import migrate


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.option("--revision", default="heads", show_default=True)
@click.pass_obj
def upgrade(runtime: Runtime, revision: str) -> None:
    """Apply migrations up to REVISION (all packages' heads by default)."""
    url = runtime.settings.database_url
    if url.startswith("sqlite:///"):
        runtime.settings.path(url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    migrate.upgrade(url, revision)
    click.echo("database is up to date")


@db.command()
@click.pass_obj
def check(runtime: Runtime) -> None:
    """Fail when the models and the migrated schema differ."""
    migrate.check(runtime.settings.database_url)
    click.echo("schema matches the models")


@db.command("verify-backup")
@click.argument("backup", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--server",
    help="SQLAlchemy URL of the PostgreSQL server to restore on "
    "(default: the configured database's server).",
)
@click.option(
    "--pg-bin",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of pg_restore and psql (default: PATH, then /usr/lib/postgresql/*/bin).",
)
@click.pass_obj
def verify_backup(runtime: Runtime, backup: Path, server: str | None, pg_bin: Path | None) -> None:
    """Restore BACKUP into a scratch database, run every invariant check, drop it again.

    BACKUP is a pg_dump file (-Fc recommended; -Fd, -Ft and plain SQL too) or a SQLite
    database file. Exits 1 when the backup does not restore or any check fails."""
    from vendgw.backup import RestoreFailed
    from vendgw.backup import verify_backup as verify

    try:
        report = verify(backup, server or runtime.settings.database_url, pg_bin)
    except RestoreFailed as exc:
        raise CliError(str(exc)) from exc
    click.echo(report.render())
    if not report.ok:
        raise CliError(f"{backup} failed verification")


@click.command("verify")
@click.pass_obj
def verify(runtime: Runtime) -> None:
    """Run every invariant check against the database: the ledger (as `vendgw float verify`),
    each meter month's figures against its vends, and every vend's tokens.

    Exits 1 when any check fails."""
    from sqlalchemy import func, select

    from vendgw.backup import invariant_checks
    from vendor_accounts.models import JournalEntry

    with runtime.sessions() as session:
        entries = session.scalar(select(func.count(JournalEntry.id))) or 0
    checks = invariant_checks(runtime.sessions, entries)
    for check in checks:
        if check.problems:
            click.echo(f"FAIL  {check.name}: {len(check.problems)} problem(s)")
            for problem in check.problems:
                click.echo(f"        {problem}", err=True)
        else:
            click.echo(f"ok    {check.name}: {check.summary}")
    failed = [check.name for check in checks if check.problems]
    if failed:
        raise CliError(f"the database failed verification: {', '.join(failed)}")
    click.echo("database verified: every invariant holds")
