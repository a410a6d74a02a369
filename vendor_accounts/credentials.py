"""Terminal secrets and the per-request login check.

Secrets are stored only as argon2id hashes (argon2-cffi's RFC 9106 defaults): a stolen database
does not give anyone a terminal's password. argon2 is deliberately slow (tens of milliseconds and
64 MiB per check), and the SOAP layer authenticates **every** request with HTTP Basic
credentials, so a successful verification is remembered for a short while:

* The cache lives in the process (each gunicorn worker has its own); nothing is shared or stored.
* Its key is an HMAC-SHA-256, under a random per-process key, of clientID, terminalID and the
  secret (length-prefixed, so no two triples collide). The secret itself is never kept, and the
  key is useless outside this process.
* An entry remembers the terminal's database id, its ``credential_version`` and the stored hash
  it was verified against. It expires after ``ttl_seconds`` unused (300 s by default) and, however
  busy the terminal, at a random moment in the second half of ``max_age_seconds`` (an hour by
  default): a fixed lifetime made every worker re-verify all its terminals in the same second,
  tens of argon2 checks at once, which showed as a latency spike a minute into a load test.
  Every request still reads the vendor and terminal row (one indexed SELECT), so status and
  allowed addresses are always current; rotating a secret changes the hash and bumps
  ``credential_version`` (disabling or enabling bumps it too), so the old entry stops matching in
  every worker at once.
  Comparing the hash as well means an entry can never vouch for a different database's terminal.
* Only successes are cached; a wrong secret always costs a full argon2 check, and an unknown
  vendor or terminal is checked against a dummy hash, so timing does not reveal which IDs exist.

Check order: unknown vendor/terminal, source address (cheap, before any argon2 work), secret,
vendor status, terminal status. A caller must know the secret to learn the statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, and_, bindparam, select
from sqlalchemy.orm import Session

from gateway.prepared import PreparedStatement
from vendor_accounts.commission import CommissionRate
from vendor_accounts.exceptions import (
    AddressNotAllowed,
    ClientNotFound,
    InvalidInput,
    TerminalDisabled,
    TerminalNotFound,
    VendorNotActive,
    WrongSecret,
)
from vendor_accounts.models import PRIVILEGES, FloatAccount, Terminal, Vendor

__all__ = [
    "TerminalPrincipal",
    "VerificationCache",
    "authenticate_terminal",
    "default_cache",
    "generate_secret",
    "hash_secret",
    "parse_cidrs",
]

MIN_SECRET_LENGTH = 8
_hasher = PasswordHasher()


@dataclass(frozen=True)
class TerminalPrincipal:
    """Who an authenticated request comes from."""

    vendor_id: int
    terminal_id: int  # the terminal's database id
    client_id: str
    terminal_code: str  # the XMLVend terminalID
    privileges: frozenset[str]
    vendor_kind: str
    # Read with the credentials, so that a vend need not read it again before its debit
    # (`floats.post_vend(rate=...)`); like that read, it is not locked.
    commission: CommissionRate | None = None

    def may(self, privilege: str) -> bool:
        return privilege in self.privileges


def generate_secret() -> str:
    """A fresh random terminal secret (about 144 bits), printable once for the operator."""
    return secrets.token_urlsafe(18)


def hash_secret(secret: str) -> str:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(f"a terminal secret has at least {MIN_SECRET_LENGTH} characters",
                           field="secret", value="***")
    return _hasher.hash(secret)


def parse_cidrs(cidrs: Iterable[str]) -> str:
    """Validate CIDRs (a bare address means that one host) into the stored, space-separated form."""
    networks = []
    for text in cidrs:
        for part in text.replace(",", " ").split():
            try:
                networks.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError:
                raise InvalidInput(f"{part!r} is not an IP network", field="allowed_cidrs",
                                   value=part) from None
    return " ".join(networks)


def _address_allowed(source_ip: str, allowed_cidrs: str) -> bool:
    if not allowed_cidrs.strip():
        return True
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 from a dual-stack listener
    return any(address in ipaddress.ip_network(c) for c in allowed_cidrs.split())


class VerificationCache:
    """Recent successful secret checks: key -> (terminal id, version, stored hash, idle expiry,
    hard expiry)."""

    def __init__(self, ttl_seconds: float = 300.0, max_age_seconds: float = 3600.0,
                 max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic,
                 spread: Callable[[], float] = random.random) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_age_seconds = max_age_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._spread = spread  # in [0, 1): where in the second half of max_age an entry ends
        self._salt = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[int, int, str, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, client_id: str, terminal_code: str, secret: str) -> bytes:
        message = b"".join(
            len(b).to_bytes(4, "big") + b
            for b in (client_id.encode(), terminal_code.encode(), secret.encode())
        )
        return hmac.new(self._salt, message, hashlib.sha256).digest()

    def hit(self, key: bytes, terminal_id: int, version: int, secret_hash: str) -> bool:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry[:3] != (terminal_id, version, secret_hash) or now >= min(entry[3:]):
                del self._entries[key]
                return False
            self._entries[key] = (*entry[:3], now + self.ttl_seconds, entry[4])
            return True

    def remember(self, key: bytes, terminal_id: int, version: int, secret_hash: str) -> None:
        now = self._clock()
        hard = now + self.max_age_seconds * (0.5 + 0.5 * self._spread())
        with self._lock:
            self._entries[key] = (terminal_id, version, secret_hash, now + self.ttl_seconds, hard)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


default_cache = VerificationCache()


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(18))


def _verify(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Built once: every request runs it, and building it cost more CPU than running it.
_CREDENTIALS = PreparedStatement("vendgw_credentials", (
    select(
        Vendor.id, Vendor.kind, Vendor.status, Terminal.id, Terminal.status,
        Terminal.secret_hash, Terminal.credential_version, Terminal.allowed_cidrs,
        FloatAccount.commission_bp, FloatAccount.commission_kwh_e4,
        *(getattr(Terminal, f"can_{p}") for p in PRIVILEGES),
    )
    .outerjoin(Terminal, and_(Terminal.vendor_id == Vendor.id,
                              Terminal.code == bindparam("p_terminal")))
    .outerjoin(FloatAccount, FloatAccount.vendor_id == Vendor.id)
    .where(Vendor.client_id == bindparam("p_client"))
))


def authenticate_terminal(
    session: Session | Connection,
    client_id: str,
    terminal_id: str,
    secret: str,
    source_ip: str,
    *,
    verification_cache: VerificationCache | None = None,
) -> TerminalPrincipal:
    """Check one request's credentials; return the principal or raise an AuthenticationError.

    Raises :class:`ClientNotFound`, :class:`TerminalNotFound`, :class:`AddressNotAllowed`,
    :class:`WrongSecret`, :class:`VendorNotActive` or :class:`TerminalDisabled`.
    """
    cache_ = default_cache if verification_cache is None else verification_cache
    who = {"client_id": client_id, "terminal_code": terminal_id}
    row = _CREDENTIALS.execute(session, {"p_client": client_id, "p_terminal": terminal_id}
                               ).first()
    if row is None or row[3] is None:
        _verify(_dummy_hash(), secret)  # the same cost as a known terminal: no ID oracle
        if row is None:
            raise ClientNotFound(f"no vendor {client_id}", **who)
        raise TerminalNotFound(f"vendor {client_id} has no terminal {terminal_id!r}", **who)
    vendor_id, kind, vendor_status, term_id, term_status, secret_hash, version, cidrs = row[:8]
    commission_bp, commission_kwh_e4 = row[8:10]
    flags = row[10:]

    if not _address_allowed(source_ip, cidrs):
        raise AddressNotAllowed(f"terminal {terminal_id!r} may not call from {source_ip}",
                                source_ip=source_ip, **who)
    key = cache_.key(client_id, terminal_id, secret)
    if not cache_.hit(key, term_id, version, secret_hash):
        if not _verify(secret_hash, secret):
            raise WrongSecret(f"wrong secret for terminal {terminal_id!r} of {client_id}", **who)
        cache_.remember(key, term_id, version, secret_hash)
    if vendor_status != "active":
        raise VendorNotActive(f"vendor {client_id} is {vendor_status}",
                              vendor_status=vendor_status, **who)
    if term_status != "active":
        raise TerminalDisabled(f"terminal {terminal_id!r} of {client_id} is disabled", **who)
    return TerminalPrincipal(
        vendor_id=vendor_id, terminal_id=term_id, client_id=client_id, terminal_code=terminal_id,
        privileges=frozenset(p for p, on in zip(PRIVILEGES, flags, strict=True) if on),
        vendor_kind=kind,
        commission=None if commission_bp is None
        else CommissionRate(commission_bp, commission_kwh_e4),
    )
