"""`vendgw metrics`: the internal Prometheus listener (see vendgw/metrics.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from core.cli_support import CliError
from core.runtime import Runtime
from vendgw import metrics


@click.group("metrics")
def metrics_group() -> None:
    """Prometheus metrics of the gateway's workers."""


@metrics_group.command("serve")
@click.option(
    "--bind",
    envvar="VENDGW_METRICS_BIND",
    default=metrics.DEFAULT_BIND,
    show_default=True,
    help="Internal HOST:PORT for GET /metrics (env "
    "VENDGW_METRICS_BIND); never the vendor-facing address.",
)
@click.option(
    "--dir",
    "directory",
    envvar=metrics.MULTIPROC_ENV,
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Where the gateway's workers write their figures (env {metrics.MULTIPROC_ENV},"
    " the same value the gateway runs with).",
)
@click.pass_obj
def serve(runtime: Runtime, bind: str, directory: Path) -> None:
    """Serve the merged figures of every gateway worker at http://BIND/metrics."""
    vendor_bind = os.environ.get("VENDGW_SERVER_BIND") or runtime.settings.server.bind
    click.echo(f"metrics: http://{bind}/metrics (from {directory})", err=True)
    try:
        metrics.serve(bind, directory, vendor_bind=vendor_bind)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from exc
    except KeyboardInterrupt:
        pass
