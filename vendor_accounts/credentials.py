"""Terminal secrets, the per-request login check and the failed-login throttle.

Verifiers. ``terminal.secret_hash`` holds one of two kinds, told apart by their prefix:

* ``hmac-sha256$v1$<64 hex digits>``: HMAC-SHA-256 of the secret under the *verifier key*, which
  HKDF-SHA-256 derives from the master key (info ``vendgw terminal-secret verifier v1``, so it is
  no other key's twin). For secrets nobody chose: those ``generate_secret`` makes (144 random
  bits, which no amount of guessing finds, at any speed) and the published demo secrets. A check
  costs microseconds and is compared in constant time; a stolen database without the master key
  gives nothing to guess against. The SOAP edge authenticates **every** request, so this is
  what keeps a flood of wrong guesses from taking the CPU that vends need (argon2 for each guess
  raised a vend's p50 from 11 ms to 545 ms at 8.7 guesses a second), and what lets a freshly
  started worker serve its terminals without one password check each.
* argon2id (argon2-cffi's RFC 9106 defaults): for a secret a person chose
  (``vendgw terminal add|rotate-secret --secret``), where only a slow hash protects a weak secret
  in a stolen database, and for every hash stored before the HMAC verifiers (still verified;
  rotating the secret replaces it). At most ``ARGON2_SLOTS`` argon2 checks run at once per
  process; a request that finds them all taken for ``ARGON2_WAIT_SECONDS`` is refused at once
  with :class:`VerifierBusy` (the edge answers 503) instead of queueing without bound.
  A successful argon2 check is remembered for a while (below); HMAC checks are not cached,
  they cost less than the cache.

The argon2 verification cache:

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
* Only successes are cached; a wrong secret always costs a full check.

Unknown IDs: an unknown vendor or terminal is checked against a dummy verifier of the kind the
gateway gives new terminals (HMAC when a verifier key is given, argon2 otherwise), so timing does
not tell a generated terminal from a missing one. A terminal with an operator-chosen (argon2)
secret answers a wrong guess more slowly than a missing one: that shows only that the ID has a
chosen secret, and making unknown IDs pay argon2 would bring the amplification back.

The throttle (:class:`Backoff`, the ``login_failure`` table). Failed logins are counted per
claimed (clientID, terminalID) **and source address**, in the database, so every worker and node
agrees. The first ``free_failures`` (5) cost nothing; after the n-th failure beyond them the
address waits ``first_delay * 2**(n-1)`` seconds (1 s, 2 s, 4 s, ...) up to ``max_delay``
(15 minutes) before it may try that terminal again (:class:`LoginThrottled`, the edge answers 429
with Retry-After). The right secret from another address is never refused for this address's
failures, and a bank's NAT full of terminals is not locked out by one of them guessing. A
success from an address deletes that address's row; a row quiet for ``forget_after`` (an hour)
counts as nothing and is deleted by the next failure written anywhere, which bounds the table.
The row is read by the credentials statement itself (an outer join): a successful login pays no
extra round trip; only failures (an upsert), throttled refusals (a counter for the rate-limited
audit) and the first success after failures (a delete) write.

Check order: throttle, unknown vendor/terminal, source address (cheap, before any hash work),
secret, vendor status, terminal status. A caller must know the secret to learn the statuses.
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
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, String, Table, and_, bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.keys import derive_verifier_key
from core.prepared import PreparedStatement
from vendor_accounts.commission import CommissionRate
from vendor_accounts.exceptions import (
    AddressNotAllowed,
    ClientNotFound,
    InvalidInput,
    LoginThrottled,
    TerminalDisabled,
    TerminalNotFound,
    VendorNotActive,
    VerifierBusy,
    WrongSecret,
)
from vendor_accounts.models import PRIVILEGES, FloatAccount, LoginFailure, Terminal, Vendor

__all__ = [
    "DEFAULT_BACKOFF",
    "HMAC_PREFIX",
    "Backoff",
    "TerminalPrincipal",
    "VerificationCache",
    "authenticate_terminal",
    "clear_login_failures",
    "default_cache",
    "derive_verifier_key",
    "generate_secret",
    "hash_secret",
    "login_wait",
    "note_throttled",
    "parse_cidrs",
    "record_login_failure",
]

MIN_SECRET_LENGTH = 8
HMAC_PREFIX = "hmac-sha256$v1$"
ARGON2_SLOTS = 2
ARGON2_WAIT_SECONDS = 0.25
_hasher = PasswordHasher()
_argon2_slots = threading.BoundedSemaphore(ARGON2_SLOTS)


@dataclass(frozen=True)
class TerminalPrincipal:
    """Who an authenticated request comes from: the one principal type, which the gateway's
    vend path takes as it is (`gateway.vend.types.Principal`)."""

    vendor_id: int
    client_id: str
    terminal_id: str  # the XMLVend terminalID (the terminal's code)
    privileges: frozenset[str]
    vendor_kind: str
    # Read with the credentials, so that a vend need not read it again before its debit
    # (`floats.post_vend(rate=...)`); like that read, it is not locked.
    commission: CommissionRate | None = None
    # Failed logins this terminal had from this address before this success: the caller
    # deletes their row (`clear_login_failures`) when there are any.
    earlier_failures: int = 0


def generate_secret() -> str:
    """A fresh random terminal secret (about 144 bits), printable once for the operator."""
    return secrets.token_urlsafe(18)


def _hmac_hex(secret: str, verifier_key: bytes) -> str:
    return hmac.new(verifier_key, secret.encode(), hashlib.sha256).hexdigest()


def hash_secret(secret: str, *, verifier_key: bytes | None = None) -> str:
    """The stored verifier of a secret: HMAC-SHA-256 under `verifier_key` when one is given
    (only for a secret no person chose: generated, or a published demo secret), argon2id
    otherwise."""
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(
            f"a terminal secret has at least {MIN_SECRET_LENGTH} characters",
            field="secret",
            value="***",
        )
    if verifier_key is not None:
        return HMAC_PREFIX + _hmac_hex(secret, verifier_key)
    return _hasher.hash(secret)


def parse_cidrs(cidrs: Iterable[str]) -> str:
    """Validate CIDRs (a bare address means that one host) into the stored, space-separated form."""
    networks = []
    for text in cidrs:
        for part in text.replace(",", " ").split():
            try:
                networks.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError:
                raise InvalidInput(
                    f"{part!r} is not an IP network", field="allowed_cidrs", value=part
                ) from None
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
    """Recent successful argon2 checks: key -> (terminal id, version, stored hash, idle expiry,
    hard expiry)."""

    def __init__(
        self,
        ttl_seconds: float = 300.0,
        max_age_seconds: float = 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        spread: Callable[[], float] = random.random,
    ) -> None:
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


_DUMMY_HMAC = HMAC_PREFIX + secrets.token_hex(32)


def _verify(secret_hash: str, secret: str) -> bool:
    """One argon2 check (the slow path; tests count the calls through here)."""
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _verify_hmac(secret_hash: str, secret: str, verifier_key: bytes) -> bool:
    """One HMAC check (tests count the calls through here)."""
    expected = HMAC_PREFIX + _hmac_hex(secret, verifier_key)
    return hmac.compare_digest(expected.encode(), secret_hash.encode())


def _verify_argon2_bounded(secret_hash: str, secret: str, who: dict[str, str]) -> bool:
    # A sync worker runs one request at a time, a threaded one several: either way no more than
    # ARGON2_SLOTS 64 MiB checks run at once, and a request that finds no slot is refused
    # quickly (503) rather than queued behind a flood.
    if not _argon2_slots.acquire(timeout=ARGON2_WAIT_SECONDS):
        raise VerifierBusy(
            "every argon2 slot is busy",
            client_id=who["client_id"],
            terminal_code=who["terminal_code"],
        )
    try:
        return _verify(secret_hash, secret)
    finally:
        _argon2_slots.release()


# -- the throttle ------------------------------------------------------------------------------

_KEY_LENGTH = 64  # login_failure's key columns
_TABLE = cast(Table, LoginFailure.__table__)


@dataclass(frozen=True)
class Backoff:
    """How long an address waits before trying a terminal again after its failures there."""

    free_failures: int = 5
    first_delay: float = 1.0
    max_delay: float = 900.0
    forget_after: float = 3600.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure."""
        beyond = failures - self.free_failures
        if beyond <= 0:
            return 0.0
        return min(self.first_delay * 2.0 ** min(beyond - 1, 60), self.max_delay)

    def wait(self, failures: int | None, last_failure_ms: int | None, now_ms: int) -> float:
        """Seconds still to wait now, given the stored row (None: no row)."""
        if failures is None or last_failure_ms is None:
            return 0.0
        if now_ms - last_failure_ms >= self.forget_after * 1000:
            return 0.0
        return max(0.0, (last_failure_ms + self.delay(failures) * 1000 - now_ms) / 1000)


