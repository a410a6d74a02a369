"""`vendgw vendor`, `vendgw terminal` and `vendgw float`: operating vendors and their floats.

Each command is one transaction (``core.db.transaction``); a refusal prints the reason and
exits 1 with nothing changed. Amounts are typed as decimal text ("1000.00") and become cents once,
through ``core.money``. Generated terminal secrets are printed once and never again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.cli_support import CliError, actor_option
from core.db import transaction
from core.money import AmountError, format_cents, parse_cents
from core.runtime import Runtime
from vendor_accounts import alerts, floats, ledger, statements, vendors
from vendor_accounts.commission import CommissionRate
from vendor_accounts.exceptions import VendorAccountsError
from vendor_accounts.models import PRIVILEGES, VENDOR_KINDS, JournalEntry

__all__ = ["float_group", "terminal", "vendor"]


@contextmanager
def _unit_of_work(runtime: Runtime) -> Iterator[Session]:
    """One transaction; our refusals become a one-line error and exit status 1."""
    try:
        with transaction(runtime.sessions) as session:
            yield session
    except VendorAccountsError as exc:
        raise CliError(exc.message) from exc


def _cents(
    text: str | None, *, option: str, allow_negative: bool = False, allow_zero: bool = True
) -> int | None:
    if text is None:
        return None
    try:
        return parse_cents(text, allow_negative=allow_negative, allow_zero=allow_zero)
    except AmountError as exc:
        raise CliError(f"{option}: {exc}") from exc


# -- vendor ---------------------------------------------------------------------------------


@click.group()
def vendor() -> None:
    """Vendors (clientIDs) and their floats' limits."""


@vendor.command("add")
@click.argument("client_id")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(VENDOR_KINDS))
@click.option(
    "--floor",
    "floor_",
    default="0.00",
    show_default=True,
    help="Lowest balance a vend may leave; negative for a credit line.",
)
@click.option(
    "--low-float",
    default="0.00",
    show_default=True,
    help="Record a low-float event when the balance falls below this.",
)
@click.option("--daily-cap", default=None, help="Most the vendor may vend per local day.")
@click.option(
    "--commission-bp",
    default=0,
    show_default=True,
    type=int,
    help="Commission in basis points of sales (150 = 1.50%).",
)
@click.option(
    "--commission-kwh-e4",
    default=0,
    show_default=True,
    type=int,
    help="Commission per kWh in 1/10000 of the currency unit.",
)
@actor_option
@click.pass_obj
def vendor_add(
    runtime: Runtime,
    client_id: str,
    name: str,
    kind: str,
    floor_: str,
    low_float: str,
    daily_cap: str | None,
    commission_bp: int,
    commission_kwh_e4: int,
    actor: str,
) -> None:
    """Register vendor CLIENT_ID (a 13-digit EAN) with an empty float."""
    floor_cents = _cents(floor_, option="--floor", allow_negative=True)
    threshold = _cents(low_float, option="--low-float")
    cap = _cents(daily_cap, option="--daily-cap", allow_zero=False)
    with _unit_of_work(runtime) as session:
        added = vendors.add_vendor(
            session,
            client_id=client_id,
            name=name,
            kind=kind,
            actor=actor,
            floor_cents=floor_cents or 0,
            low_float_threshold_cents=threshold or 0,
            daily_cap_cents=cap,
            commission=CommissionRate(commission_bp, commission_kwh_e4),
        )
        click.echo(f"vendor {added.client_id} {added.name!r} added ({kind}), float 0.00")


@vendor.command("list")
@click.pass_obj
def vendor_list(runtime: Runtime) -> None:
    """All vendors with their status and float balance."""
    with _unit_of_work(runtime) as session:
        rows = vendors.list_vendors(session)
    if not rows:
        click.echo("no vendors")
        return
    click.echo(
        f"{'clientID':13}  {'kind':14}  {'status':9}  {'balance':>14}  {'floor':>12}  "
        f"{'terms':>5}  name"
    )
    for v in rows:
        click.echo(
            f"{v.client_id:13}  {v.kind:14}  {v.status:9}  "
            f"{format_cents(v.balance_cents):>14}  {format_cents(v.floor_cents):>12}  "
            f"{v.terminals:>5}  {v.name}"
        )


