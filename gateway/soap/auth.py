"""Who is calling: HTTP Basic credentials, the failed-login throttle and the audit of refusals.

Every request carries `Authorization: Basic base64("<clientID>/<terminalID>:<secret>")`. The
check itself (unknown IDs, source-address allowlist, the secret's verifier, vendor and terminal
status, and the throttle's row, all read in one statement) belongs to
vendor_accounts.credentials.authenticate_terminal; this module turns its outcome into a SOAP
fault and the HTTP status it travels with:

    no credentials (or another scheme)                      401 + WWW-Authenticate + Client
    Basic credentials that cannot be read (not base64, not      RequestAuthorisationEx
    UTF-8, a NUL or another control character, no '/' or        auth-failed (one body for all,
    ':'), unknown clientID or terminalID, wrong secret          so IDs cannot be probed)
    address not on the terminal's allowlist, vendor         500 + Client RequestAuthorisationEx
    suspended or closed, terminal disabled                      auth-address-not-allowed, ...
    too many failures lately of this terminal from this     500 + Retry-After + Client
    address                                                     RequestAuthorisationEx
                                                                auth-throttled
    every argon2 slot of the worker busy (operator-chosen   500 + Retry-After + Server SystemEx
    secrets)                                                    auth-verifier-busy

Why 500 for a throttled login rather than 429 with a SOAP body: WS-I Basic Profile R1126 sends
every fault with 500, and the stacks banks run act on it: suds, .NET ASMX, JAX-WS and Axis read
the fault of a 500 and throw any other status away with its body ("429 Too Many Requests" is all
the caller learns, and node `soap` calls a text/plain body "Invalid XML"). With 500 every one of
them hands its caller a typed fault (RequestAuthorisationEx, code auth-throttled) whose message
says how long to wait; Retry-After carries the same wait for clients and proxies that read it.
401 keeps its status: it is HTTP's own challenge, which clients need in order to send (or
re-send) credentials, and R1126 lets a non-fault status stand for HTTP-level refusals; its body
is a SOAP fault anyway, so a client that reads it gets a typed answer.

Failed logins are counted per claimed (clientID, terminalID) and source address in the database
(`login_failure`), so every worker and node agrees: five are free, then the address waits 1 s,
2 s, 4 s, ... up to 15 minutes before it may try that terminal again (`credentials.Backoff`). The
right secret from another address is never refused for this address's failures, a success from
an address forgets that address's failures, and a NAT full of terminals is not locked out by one
of them. Unreadable credentials are throttled and audited like a wrong secret, under the IDs they
claim (escaped) or under empty ones.

Audit: one `soap.login_failed` or `soap.login_refused` row per failure (never the secret), and
for refusals by the throttle at most one `soap.login_throttled` row a minute per (terminal,
address), carrying how many were refused since the last one, so a flood cannot flood the table.
Client-supplied IDs are escaped (`core.audit.escape_control`) in audit rows and in this
module's log lines: a newline in a terminalID cannot forge a line.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.audit import escape_control
from core.db import transaction
from core.runtime import Runtime
from gateway.errors import GatewayError, RequestAuthorisation, SystemError_
from gateway.vend.types import Principal
from vendor_accounts.credentials import (
    DEFAULT_BACKOFF,
    Backoff,
    TerminalPrincipal,
    authenticate_terminal,
    clear_login_failures,
    login_wait,
    note_throttled,
    record_login_failure,
)
from vendor_accounts.exceptions import (
    AddressNotAllowed,
    AuthenticationError,
    LoginThrottled,
    MalformedCredentials,
    TerminalDisabled,
    VendorNotActive,
    VerifierBusy,
)

log = logging.getLogger("gateway.soap.auth")

REALM = 'Basic realm="vendgw", charset="UTF-8"'
AuthenticateFn = Callable[..., TerminalPrincipal]


@dataclass(frozen=True)
class Credentials:
    client_id: str
    terminal_id: str
    secret: str
    # Set when the header is Basic but unusable: the IDs are then what it seemed to claim (bytes
    # that are not UTF-8 as lone surrogates) or empty, and the secret is empty.
    malformed: bool = False

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"Credentials({self.client_id!r}, {self.terminal_id!r}, secret=***)"

    @property
    def throttle_ids(self) -> tuple[str, str]:
        """The IDs the throttle counts these credentials under: as claimed, or escaped when
        they are malformed (a NUL cannot even be stored in PostgreSQL text)."""
        if self.malformed:
            return escape_control(self.client_id), escape_control(self.terminal_id)
        return self.client_id, self.terminal_id


_UNREADABLE = Credentials("", "", "", malformed=True)


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in text)


def parse_basic(header: str | None) -> Credentials | None:
    """`Basic base64(clientID/terminalID:secret)` -> Credentials; None without Basic credentials.

    The user part splits at the first '/': clientIDs are 13 digits, terminal IDs may hold '/'.
    Basic credentials that cannot be used (see the module's table) come back `malformed`.
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    token = token.strip()
    if not token or len(token) > 1024:
        return _UNREADABLE
    try:
        # WSGI hands header bytes over as latin-1 text: anything beyond ASCII is not base64.
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return _UNREADABLE
    decoded = raw.decode("utf-8", "surrogateescape")
    user, sep, secret = decoded.partition(":")
    client_id, slash, terminal_id = user.partition("/")
    garbled = not decoded.isprintable() and (_has_control(decoded) or _has_surrogate(decoded))
    if garbled or not sep or not slash or not client_id or not terminal_id or not secret:
        return Credentials(client_id, terminal_id, "", malformed=True)
    return Credentials(client_id, terminal_id, secret)


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@dataclass(frozen=True)
class LoginThrottle:
    """The throttle's policy at the edge: the back-off (`credentials.Backoff`), how often a
    (terminal, address) refused by it may add a `soap.login_throttled` audit row, and the clock
    (the time of day: every node must agree on it within a second or so)."""

    backoff: Backoff = DEFAULT_BACKOFF
    audit_every_seconds: float = 60.0
    clock: Callable[[], float] = time.time

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


# The status of every SOAP fault (WS-I Basic Profile R1126).
FAULT_STATUS = "500 Internal Server Error"


@dataclass(frozen=True)
class AuthRefusal:
    """A refused login: the fault for the body, the HTTP status it travels with, extra headers,
    and `kind`, what vendgw.metrics counts it as (the status these refusals had before they all
    became 500: "401", "403" or "429"; None for a busy verifier, which refuses no login)."""

    fault: GatewayError
    status: str = FAULT_STATUS
    headers: tuple[tuple[str, str], ...] = ()
    kind: str | None = None


UNAUTHORISED = AuthRefusal(
    RequestAuthorisation(
        "HTTP Basic credentials are missing or were not accepted: send <clientID>/<terminalID>"
        " and the terminal's secret",
        code="auth-failed",
    ),
    "401 Unauthorized",
    (("WWW-Authenticate", REALM),),
    "401",
)


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


def _throttled_refusal(wait: float) -> AuthRefusal:
    seconds = _seconds(wait)
    return AuthRefusal(
        RequestAuthorisation(
            "too many failed logins of this terminal from this address: retry after "
            f"{seconds} seconds",
            code="auth-throttled",
            retry_after_seconds=seconds,
        ),
        headers=(("Retry-After", str(seconds)),),
        kind="429",
    )


def _busy_refusal(wait: float) -> AuthRefusal:
    seconds = _seconds(wait)
    return AuthRefusal(
        SystemError_(
            f"the gateway is busy checking credentials: retry after {seconds} seconds",
            code="auth-verifier-busy",
            retry_after_seconds=seconds,
        ),
        headers=(("Retry-After", str(seconds)),),
    )


class TerminalAuthenticator:
    """Authenticates one request's Basic credentials against the vendor accounts."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        throttle: LoginThrottle | None = None,
        authenticate: AuthenticateFn = authenticate_terminal,
    ) -> None:
        self.runtime = runtime
        self.throttle = throttle or LoginThrottle()
        self.authenticate = authenticate

    def __call__(self, environ: dict[str, Any]) -> Principal | AuthRefusal:
        address = str(environ.get("REMOTE_ADDR") or "")
        creds = parse_basic(environ.get("HTTP_AUTHORIZATION"))
        if creds is None:
            return UNAUTHORISED  # not a failed login: clients first try without credentials
        now_ms = self.throttle.now_ms()
        if creds.malformed:
            return self._malformed(creds, address, now_ms)
        try:
            with self.runtime.single_reads.connect() as conn:
                found = self.authenticate(
                    conn,
                    creds.client_id,
                    creds.terminal_id,
                    creds.secret,
                    address,
                    verifier_key=self.runtime.verifier_key,
                    backoff=self.throttle.backoff,
                    now_ms=now_ms,
                )
                if found.earlier_failures:
                    clear_login_failures(conn, creds.client_id, creds.terminal_id, address)
                    conn.commit()
        except LoginThrottled as exc:
            return self._throttled(creds, address, exc.retry_after, now_ms)
        except VerifierBusy as exc:
            return _busy_refusal(exc.retry_after)
        except (VendorNotActive, TerminalDisabled, AddressNotAllowed) as exc:
            self._failed(
                creds,
                address,
                "soap.login_refused",
                exc,
                now_ms,
                counted=isinstance(exc, AddressNotAllowed),
            )
            return AuthRefusal(
                RequestAuthorisation(_REFUSAL_MESSAGES[type(exc)], code=exc.code), kind="403"
            )
        except AuthenticationError as exc:
            self._failed(creds, address, "soap.login_failed", exc, now_ms)
            return UNAUTHORISED
        return found

    def _malformed(self, creds: Credentials, address: str, now_ms: int) -> AuthRefusal:
        with self.runtime.single_reads.connect() as conn:
            wait = login_wait(
                conn, *creds.throttle_ids, address, now_ms=now_ms, backoff=self.throttle.backoff
            )
        if wait > 0:
            return self._throttled(creds, address, wait, now_ms)
        exc = MalformedCredentials(
            "unreadable Basic credentials",
            client_id=creds.throttle_ids[0],
            terminal_code=creds.throttle_ids[1],
        )
        self._failed(creds, address, "soap.login_failed", exc, now_ms)
        return UNAUTHORISED

    def _failed(
        self,
        creds: Credentials,
        address: str,
        action: str,
        exc: AuthenticationError,
        now_ms: int,
        *,
        counted: bool = True,
    ) -> None:
        self._log(action, creds, address, exc.code)
        with transaction(self.runtime.sessions) as session:
            if counted:
                record_login_failure(
                    session,
                    *creds.throttle_ids,
                    address,
                    now_ms=now_ms,
                    backoff=self.throttle.backoff,
                )
            self._audit(session, creds, action, reason=exc.code, source_ip=address)

    def _throttled(self, creds: Credentials, address: str, wait: float, now_ms: int) -> AuthRefusal:
        every_ms = int(self.throttle.audit_every_seconds * 1000)
        with self.runtime.single_reads.connect() as conn:
            count = note_throttled(
                conn, *creds.throttle_ids, address, now_ms=now_ms, every_ms=every_ms
            )
            conn.commit()
        if count:
            self._log("soap.login_throttled", creds, address, f"{count} refused")
            with transaction(self.runtime.sessions) as session:
                self._audit(
                    session,
                    creds,
                    "soap.login_throttled",
                    reason="auth-throttled",
                    source_ip=address,
                    count=count,
                    retry_after_seconds=math.ceil(wait),
                )
        return _throttled_refusal(wait)

    @staticmethod
    def _log(action: str, creds: Credentials, address: str, what: str) -> None:
        log.warning(
            "%s %s/%s from %s: %s",
            action,
            escape_control(creds.client_id),
            escape_control(creds.terminal_id),
            escape_control(address),
            what,
        )

    @staticmethod
    def _audit(session: Session, creds: Credentials, action: str, **detail: Any) -> None:
        audit.record(session, f"{creds.client_id}/{creds.terminal_id}", action, "soap", **detail)


_REFUSAL_MESSAGES: dict[type[AuthenticationError], str] = {
    VendorNotActive: "the vendor account is not active",
    TerminalDisabled: "the terminal is disabled",
    AddressNotAllowed: "the terminal may not call from this address",
}
