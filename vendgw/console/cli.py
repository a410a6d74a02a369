"""`vendgw console` (serve the back-office console under gunicorn) and `vendgw user` (its users).

The console listens on its own address (default 127.0.0.1:8081), never the vendors' SOAP port,
with the same gunicorn worker as the gateway (vendgw.serving: requests read whole within
deadlines before a thread runs them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from core.cli_support import CliError, default_actor
from core.db import transaction
from core.runtime import Runtime
from core.settings import CONF_DIR
from vendgw.console import users
from vendgw.console.models import LANGUAGES, ROLES

DEFAULT_BIND = "127.0.0.1:8081"


@click.command("console")
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker processes.")
@click.pass_obj
def console(runtime: Runtime, bind: str, workers: int) -> None:
    """Serve the back-office web console with gunicorn on its own address."""
    soap_bind = runtime.settings.server.bind
    if bind == soap_bind:
        raise CliError(f"{bind} is the SOAP gateway's address; give the console another")
    click.echo(f"Console: http://{bind}/", err=True)
    env = dict(os.environ)
    # The SOAP gateway's metrics directory is its own: the console's gunicorn would empty it.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(CONF_DIR / "gunicorn.conf.py"),
        "--bind",
        bind,
        "--workers",
        str(workers),
        "vendgw.console.wsgi:application",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, args, env)  # noqa: S606 - gunicorn replaces this process on purpose


@click.group("user")
def user() -> None:
    """The back-office console's users."""


def _read_password(path: Path | None) -> tuple[str, bool]:
    """The password from the file's first line, or a generated one (True: show it once)."""
    if path is None:
        return users.generate_password(), True
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise CliError(f"{path}: the first line must hold the password")
    return lines[0], False


def _fail(error: users.UserError) -> CliError:
    return CliError(f"{error} ({error.code})")


@user.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--language", default="en", show_default=True, type=click.Choice(LANGUAGES))
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file whose first line is the password (default: generate one, shown once).",
)
@click.option("--actor", default=default_actor, help="Who is acting (for the audit trail).")
@click.pass_obj
def user_add(
    runtime: Runtime,
    username: str,
    role: str,
    language: str,
    password_file: Path | None,
    actor: str,
) -> None:
    """Add a console user with a role and a language."""
    password, generated = _read_password(password_file)
    try:
        with transaction(runtime.sessions) as session:
            users.add_user(session, username, role, password, language=language, actor=actor)
    except users.UserError as error:
        raise _fail(error) from None
    click.echo(f"added console user {username} ({role}, {language})")
    if generated:
        click.echo(f"password (shown once): {password}")


@user.command("disable")
@click.argument("username")
@click.option("--actor", default=default_actor, help="Who is acting (for the audit trail).")
@click.pass_obj
def user_disable(runtime: Runtime, username: str, actor: str) -> None:
    """Disable a console user; their sessions end at once."""
    try:
        with transaction(runtime.sessions) as session:
            users.disable_user(session, username, actor=actor)
    except users.UserError as error:
        raise _fail(error) from None
    click.echo(f"disabled console user {username}")


@user.command("reset-password")
@click.argument("username")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file whose first line is the new password (default: generate one, shown once).",
)
@click.option("--actor", default=default_actor, help="Who is acting (for the audit trail).")
@click.pass_obj
def user_reset_password(
    runtime: Runtime, username: str, password_file: Path | None, actor: str
) -> None:
    """Give a console user a new password; the lockout is cleared and their sessions end."""
    password, generated = _read_password(password_file)
    try:
        with transaction(runtime.sessions) as session:
            users.reset_password(session, username, password, actor=actor)
    except users.UserError as error:
        raise _fail(error) from None
    click.echo(f"new password set for console user {username}")
    if generated:
        click.echo(f"password (shown once): {password}")
