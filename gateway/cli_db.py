"""`vendgw db`: schema migrations."""

from __future__ import annotations

import click

from gateway import migrate
from gateway.runtime import Runtime


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
