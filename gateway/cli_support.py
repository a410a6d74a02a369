"""Small pieces every command module shares."""

from __future__ import annotations

import click


class CliError(click.ClickException):
    """An operator mistake or a refused operation: printed without a traceback, exit code 1."""