def _status_command(name: str, status: str, help_text: str) -> None:
    @vendor.command(name, help=help_text)
    @click.argument("client_id")
    @click.option("--reason", default="", help="Why (recorded in the audit log).")
    @actor_option
    @click.pass_obj
    def command(runtime: Runtime, client_id: str, reason: str, actor: str) -> None:
        with _unit_of_work(runtime) as session:
            vendors.set_vendor_status(session, client_id, status, actor=actor, reason=reason)
        click.echo(f"vendor {client_id} is {status}")


_status_command("suspend", "suspended", "Stop a vendor's terminals from logging in and vending.")
_status_command("reactivate", "active", "Let a suspended (or closed) vendor trade again.")
_status_command("close", "closed", "Close a vendor for good (its ledger stays).")


# -- terminal -------------------------------------------------------------------------------


@click.group()
def terminal() -> None:
    """Vendors' terminals and their secrets."""


_vendor_option = click.option("--vendor", "client_id", required=True, help="The clientID.")
_terminal_option = click.option(
    "--terminal", "terminal_code", required=True, help="The terminalID."
)
_secret_option = click.option(
    "--secret",
    default=None,
    help="Use this secret instead of generating one (kept as argon2id; "
    "a generated one gets a fast HMAC verifier).",
)


def _verifier_key(runtime: Runtime, secret: str | None) -> bytes | None:
    # A generated secret gets the HMAC verifier; one an operator typed in keeps argon2, the slow
    # hash that protects a guessable secret if the database and the master key are stolen.
    return runtime.verifier_key if secret is None else None


def _show_secret(client_id: str, terminal_code: str, secret: str, generated: bool) -> None:
    if generated:
        click.echo(f"secret for {client_id}/{terminal_code}: {secret}")
        click.echo("(shown once; only a hash is kept)")


@terminal.command("add")
@_vendor_option
@_terminal_option
@_secret_option
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    help="A CIDR the terminal may call from (repeat; none = anywhere).",
)
@click.option(
    "--privilege",
    "privileges",
    multiple=True,
    type=click.Choice(PRIVILEGES),
    help="Repeat for each privilege. [default: vend]",
)
@actor_option
@click.pass_obj
def terminal_add(
    runtime: Runtime,
    client_id: str,
    terminal_code: str,
    secret: str | None,
    allowed: tuple[str, ...],
    privileges: tuple[str, ...],
    actor: str,
) -> None:
    """Add a terminal to a vendor; prints a generated secret once."""
    with _unit_of_work(runtime) as session:
        _, used = vendors.add_terminal(
            session,
            client_id=client_id,
            terminal_code=terminal_code,
            actor=actor,
            secret=secret,
            allowed_cidrs=allowed,
            privileges=privileges or ("vend",),
            verifier_key=_verifier_key(runtime, secret),
        )
    click.echo(f"terminal {client_id}/{terminal_code} added")
    _show_secret(client_id, terminal_code, used, secret is None)


@terminal.command("rotate-secret")
@_vendor_option
@_terminal_option
@_secret_option
@actor_option
@click.pass_obj
def terminal_rotate(
    runtime: Runtime, client_id: str, terminal_code: str, secret: str | None, actor: str
) -> None:
    """Give a terminal a new secret; the old one stops working at once."""
    with _unit_of_work(runtime) as session:
        used = vendors.rotate_secret(
            session,
            client_id=client_id,
            terminal_code=terminal_code,
            actor=actor,
            secret=secret,
            verifier_key=_verifier_key(runtime, secret),
        )
    click.echo(f"terminal {client_id}/{terminal_code}: secret rotated")
    _show_secret(client_id, terminal_code, used, secret is None)


@terminal.command("disable")
@_vendor_option
@_terminal_option
@actor_option
@click.pass_obj
def terminal_disable(runtime: Runtime, client_id: str, terminal_code: str, actor: str) -> None:
    """Stop a terminal from logging in."""
    with _unit_of_work(runtime) as session:
        vendors.set_terminal_status(
            session,
            client_id=client_id,
            terminal_code=terminal_code,
            status="disabled",
            actor=actor,
        )
    click.echo(f"terminal {client_id}/{terminal_code} disabled")


