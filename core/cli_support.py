"""Small pieces every command module shares."""

from __future__ import annotations

import getpass
import os

import click


class CliError(click.ClickException):
    """An operator mistake or a refused operation: printed without a traceback, exit code 1."""


def default_actor() -> str:
    """Who runs a command, for the audit log: VENDGW_OPERATOR, else the login name."""
    try:
        return os.environ.get("VENDGW_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "operator"


actor_option = click.option(
    "--actor",
    default=default_actor,
    show_default="current user",
    help="Who is doing this (recorded in the audit log).",
)
