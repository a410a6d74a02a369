"""`vendgw voucher`: scratch-card stock. Create a batch, export its print file once (encrypted to
the card printer's age key), activate it (sold to its vendor: its float pays), void lost or
stolen stock, and show batches and vouchers. Redemption is VoucherVend on /vend.

The contract of these commands is the README's ("Scratch-card vouchers"): `batch create` prints
the batch id alone on its first line, then the serial range, or with `--json` one object.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from core.cli_support import CliError, actor_option
from core.db import transaction, utcnow
from core.keys import derive_voucher_key, derive_voucher_seal_key
from core.localtime import local_day
from core.money import AmountError, format_cents, parse_cents
from core.runtime import Runtime
from gateway.vouchers import activation, batches
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.pins import format_serial, parse_serial, parse_serial_range
from vendor_accounts.exceptions import VendorAccountsError
from vendor_accounts.vendors import get_vendor


def _today(runtime: Runtime) -> date:
    return local_day(utcnow(), ZoneInfo(runtime.settings.utility.timezone))


def _serials(text: str) -> tuple[int, int]:
    try:
        return parse_serial_range(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _refused(exc: Exception) -> CliError:
    code = getattr(exc, "code", "refused")
    return CliError(f"{code}: {getattr(exc, 'message', exc)}")


@click.group()
def voucher() -> None:
    """Scratch-card vouchers: batches, print files, activation, voids."""


@voucher.group()
def batch() -> None:
    """Voucher batches: create and export."""


@batch.command("create")
@click.option("--vendor", "client_id", required=True, help="The buying vendor's clientID.")
@click.option("--denomination", required=True, help="Face value of each voucher, e.g. 20.00")
@click.option("--count", type=click.IntRange(1, batches.MAX_BATCH), required=True)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@actor_option
@click.pass_obj
def batch_create(
    runtime: Runtime,
    client_id: str,
    denomination: str,
    count: int,
    expires: object,
    as_json: bool,
    actor: str,
) -> None:
    """Draw a batch of PINs (only their keyed hashes are stored; the PINs stay sealed until the
    batch is exported)."""
    try:
        cents = parse_cents(denomination, allow_zero=False)
    except AmountError as exc:
        raise CliError(f"denomination: {exc}") from None
    expires_on = expires.date() if expires is not None else None  # type: ignore[attr-defined]
    master = runtime.settings.master_key()
    try:
        with transaction(runtime.sessions) as session:
            vendor = get_vendor(session, client_id)
            created = batches.create_batch(
                session,
                vendor_id=vendor.id,
                denomination_cents=cents,
                count=count,
                expires_on=expires_on,
                actor=actor,
                lookup_key=derive_voucher_key(master),
                seal_key=derive_voucher_seal_key(master),
                today=_today(runtime),
            )
    except (VoucherError, VendorAccountsError) as exc:
        raise _refused(exc) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "batch_id": created.batch_id,
                    "first_serial": format_serial(created.first_serial),
                    "last_serial": format_serial(created.last_serial),
                    "count": created.count,
                    "denomination": format_cents(created.denomination_cents),
                }
            )
        )
        return
    click.echo(str(created.batch_id))
    click.echo(f"{format_serial(created.first_serial)}-{format_serial(created.last_serial)}")


@batch.command("export")
@click.argument("batch_id", type=int)
@click.option("--recipient", required=True, help="The card printer's age public key (age1...).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@actor_option
@click.pass_obj
def batch_export(runtime: Runtime, batch_id: int, recipient: str, out: Path, actor: str) -> None:
    """Write the batch's print file (CSV: serial, PIN, denomination, expiry), encrypted to the
    printer's age key. Once per batch: afterwards the PINs exist nowhere in the gateway."""
    if out.exists():
        raise CliError(f"{out} exists: the print file is never overwritten")
    seal_key = derive_voucher_seal_key(runtime.settings.master_key())
    partial = out.with_name(f".{out.name}.partial")
    try:
        with transaction(runtime.sessions) as session:
            encrypted = batches.export_batch(
                session, batch_id, recipient=recipient, actor=actor, seal_key=seal_key
            )
            # Written and synced before the commit that forgets the PINs.
            with partial.open("xb") as f:
                f.write(encrypted)
                f.flush()
                os.fsync(f.fileno())
            partial.rename(out)
    except VoucherError as exc:
        partial.unlink(missing_ok=True)
        raise _refused(exc) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    click.echo(f"batch {batch_id}: print file written to {out} (age-encrypted)")