@terminal.command("enable")
@_vendor_option
@_terminal_option
@actor_option
@click.pass_obj
def terminal_enable(runtime: Runtime, client_id: str, terminal_code: str, actor: str) -> None:
    """Let a disabled terminal log in again."""
    with _unit_of_work(runtime) as session:
        vendors.set_terminal_status(
            session, client_id=client_id, terminal_code=terminal_code, status="active", actor=actor
        )
    click.echo(f"terminal {client_id}/{terminal_code} enabled")


# -- float ----------------------------------------------------------------------------------


@click.group("float")
def float_group() -> None:
    """Vendors' prepaid floats and the ledger behind them."""


@float_group.command("deposit")
@_vendor_option
@click.option("--amount", required=True, help="Amount paid in, e.g. 1000.00.")
@click.option(
    "--ref",
    "bank_reference",
    required=True,
    help="The bank reference; a reference is applied once per vendor.",
)
@actor_option
@click.pass_obj
def float_deposit(
    runtime: Runtime, client_id: str, amount: str, bank_reference: str, actor: str
) -> None:
    """Credit a vendor's float with money received in the bank."""
    cents = _cents(amount, option="--amount", allow_zero=False)
    assert cents is not None
    with _unit_of_work(runtime) as session:
        v = vendors.get_vendor(session, client_id)
        moved = floats.deposit(
            session, vendor_id=v.id, amount_cents=cents, bank_reference=bank_reference, actor=actor
        )
    if moved.applied:
        click.echo(
            f"deposit {bank_reference} of {format_cents(cents)} applied to {client_id}: "
            f"balance {format_cents(moved.balance_after_cents)}"
        )
    else:
        click.echo(
            f"deposit {bank_reference} was already applied (entry "
            f"{moved.journal_entry_id}); nothing changed: balance "
            f"{format_cents(moved.balance_after_cents)}"
        )


@float_group.command("adjust")
@_vendor_option
@click.option("--amount", required=True, help="Signed amount, e.g. -12.50 or 100.00.")
@click.option("--reason", required=True)
@click.option("--operator", required=True, help="Who authorised the adjustment.")
@click.option("--ref", "reference", default=None, help="A reference for the statement.")
@click.pass_obj
def float_adjust(
    runtime: Runtime, client_id: str, amount: str, reason: str, operator: str, reference: str | None
) -> None:
    """Correct a vendor's float by a signed amount (audited)."""
    cents = _cents(amount, option="--amount", allow_negative=True, allow_zero=False)
    assert cents is not None
    with _unit_of_work(runtime) as session:
        v = vendors.get_vendor(session, client_id)
        moved = floats.adjust(
            session,
            vendor_id=v.id,
            amount_cents=cents,
            reason=reason,
            operator=operator,
            reference=reference,
        )
    click.echo(
        f"adjusted {client_id} by {format_cents(cents)}: balance "
        f"{format_cents(moved.balance_after_cents)}"
    )


@float_group.command("balance")
@_vendor_option
@click.pass_obj
def float_balance(runtime: Runtime, client_id: str) -> None:
    """A vendor's balance, floor and available credit."""
    with _unit_of_work(runtime) as session:
        v = vendors.get_vendor(session, client_id)
        b = floats.balance(session, v.id)
    cap = "none" if b.daily_cap_cents is None else format_cents(b.daily_cap_cents)
    click.echo(
        f"{client_id} {v.name}: balance {format_cents(b.balance_cents)}, floor "
        f"{format_cents(b.floor_cents)}, available {format_cents(b.available_cents)}, "
        f"low-float threshold {format_cents(b.low_float_threshold_cents)}, "
        f"daily cap {cap}"
    )


