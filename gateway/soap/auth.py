"""Who is calling: HTTP Basic credentials, a failed-login throttle and the audit of refusals.

Every request carries `Authorization: Basic base64("<clientID>/<terminalID>:<secret>")`. The
check itself (unknown IDs, source-address allowlist, argon2 secret, vendor and terminal status)
belongs to vendor_accounts.credentials.authenticate_terminal; this module turns its outcome into
HTTP:

    no or unreadable credentials, unknown clientID or terminalID,
    wrong secret                                                     401 + WWW-Authenticate
    address not on the terminal's allowlist, vendor suspended or closed,
    terminal disabled                                                403 + RequestAuthorisationEx
    too many failures lately (this terminal or this source address)  429 + Retry-After

Failed logins are throttled in process memory: each gunicorn worker keeps its own counts, so a
node with N workers lets through at most N times the limits below before every worker refuses.
That bounds guessing at argon2 speed without a shared store; the audit trail (one row per failure,
never the secret) is in the database and shared by all nodes.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db import transaction
from gateway.errors import RequestAuthorisation
from gateway.runtime import Runtime
from gateway.vend_types import Principal
from vendor_accounts.credentials import TerminalPrincipal, authenticate_terminal
from vendor_accounts.exceptions import (
    AddressNotAllowed,
    AuthenticationError,
    TerminalDisabled,
    VendorNotActive,
)

log = logging.getLogger("gateway.soap.auth")

REALM = 'Basic realm="vendgw", charset="UTF-8"'
AuthenticateFn = Callable[[Session | Connection, str, str, str, str], TerminalPrincipal]


@dataclass(frozen=True)
class Credentials:
    client_id: str
    terminal_id: str
    secret: str

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"Credentials({self.client_id!r}, {self.terminal_id!r}, secret=***)"


def parse_basic(header: str | None) -> Credentials | None:
    """`Basic base64(clientID/terminalID:secret)` -> Credentials, or None when unusable.

    The user part splits at the first '/': clientIDs are 13 digits, terminal IDs may hold '/'.
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip() or len(token) > 1024:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, secret = decoded.partition(":")
    client_id, slash, terminal_id = user.partition("/")
    if not sep or not slash or not client_id or not terminal_id or not secret:
        return None
    return Credentials(client_id, terminal_id, secret)


class LoginThrottle:
    """Sliding-window counts of failed logins per terminal and per source address.

    `retry_after` says how long a caller must wait (0 when it may try); `failed` records a
    failure; `succeeded` forgets a terminal's failures (an address's count stays: one address
    guessing many terminals is the pattern to stop). Memory is bounded by `max_keys`.
    """

    def __init__(self, *, per_terminal: int = 5, per_address: int = 20,
                 window_seconds: float = 300.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_terminal = per_terminal
        self.per_address = per_address
        self.window = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _wait(self, key: tuple[str, ...], limit: int, now: float) -> float:
        times = self._recent(key, now)
        if len(times) < limit:
            return 0.0
        # Blocked until enough of the failures have left the window.
        return times[len(times) - limit] + self.window - now

    def retry_after(self, terminal: tuple[str, str], address: str) -> float:
        with self._lock:
            now = self._clock()
            return max(self._wait(("t", *terminal), self.per_terminal, now),
                       self._wait(("a", address), self.per_address, now))

    def failed(self, terminal: tuple[str, str], address: str) -> None:
        with self._lock:
            now = self._clock()
            for key in (("t", *terminal), ("a", address)):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, terminal: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(("t", *terminal), None)


@dataclass(frozen=True)
class AuthRefusal:
    """An HTTP refusal: status, headers, and for 403 the fault to put in the body."""

    status: str
    headers: tuple[tuple[str, str], ...]
    fault: RequestAuthorisation | None = None


UNAUTHORISED = AuthRefusal("401 Unauthorized", (("WWW-Authenticate", REALM),))


class TerminalAuthenticator:
    """Authenticates one request's Basic credentials against the vendor accounts."""

    def __init__(self, runtime: Runtime, *, throttle: LoginThrottle | None = None,
                 authenticate: AuthenticateFn = authenticate_terminal) -> None:
        self.runtime = runtime
        self.throttle = throttle or LoginThrottle()
        self.authenticate = authenticate

    def __call__(self, environ: dict[str, Any]) -> Principal | AuthRefusal:
        address = str(environ.get("REMOTE_ADDR") or "")
        creds = parse_basic(environ.get("HTTP_AUTHORIZATION"))
        if creds is None:
            return UNAUTHORISED  # not a failed login: clients first try without credentials
        terminal = (creds.client_id, creds.terminal_id)
        wait = self.throttle.retry_after(terminal, address)
        if wait > 0:
            return AuthRefusal("429 Too Many Requests",
                               (("Retry-After", str(math.ceil(wait))),))
        try:
            with self.runtime.single_reads.connect() as conn:
                found = self.authenticate(conn, creds.client_id, creds.terminal_id,
                                          creds.secret, address)
        except (VendorNotActive, TerminalDisabled, AddressNotAllowed) as exc:
            self._audit(creds, address, "soap.login_refused", exc)
            if isinstance(exc, AddressNotAllowed):
                self.throttle.failed(terminal, address)
            return AuthRefusal("403 Forbidden", (), RequestAuthorisation(
                _REFUSAL_MESSAGES[type(exc)], code=exc.code))
        except AuthenticationError as exc:
            self.throttle.failed(terminal, address)
            self._audit(creds, address, "soap.login_failed", exc)
            return UNAUTHORISED
        self.throttle.succeeded(terminal)
        return Principal(vendor_id=found.vendor_id, terminal_db_id=found.terminal_id,
                         client_id=found.client_id, terminal_id=found.terminal_code,
                         privileges=found.privileges, commission=found.commission)

    def _audit(self, creds: Credentials, address: str, action: str,
               exc: AuthenticationError) -> None:
        log.warning("%s %s/%s from %s: %s", action, creds.client_id, creds.terminal_id,
                    address, exc.code)
        with transaction(self.runtime.sessions) as session:
            audit.record(session, f"{creds.client_id}/{creds.terminal_id}"[:100], action,
                         "soap", reason=exc.code, source_ip=address)


_REFUSAL_MESSAGES: dict[type[AuthenticationError], str] = {
    VendorNotActive: "the vendor account is not active",
    TerminalDisabled: "the terminal is disabled",
    AddressNotAllowed: "the terminal may not call from this address",
}