@batch.command("show")
@click.argument("batch_id", type=int)
@click.pass_obj
def batch_show(runtime: Runtime, batch_id: int) -> None:
    """One batch and its vouchers by state."""
    with runtime.sessions() as session:
        states = batches.batch_states(session, batch_id)
    if not states:
        raise CliError(f"unknown-batch: no voucher batch {batch_id}")
    _print_batches(states, _today(runtime))


def _print_batches(states: list[batches.BatchState], today: date) -> None:
    click.echo(
        f"{'batch':>6}  {'vendor':<13}  {'face':>9}  {'serials':<25}  {'expires':<10}  "
        f"{'exported':<8}  created active redeemed voided"
    )
    for b in states:
        expiry = b.expires_on.isoformat() if b.expires_on else "-"
        if b.expires_on and today > b.expires_on:
            expiry += " (expired)"
        counts = "  ".join(
            f"{b.by_status.get(s, 0):>6}" for s in ("created", "active", "redeemed", "voided")
        )
        click.echo(
            f"{b.batch_id:>6}  {b.client_id:<13}  {format_cents(b.denomination_cents):>9}  "
            f"{format_serial(b.first_serial)}-{format_serial(b.last_serial)}  {expiry:<10}  "
            f"{'yes' if b.exported_at else 'no':<8}  {counts}"
        )


@voucher.command("batches")
@click.pass_obj
def batches_cmd(runtime: Runtime) -> None:
    """Every batch and its vouchers by state."""
    with runtime.sessions() as session:
        states = batches.batch_states(session)
    _print_batches(states, _today(runtime))


@voucher.command("activate")
@click.option("--batch", "batch_id", type=int, default=None)
@click.option("--serials", default=None, help="FROM-TO")
@actor_option
@click.pass_obj
def activate_cmd(runtime: Runtime, batch_id: int | None, serials: str | None, actor: str) -> None:
    """Sell stock to its vendor: its float pays face value less commission; only activated
    vouchers redeem."""
    if (batch_id is None) == (serials is None):
        raise CliError("give --batch or --serials")
    try:
        with transaction(runtime.sessions) as session:
            low, high = (
                activation.batch_range(session, batch_id)
                if batch_id is not None
                else _serials(serials or "")
            )
            done = activation.activate(session, low, high, actor=actor, today=_today(runtime))
    except (VoucherError, VendorAccountsError) as exc:
        raise _refused(exc) from None
    click.echo(
        f"activated {done.count} vouchers, face {format_cents(done.face_cents)}, commission "
        f"{format_cents(done.commission_cents)}, float debited {format_cents(done.debited_cents)}"
    )


@voucher.command("void")
@click.option("--serials", required=True, help="FROM-TO")
@click.option("--reason", required=True)
@actor_option
@click.pass_obj
def void_cmd(runtime: Runtime, serials: str, reason: str, actor: str) -> None:
    """Stop lost or stolen stock; activated, unredeemed vouchers are credited back to their
    vendor at what they cost (face value less commission)."""
    low, high = _serials(serials)
    try:
        with transaction(runtime.sessions) as session:
            done = activation.void(session, low, high, reason=reason, actor=actor)
    except (VoucherError, VendorAccountsError) as exc:
        raise _refused(exc) from None
    click.echo(
        f"voided {done.voided} vouchers, face {format_cents(done.face_cents)}, credited back "
        f"{format_cents(done.credited_back_cents)}; {done.already_redeemed} already redeemed"
    )


@voucher.command("show")
@click.argument("serial")
@click.pass_obj
def show_cmd(runtime: Runtime, serial: str) -> None:
    """One voucher's state (never its PIN: the gateway does not know it)."""
    try:
        number = parse_serial(serial)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        with runtime.sessions() as session:
            v = batches.voucher_state(session, number, _today(runtime))
    except VoucherError as exc:
        raise _refused(exc) from None
    status = "expired" if v.expired else v.status
    click.echo(f"serial      {format_serial(v.serial)}")
    click.echo(f"batch       {v.batch_id} (vendor {v.client_id})")
    click.echo(f"face        {format_cents(v.denomination_cents)}")
    click.echo(f"status      {status}")
    click.echo(f"expires     {v.expires_on.isoformat() if v.expires_on else '-'}")
    if v.activated_at:
        click.echo(f"activated   {v.activated_at:%Y-%m-%d %H:%M:%S} UTC")
    if v.redeemed_at:
        click.echo(
            f"redeemed    {v.redeemed_at:%Y-%m-%d %H:%M:%S} UTC by {v.redeemed_by}, "
            f"receipt {v.receipt_no}"
        )
    if v.voided_at:
        click.echo(f"voided      {v.voided_at:%Y-%m-%d %H:%M:%S} UTC: {v.void_reason}")
