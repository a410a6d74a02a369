"""Registering vendors and their terminals, and changing their status: the operator's side.

Each change runs in the caller's transaction and is audited there, so the act and its audit
event commit together. A vendor is created with its float account (balance 0) in one go: a vendor
without a float could not sell, and a float without a vendor means nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from vendor_accounts.commission import CommissionRate
from vendor_accounts.credentials import generate_secret, hash_secret, parse_cidrs
from vendor_accounts.ean import validate_client_id
from vendor_accounts.exceptions import (
    DuplicateTerminal,
    DuplicateVendor,
    InvalidInput,
    UnknownTerminal,
    UnknownVendor,
)
from vendor_accounts.models import (
    PRIVILEGES,
    TERMINAL_STATUSES,
    VENDOR_KINDS,
    VENDOR_STATUSES,
    FloatAccount,
    Terminal,
    Vendor,
)

__all__ = [
    "TerminalSummary",
    "VendorSummary",
    "add_terminal",
    "add_vendor",
    "get_terminal",
    "get_vendor",
    "list_terminals",
    "list_vendors",
    "rotate_secret",
    "set_allowed_addresses",
    "set_terminal_status",
    "set_vendor_status",
]


@dataclass(frozen=True)
class VendorSummary:
    vendor_id: int
    client_id: str
    name: str
    kind: str
    status: str
    balance_cents: int
    floor_cents: int
    terminals: int


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}", field=field, value=value)
    return value


def add_vendor(
    session: Session,
    *,
    client_id: str,
    name: str,
    kind: str,
    actor: str,
    floor_cents: int = 0,
    low_float_threshold_cents: int = 0,
    daily_cap_cents: int | None = None,
    commission: CommissionRate | None = None,
) -> Vendor:
    """Register a vendor and open its float (balance 0). Audited as ``vendor.add``."""
    validate_client_id(client_id)
    _choice("kind", kind, VENDOR_KINDS)
    if not name.strip():
        raise InvalidInput("a vendor needs a name", field="name", value=name)
    if floor_cents > 0:
        raise InvalidInput(
            "the floor is 0 or negative (a credit line)", field="floor_cents", value=floor_cents
        )
    if low_float_threshold_cents < 0:
        raise InvalidInput(
            "the low-float threshold must not be negative",
            field="low_float_threshold_cents",
            value=low_float_threshold_cents,
        )
    if daily_cap_cents is not None and daily_cap_cents <= 0:
        raise InvalidInput(
            "a daily cap must be positive", field="daily_cap_cents", value=daily_cap_cents
        )
    rate = commission or CommissionRate()
    if session.scalar(select(Vendor.id).where(Vendor.client_id == client_id)) is not None:
        raise DuplicateVendor(client_id)
    vendor = Vendor(client_id=client_id, name=name.strip(), kind=kind, status="active")
    session.add(vendor)
    session.flush()
    session.add(
        FloatAccount(
            vendor_id=vendor.id,
            balance_cents=0,
            floor_cents=floor_cents,
            low_float_threshold_cents=low_float_threshold_cents,
            daily_cap_cents=daily_cap_cents,
            cap_day_vended_cents=0,
            commission_bp=rate.basis_points,
            commission_kwh_e4=rate.per_kwh_e4,
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "vendor.add",
        client_id,
        name=vendor.name,
        kind=kind,
        floor_cents=floor_cents,
        low_float_threshold_cents=low_float_threshold_cents,
        daily_cap_cents=daily_cap_cents,
        commission_bp=rate.basis_points,
        commission_kwh_e4=rate.per_kwh_e4,
    )
    return vendor


def get_vendor(session: Session, client_id: str) -> Vendor:
    vendor = session.scalar(select(Vendor).where(Vendor.client_id == client_id))
    if vendor is None:
        raise UnknownVendor(client_id=client_id)
    return vendor


def list_vendors(session: Session) -> list[VendorSummary]:
    counts = dict(
        session.execute(
            select(Terminal.vendor_id, func.count(Terminal.id)).group_by(Terminal.vendor_id)
        ).all()
    )
    rows = session.execute(
        select(Vendor, FloatAccount.balance_cents, FloatAccount.floor_cents)
        .join(FloatAccount, FloatAccount.vendor_id == Vendor.id)
        .order_by(Vendor.client_id)
    )
    return [
        VendorSummary(
            v.id,
            v.client_id,
            v.name,
            v.kind,
            v.status,
            balance_cents,
            floor_cents,
            counts.get(v.id, 0),
        )
        for v, balance_cents, floor_cents in rows
    ]


def set_vendor_status(
    session: Session, client_id: str, status: str, *, actor: str, reason: str = ""
) -> Vendor:
    """Suspend, reactivate or close a vendor. Audited as ``vendor.<status>``."""
    _choice("status", status, VENDOR_STATUSES)
    vendor = get_vendor(session, client_id)
    previous = vendor.status
    if previous != status:
        vendor.status = status
        vendor.updated_at = utcnow()
        audit.record(
            session, actor, f"vendor.{status}", client_id, previous=previous, reason=reason
        )
    return vendor


def _terminal_code(code: str) -> str:
    if not 1 <= len(code) <= 40 or code != code.strip() or any(c.isspace() for c in code):
        raise InvalidInput(
            "a terminalID is 1-40 characters without spaces", field="terminal_code", value=code
        )
    return code


def get_terminal(session: Session, client_id: str, terminal_code: str) -> Terminal:
    vendor = get_vendor(session, client_id)
    terminal = session.scalar(
        select(Terminal).where(Terminal.vendor_id == vendor.id, Terminal.code == terminal_code)
    )
    if terminal is None:
        raise UnknownTerminal(client_id=client_id, terminal_code=terminal_code)
    return terminal


def add_terminal(
    session: Session,
    *,
    client_id: str,
    terminal_code: str,
    actor: str,
    secret: str | None = None,
    allowed_cidrs: Iterable[str] = (),
    privileges: Iterable[str] = ("vend",),
    verifier_key: bytes | None = None,
) -> tuple[Terminal, str]:
    """Add a terminal; returns it and its secret (generated unless given) to show once.

    With `verifier_key` the secret is kept as an HMAC verifier (microseconds a login), else as
    argon2id: pass the key only for a secret no person chose (see credentials.py). Audited as
    ``terminal.add`` (without the secret).
    """
    vendor = get_vendor(session, client_id)
    _terminal_code(terminal_code)
    wanted = set(privileges)
    for privilege in wanted:
        _choice("privileges", privilege, PRIVILEGES)
    cidrs = parse_cidrs(allowed_cidrs)
    if (
        session.scalar(
            select(Terminal.id).where(
                Terminal.vendor_id == vendor.id, Terminal.code == terminal_code
            )
        )
        is not None
    ):
        raise DuplicateTerminal(client_id=client_id, terminal_code=terminal_code)
    secret = secret if secret is not None else generate_secret()
    terminal = Terminal(
        vendor_id=vendor.id,
        code=terminal_code,
        secret_hash=hash_secret(secret, verifier_key=verifier_key),
        credential_version=1,
        allowed_cidrs=cidrs,
        status="active",
        **{f"can_{p}": p in wanted for p in PRIVILEGES},
    )
    session.add(terminal)
    session.flush()
    audit.record(
        session,
        actor,
        "terminal.add",
        f"{client_id}/{terminal_code}",
        privileges=sorted(wanted),
        allowed_cidrs=cidrs,
    )
    return terminal, secret


def rotate_secret(
    session: Session,
    *,
    client_id: str,
    terminal_code: str,
    actor: str,
    secret: str | None = None,
    verifier_key: bytes | None = None,
) -> str:
    """Give a terminal a new secret (generated unless given); the old one stops working at once
    in every process, because the credential version changes. `verifier_key` as for
    `add_terminal`. Audited as ``terminal.rotate``."""
    terminal = get_terminal(session, client_id, terminal_code)
    secret = secret if secret is not None else generate_secret()
    terminal.secret_hash = hash_secret(secret, verifier_key=verifier_key)
    terminal.credential_version += 1
    terminal.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "terminal.rotate",
        f"{client_id}/{terminal_code}",
        credential_version=terminal.credential_version,
    )
    return secret


def set_terminal_status(
    session: Session, *, client_id: str, terminal_code: str, status: str, actor: str
) -> Terminal:
    """Disable or re-enable a terminal. Audited as ``terminal.<status>``."""
    _choice("status", status, TERMINAL_STATUSES)
    terminal = get_terminal(session, client_id, terminal_code)
    if terminal.status != status:
        terminal.status = status
        terminal.credential_version += 1
        terminal.updated_at = utcnow()
        audit.record(
            session,
            actor,
            f"terminal.{'enable' if status == 'active' else 'disable'}",
            f"{client_id}/{terminal_code}",
        )
    return terminal


def set_allowed_addresses(
    session: Session,
    *,
    client_id: str,
    terminal_code: str,
    allowed_cidrs: Iterable[str],
    actor: str,
) -> Terminal:
    """Replace the addresses a terminal may call from (empty: from anywhere). Takes effect at
    once in every process (the credential version changes). Audited as ``terminal.allowlist``."""
    terminal = get_terminal(session, client_id, terminal_code)
    cidrs = parse_cidrs(allowed_cidrs)
    if cidrs != terminal.allowed_cidrs:
        previous = terminal.allowed_cidrs
        terminal.allowed_cidrs = cidrs
        terminal.credential_version += 1
        terminal.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "terminal.allowlist",
            f"{client_id}/{terminal_code}",
            previous=previous,
            allowed_cidrs=cidrs,
        )
    return terminal


@dataclass(frozen=True)
class TerminalSummary:
    """A terminal as an operator sees it: never its secret or hash."""

    code: str
    status: str
    privileges: frozenset[str]
    allowed_cidrs: str
    credential_version: int


def list_terminals(session: Session, client_id: str) -> list[TerminalSummary]:
    vendor = get_vendor(session, client_id)
    terminals = session.scalars(
        select(Terminal).where(Terminal.vendor_id == vendor.id).order_by(Terminal.code)
    )
    return [
        TerminalSummary(t.code, t.status, t.privileges, t.allowed_cidrs, t.credential_version)
        for t in terminals
    ]
