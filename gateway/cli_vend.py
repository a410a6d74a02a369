"""`vendgw quote` and `vendgw vend`: pricing without selling, and operator actions on vends."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import click

from core.cli_support import CliError
from core.db import utcnow
from core.money import AmountError, format_price_e4, format_tenths, parse_cents
from core.runtime import Runtime
from gateway import errors
from gateway.tariffs import TariffBook
from gateway.vend import flow, refusals


@click.command()
@click.option("--meter", "meter_number", required=True)
@click.option("--amount", required=True, help="Tender, e.g. 100.00")
@click.option("--json", "as_json", is_flag=True, help="Print the quote as JSON.")
@click.pass_obj
def quote(runtime: Runtime, meter_number: str, amount: str, as_json: bool) -> None:
    """Price a vend for a meter now, without selling it."""
    try:
        tender = parse_cents(amount, allow_zero=False)
    except AmountError as exc:
        raise CliError(str(exc)) from None
    clock = flow.VendClock(utcnow(), ZoneInfo(runtime.settings.utility.timezone))
    try:
        with refusals.translated(), runtime.sessions() as session:
            found = flow.find_meter(session, meter_number, clock)
            priced = flow.price(session, TariffBook(), found, tender, clock, runtime.settings)
    except errors.GatewayError as exc:
        raise CliError(f"{exc.fault_type}: {exc.message}") from None
    body = priced.quote.to_json_dict()
    body["tender"] = amount
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    q = priced.quote
    click.echo(f"meter {meter_number}, tariff {q.tariff_code}, tender {body['tender']}")
    for key in ("debt_recovered", "fixed_charge", "fixed_charge_vat", "energy", "energy_vat"):
        click.echo(f"  {key:<17}{body[key]:>12}")
    for step in q.steps:
        click.echo(f"  {format_tenths(step.tenths):>8} kWh @ {format_price_e4(step.price_e4)}")
    click.echo(
        f"  units {format_tenths(q.units_tenths)} kWh"
        + (f" + FBE {format_tenths(q.fbe_units_tenths)} kWh" if q.fbe_units_tenths else "")
    )


@click.group()
def vend() -> None:
    """Operator actions on vends."""


@vend.command()
@click.option("--receipt", "receipt_no", required=True)
@click.option("--reason", required=True)
@click.option("--operator", required=True, help="Who authorised the reversal (audited).")
@click.pass_obj
def reverse(runtime: Runtime, receipt_no: str, reason: str, operator: str) -> None:
    """Reverse a vend by receipt number (no time window; never a confirmed vend)."""
    from gateway.vend.service import DatabaseVendingService

    try:
        tx = DatabaseVendingService(runtime).reverse_by_receipt(receipt_no, reason, operator)
    except errors.GatewayError as exc:
        raise CliError(f"{exc.fault_type}: {exc.message}") from None
    click.echo(f"receipt {tx.receipt_no} reversed")