DEFAULT_BACKOFF = Backoff()


def _throttle_key(client_id: str, terminal_code: str, source_ip: str) -> dict[str, str]:
    return {
        "client_id": client_id[:_KEY_LENGTH],
        "terminal_code": terminal_code[:_KEY_LENGTH],
        "source_ip": source_ip[:_KEY_LENGTH],
    }


def _conn(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def _where_key(key: dict[str, str]) -> Any:
    table = _TABLE.c
    return and_(
        table.client_id == key["client_id"],
        table.terminal_code == key["terminal_code"],
        table.source_ip == key["source_ip"],
    )


def login_wait(
    db: Session | Connection,
    client_id: str,
    terminal_code: str,
    source_ip: str,
    *,
    now_ms: int,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> float:
    """Seconds this address must still wait before trying this terminal (0: it may try). For
    callers that do not run `authenticate_terminal` (credentials too malformed to check)."""
    table = _TABLE.c
    row = (
        _conn(db)
        .execute(
            select(table.failures, table.last_failure_ms).where(
                _where_key(_throttle_key(client_id, terminal_code, source_ip))
            )
        )
        .first()
    )
    return backoff.wait(row[0], row[1], now_ms) if row else 0.0


def record_login_failure(
    db: Session | Connection,
    client_id: str,
    terminal_code: str,
    source_ip: str,
    *,
    now_ms: int,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> int:
    """Count one failed login (one upsert, atomic under concurrency); returns the failures now
    counted. Rows quiet for `forget_after` are deleted first, so the table stays bounded."""
    conn = _conn(db)
    table = _TABLE
    stale_before = now_ms - int(backoff.forget_after * 1000)
    # The clean-up first: every writer then locks stale rows in the index's order before its own
    # row, so two of them cannot wait for each other.
    conn.execute(delete(table).where(table.c.last_failure_ms < stale_before))
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    key = _throttle_key(client_id, terminal_code, source_ip)
    insert = dialect_insert(table).values(
        **key,
        failures=1,
        last_failure_ms=now_ms,
        throttled=0,
        throttled_reported=0,
        throttled_audit_ms=0,
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[table.c.client_id, table.c.terminal_code, table.c.source_ip],
        set_={
            "failures": case(
                (table.c.last_failure_ms < stale_before, 1), else_=table.c.failures + 1
            ),
            "last_failure_ms": now_ms,
        },
    ).returning(table.c.failures)
    failures: int = conn.execute(stmt).scalar_one()
    return failures


def clear_login_failures(
    db: Session | Connection, client_id: str, terminal_code: str, source_ip: str
) -> None:
    """A success from this address: forget its failures there."""
    conn = _conn(db)
    conn.execute(
        delete(_TABLE).where(_where_key(_throttle_key(client_id, terminal_code, source_ip)))
    )


def note_throttled(
    db: Session | Connection,
    client_id: str,
    terminal_code: str,
    source_ip: str,
    *,
    now_ms: int,
    every_ms: int = 60_000,
) -> int:
    """Count one request the throttle refused; returns how many to report in an audit row now
    (those since the last report), or 0 when a report was written less than `every_ms` ago."""
    table = _TABLE
    due = table.c.throttled_audit_ms <= now_ms - every_ms
    # Every SET expression reads the row as it was: `throttled + 1` is the count to report.
    stmt = (
        update(table)
        .where(_where_key(_throttle_key(client_id, terminal_code, source_ip)))
        .values(
            throttled_reported=case((due, table.c.throttled + 1), else_=table.c.throttled_reported),
            throttled=case((due, 0), else_=table.c.throttled + 1),
            throttled_audit_ms=case((due, now_ms), else_=table.c.throttled_audit_ms),
        )
        .returning(table.c.throttled, table.c.throttled_reported)
    )
    row = _conn(db).execute(stmt).first()
    if row is None or row[0] != 0:  # gone (a success cleared it) or not due
        return 0
    reported: int = row[1]
    return reported


# -- the check ---------------------------------------------------------------------------------

# The claimed clientID as a one-row table, so the statement returns a row (with the throttle's
# columns) even for an unknown vendor: one statement, one round trip, whatever the outcome.
_CLAIM = select(bindparam("p_client", type_=String()).label("client_id")).subquery("claim")
_FAILURE = _TABLE.c

# Built once: every request runs it, and building it cost more CPU than running it.
_CREDENTIALS = PreparedStatement(
    "vendgw_credentials",
    (
        select(
            Vendor.id,
            Vendor.kind,
            Vendor.status,
            Terminal.id,
            Terminal.status,
            Terminal.secret_hash,
            Terminal.credential_version,
            Terminal.allowed_cidrs,
            FloatAccount.commission_bp,
            FloatAccount.commission_kwh_e4,
            _FAILURE.failures,
            _FAILURE.last_failure_ms,
            *(getattr(Terminal, f"can_{p}") for p in PRIVILEGES),
        )
        .select_from(_CLAIM)
        .outerjoin(Vendor, Vendor.client_id == _CLAIM.c.client_id)
        .outerjoin(
            Terminal,
            and_(
                Terminal.vendor_id == Vendor.id,
                Terminal.code == bindparam("p_terminal", type_=String()),
            ),
        )
        .outerjoin(FloatAccount, FloatAccount.vendor_id == Vendor.id)
        .outerjoin(
            _TABLE,
            and_(
                _FAILURE.client_id == bindparam("p_key_client", type_=String()),
                _FAILURE.terminal_code == bindparam("p_key_terminal", type_=String()),
                _FAILURE.source_ip == bindparam("p_key_address", type_=String()),
            ),
        )
    ),
)


def authenticate_terminal(
    session: Session | Connection,
    client_id: str,
    terminal_id: str,
    secret: str,
    source_ip: str,
    *,
    verification_cache: VerificationCache | None = None,
    verifier_key: bytes | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    now_ms: int | None = None,
) -> TerminalPrincipal:
    """Check one request's credentials; return the principal or raise an AuthenticationError.

    `verifier_key` (``derive_verifier_key(master key)``) checks HMAC verifiers; without it they
    never match. `now_ms` is the throttle's clock (the time of day, in milliseconds).

    Raises :class:`LoginThrottled`, :class:`ClientNotFound`, :class:`TerminalNotFound`,
    :class:`AddressNotAllowed`, :class:`VerifierBusy`, :class:`WrongSecret`,
    :class:`VendorNotActive` or :class:`TerminalDisabled`. Writes nothing: counting a failure
    (`record_login_failure`) and clearing them after a success are the caller's.
    """
    cache_ = default_cache if verification_cache is None else verification_cache
    who = {"client_id": client_id, "terminal_code": terminal_id}
    key = _throttle_key(client_id, terminal_id, source_ip)
    row = _CREDENTIALS.execute(
        session,
        {
            "p_client": client_id,
            "p_terminal": terminal_id,
            "p_key_client": key["client_id"],
            "p_key_terminal": key["terminal_code"],
            "p_key_address": key["source_ip"],
        },
    ).one()
    vendor_id, kind, vendor_status, term_id, term_status, secret_hash, version, cidrs = row[:8]
    commission_bp, commission_kwh_e4, failures, last_failure_ms = row[8:12]
    flags = row[12:]

    now = int(time.time() * 1000) if now_ms is None else now_ms
    wait = backoff.wait(failures, last_failure_ms, now)
    if wait > 0:  # before any check: a blocked address learns nothing, not even a right secret
        raise LoginThrottled(
            f"too many failed logins for {terminal_id!r} from {source_ip}", retry_after=wait, **who
        )
    if term_id is None:
        # The same cost as a known terminal of the usual kind: no ID oracle.
        if verifier_key is not None:
            _verify_hmac(_DUMMY_HMAC, secret, verifier_key)
        else:
            _verify_argon2_bounded(_dummy_hash(), secret, who)
        if vendor_id is None:
            raise ClientNotFound(f"no vendor {client_id}", **who)
        raise TerminalNotFound(f"vendor {client_id} has no terminal {terminal_id!r}", **who)

    if not _address_allowed(source_ip, cidrs):
        raise AddressNotAllowed(
            f"terminal {terminal_id!r} may not call from {source_ip}", source_ip=source_ip, **who
        )
    if secret_hash.startswith(HMAC_PREFIX):
        if verifier_key is None or not _verify_hmac(secret_hash, secret, verifier_key):
            raise WrongSecret(f"wrong secret for terminal {terminal_id!r} of {client_id}", **who)
    else:
        cache_key = cache_.key(client_id, terminal_id, secret)
        if not cache_.hit(cache_key, term_id, version, secret_hash):
            if not _verify_argon2_bounded(secret_hash, secret, who):
                raise WrongSecret(
                    f"wrong secret for terminal {terminal_id!r} of {client_id}", **who
                )
            cache_.remember(cache_key, term_id, version, secret_hash)
    if vendor_status != "active":
        raise VendorNotActive(
            f"vendor {client_id} is {vendor_status}", vendor_status=vendor_status, **who
        )
    if term_status != "active":
        raise TerminalDisabled(f"terminal {terminal_id!r} of {client_id} is disabled", **who)
    return TerminalPrincipal(
        vendor_id=vendor_id,
        client_id=client_id,
        terminal_id=terminal_id,
        privileges=frozenset(p for p, on in zip(PRIVILEGES, flags, strict=True) if on),
        vendor_kind=kind,
        commission=None
        if commission_bp is None
        else CommissionRate(commission_bp, commission_kwh_e4),
        earlier_failures=failures or 0,
    )
