"""`vendgw demo`: the demo utility."""

from __future__ import annotations

import click

from core.db import transaction
from core.runtime import Runtime
from vendgw import demo


@click.group("demo")
def demo_group() -> None:
    """The demo utility (published STS test keys: for demonstration only)."""


@demo_group.command()
@click.pass_obj
def seed(runtime: Runtime) -> None:
    """Create the demo supply groups, tariffs, meters and vendors (idempotent)."""
    with transaction(runtime.sessions) as session:
        demo.seed(session, runtime.security_module, runtime.verifier_key)
    click.echo("demo utility seeded (test keys: demo only)")
