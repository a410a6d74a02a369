"""`vendgw`, the operator's command line. Each package adds its own command groups here."""

from __future__ import annotations

import importlib

import click

from core.runtime import Runtime
from core.settings import load_settings

# Modules that define click commands to hang under `vendgw`: (module, attribute).
COMMANDS = [
    ("vendgw.cli_db", "db"),
    ("vendgw.cli_db", "verify"),
    ("gateway.cli_meter", "meter"),
    ("vendgw.cli_demo", "demo_group"),
    ("vendgw.cli_serve", "serve"),
    ("vendgw.cli_metrics", "metrics_group"),
    ("gateway.soap.wsdl_export", "wsdl_group"),
    ("gateway.xmlvend.wsdl", "xmlvend_wsdl_group"),
    ("gateway.cli_tariff", "tariff"),
    ("gateway.cli_vend", "quote"),
    ("gateway.cli_vend", "vend"),
    ("gateway.cli_fault", "fault"),
    ("vendor_accounts.cli", "vendor"),
    ("vendor_accounts.cli", "terminal"),
    ("vendor_accounts.cli", "float_group"),
    ("reconciliation.cli", "reconcile"),
    ("reconciliation.cli", "recon"),
    ("reconciliation.cli", "report"),
]


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Operate the prepaid vending gateway."""
    runtime = Runtime(load_settings(), batch=True)  # operator work: the long time-outs
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


for _module, _attr in COMMANDS:
    cli.add_command(getattr(importlib.import_module(_module), _attr))


def main() -> None:
    cli(prog_name="vendgw")


if __name__ == "__main__":
    main()