@float_group.command("statement")
@_vendor_option
@click.option(
    "--from",
    "from_",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day (utility's local date).",
)
@click.option(
    "--to", "to", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, included."
)
@click.pass_obj
def float_statement(runtime: Runtime, client_id: str, from_: datetime, to: datetime) -> None:
    """The float's movements over a period with running balances."""
    with _unit_of_work(runtime) as session:
        v = vendors.get_vendor(session, client_id)
        st = statements.statement(
            session, v.id, from_.date(), to.date(), timezone=runtime.settings.utility.timezone
        )
    click.echo(
        f"Float statement {st.client_id} {st.vendor_name}, {st.from_date} to "
        f"{st.to_date} ({st.timezone})"
    )
    click.echo(
        f"{'':19}  {'opening balance':44}  {'':>12}  {format_cents(st.opening_balance_cents):>14}"
    )
    for line in st.lines:
        detail = line.description
        if line.commission_cents:
            detail += f" (commission {format_cents(line.commission_cents)})"
        click.echo(
            f"{line.at:%Y-%m-%d %H:%M:%S}  {detail[:44]:44}  "
            f"{format_cents(line.amount_cents):>12}  {format_cents(line.balance_cents):>14}"
        )
    click.echo(
        f"{'':19}  {'closing balance':44}  {'':>12}  {format_cents(st.closing_balance_cents):>14}"
    )
    click.echo(
        f"{len(st.lines)} movements: credits {format_cents(st.credits_cents)}, "
        f"debits {format_cents(st.debits_cents)}"
    )


@float_group.command("verify")
@click.pass_obj
def float_verify(runtime: Runtime) -> None:
    """Recompute every float from the postings and check every entry sums to zero.

    Exits 1 when anything differs."""
    with _unit_of_work(runtime) as session:
        problems = ledger.check_invariants(session)
        entries = session.scalar(select(func.count(JournalEntry.id))) or 0
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise CliError(f"the ledger does not add up: {len(problems)} problem(s)")
    click.echo(
        f"ledger verified: {entries} journal entries balance and every float matches its postings"
    )


@float_group.command("alert-level")
@_vendor_option
@click.option("--level", required=True, help="Alert level, e.g. 5000.00; 0 removes it.")
@click.option(
    "--notify",
    multiple=True,
    help="An address of the vendor's to mail besides [smtp] alert_to (repeatable).",
)
@actor_option
@click.pass_obj
def float_alert_level(
    runtime: Runtime, client_id: str, level: str, notify: tuple[str, ...], actor: str
) -> None:
    """Set the float level below which `vendgw float alerts` mails (once a day)."""
    cents = _cents(level, option="--level")
    with _unit_of_work(runtime) as session:
        alerts.set_alert_level(
            session, client_id=client_id, level_cents=cents or None, actor=actor, notify=notify
        )
    if cents:
        click.echo(f"{client_id}: alert level {format_cents(cents)}")
    else:
        click.echo(f"{client_id}: no alert level")


@float_group.command("alerts")
@click.option("--dry-run", is_flag=True, help="List the floats below their level; send nothing.")
@click.pass_obj
def float_alerts(runtime: Runtime, dry_run: bool) -> None:
    """Mail each vendor whose float is below its alert level, at most once a day (cron-able).

    Exits 1 when a mail could not be handed to the relay (the next run tries it again)."""
    s = runtime.settings
    if dry_run:
        with runtime.sessions() as session:
            for low in alerts.below_alert_level(session):
                click.echo(
                    f"{low.client_id} {low.name}: balance {format_cents(low.balance_cents)} "
                    f"below {format_cents(low.level_cents)}"
                )
        return
    try:
        run = alerts.send_alerts(
            runtime.sessions,
            alerts.SmtpMailer(s.smtp),
            sender=s.smtp.sender,
            alert_to=[s.smtp.alert_to],
            utility=s.utility.name,
            currency=s.utility.currency,
            timezone=s.utility.timezone,
        )
    except (VendorAccountsError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    for low in run.sent:
        click.echo(f"sent: {low.client_id} {low.name} ({format_cents(low.balance_cents)})")
    for low in run.no_recipient:
        click.echo(f"no recipient: {low.client_id} {low.name} (set [smtp] alert_to)", err=True)
    for low, reason in run.failed:
        click.echo(f"failed: {low.client_id} {low.name}: {reason}", err=True)
    click.echo(
        f"{run.day}: {len(run.sent)} sent, {len(run.already_sent)} already sent today, "
        f"{len(run.failed)} failed, {len(run.no_recipient)} without a recipient"
    )
    if run.failed:
        raise CliError(f"{len(run.failed)} alert(s) not sent")
