"""`vendgw serve`: the SOAP gateway under gunicorn.

gunicorn runs vendgw.serving's asyncio worker (conf/gunicorn.conf.py), which reads each request
whole, within deadlines, before a thread runs the WSGI application: slow clients cost a
coroutine, never a worker. Never point gunicorn's sync workers at `vendgw.wsgi:application`
where clients can reach them.
"""

from __future__ import annotations

import os
import sys

import click

from core.runtime import Runtime
from core.settings import CONF_DIR


@click.command()
@click.option("--bind", help="HOST:PORT to listen on (default: server.bind from settings).")
@click.option("--workers", type=int, help="Worker processes (default from conf/gunicorn.conf.py).")
@click.option(
    "--threads",
    type=int,
    help="Requests each worker runs at once (default from conf/gunicorn.conf.py).",
)
@click.pass_obj
def serve(runtime: Runtime, bind: str | None, workers: int | None, threads: int | None) -> None:
    """Serve the gateway with gunicorn; the WSDL is at http://HOST:PORT/vend?wsdl."""
    bind = bind or runtime.settings.server.bind
    scheme = "https" if os.environ.get("VENDGW_TLS_CERT") else "http"
    click.echo(f"WSDL: {scheme}://{bind}/vend?wsdl", err=True)
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(CONF_DIR / "gunicorn.conf.py"),
        "--bind",
        bind,
    ]
    if workers:
        args += ["--workers", str(workers)]
    if threads:
        args += ["--threads", str(threads)]
    args.append("vendgw.serving:application")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)  # noqa: S606 - gunicorn replaces this process on purpose
