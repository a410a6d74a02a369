"""`vendgw tariff`: tariffs and their dated versions."""

from __future__ import annotations

import re
from datetime import date, datetime

import click
from sqlalchemy import select

from core.cli_support import CliError
from core.db import transaction
from core.money import AmountError, format_cents, format_price_e4, format_tenths, parse_cents
from core.runtime import Runtime
from gateway import pricing
from gateway.models import Tariff
from gateway.tariffs import ensure_tariff_version, tariff_steps, version_in_force

_STEP = re.compile(r"(?:(?P<upto>[0-9]{1,6}(?:\.[0-9])?)|\*)?:(?P<price>[0-9]{1,4}\.[0-9]{1,4})")


def parse_step(text: str) -> tuple[int | None, int]:
    """'50:1.2000' -> (500, 12000): up to 50 kWh a month at 1.2000 per kWh excl. VAT;
    '*:2.1000' or ':2.1000' is the last, unbounded step."""
    match = _STEP.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r}: write UPTO_KWH:PRICE, or *:PRICE for the last step")
    whole, _, frac = match["price"].partition(".")
    price_e4 = int(whole) * 10000 + int(frac.ljust(4, "0"))
    upto = match["upto"]
    if upto is None:
        return None, price_e4
    kwh, _, tenth = upto.partition(".")
    return int(kwh) * 10 + int(tenth or "0"), price_e4


@click.group()
def tariff() -> None:
    """Tariffs: a change takes effect from a date; past receipts keep the tariff they had."""


@tariff.command("add")
@click.argument("code")
@click.option("--description", default="")
@click.option(
    "--from",
    "effective_from",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day (utility's timezone) the prices apply.",
)
@click.option(
    "--step",
    "steps",
    multiple=True,
    required=True,
    help="UPTO_KWH:PRICE per kWh excl. VAT, in order; *:PRICE for the last step.",
)
@click.option(
    "--fixed-charge", default="0.00", show_default=True, help="Monthly fixed charge, VAT-inclusive."
)
@click.pass_obj
def add(
    runtime: Runtime,
    code: str,
    description: str,
    effective_from: datetime,
    steps: tuple[str, ...],
    fixed_charge: str,
) -> None:
    """Add tariff CODE, or a new version of it from a date."""
    parsed = tuple(parse_step(s) for s in steps)
    try:
        fixed = parse_cents(fixed_charge)
        check = pricing.TariffSteps(
            code, description, tuple(pricing.Step(u, p) for u, p in parsed), fixed
        )
    except (AmountError, pricing.PricingError) as exc:
        raise CliError(str(exc)) from None
    with transaction(runtime.sessions) as session:
        version = ensure_tariff_version(
            session, code, description, effective_from.date(), parsed, fixed
        )
        if tariff_steps(version).steps != check.steps or (
            version.monthly_fixed_charge_cents != fixed
        ):
            raise CliError(
                f"{code} already has a different version from "
                f"{effective_from.date()}; past receipts were priced with it, so "
                "add a version from a later date instead"
            )
    click.echo(f"{code} from {effective_from.date()}: {pricing.describe_tariff(check)}")


@tariff.command("list")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Date (default today).")
@click.pass_obj
def list_(runtime: Runtime, on: datetime | None) -> None:
    """Tariffs with the version in force on a date."""
    day = on.date() if on else date.today()
    with runtime.sessions() as session:
        for t in session.scalars(select(Tariff).order_by(Tariff.code)):
            version = version_in_force(session, t.id, day)
            text = pricing.describe_tariff(tariff_steps(version)) if version else "(not in force)"
            click.echo(text)


@tariff.command("show")
@click.argument("code")
@click.pass_obj
def show(runtime: Runtime, code: str) -> None:
    """Every version of a tariff with its steps."""
    with runtime.sessions() as session:
        t = session.scalar(select(Tariff).where(Tariff.code == code))
        if t is None:
            raise CliError(f"no tariff {code!r}")
        click.echo(f"{t.code}: {t.description}")
        for v in t.versions:
            click.echo(
                f"  from {v.effective_from}: fixed charge "
                f"{format_cents(v.monthly_fixed_charge_cents)} a month (incl. VAT)"
            )
            lower = 0
            for s in v.steps:
                upper = "" if s.upto_tenths is None else format_tenths(s.upto_tenths)
                click.echo(
                    f"    {format_tenths(lower)} - {upper or '...'} kWh: "
                    f"{format_price_e4(s.price_e4)} per kWh excl. VAT"
                )
                lower = s.upto_tenths or lower
