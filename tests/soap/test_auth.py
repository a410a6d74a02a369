"""HTTP Basic at the edge: parsing, the failed-login throttle, and the real credential check
against the demo vendors (refusals audited, never with the secret)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from core.db import transaction
from core.models import AuditEvent
from gateway.soap.auth import (
    AuthRefusal,
    Credentials,
    TerminalAuthenticator,
    parse_basic,
)
from gateway.vend.types import Principal
from tests.support.soap import ATM, OFFICE, POS
from vendor_accounts import vendors
from vendor_accounts.credentials import Backoff

if TYPE_CHECKING:  # a class named Test* must not be imported where pytest collects
    from tests.conftest import TestDatabase


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# Parsing -------------------------------------------------------------------------------------


def test_parse_basic() -> None:
    assert parse_basic(basic("6004000000019/ATM-0001", "demo-pass-1")) == Credentials(
        "6004000000019", "ATM-0001", "demo-pass-1"
    )


def test_terminal_ids_may_hold_slashes_and_secrets_colons() -> None:
    assert parse_basic(basic("6004000000019/BR/01", "a:b")) == Credentials(
        "6004000000019", "BR/01", "a:b"
    )


@pytest.mark.parametrize("value", [None, "", "Bearer abc", "Digest x"])
def test_no_basic_credentials(value: str | None) -> None:
    assert parse_basic(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "Basic",
        "Basic !!!notbase64",
        basic("6004000000019", "secret"),  # no terminal
        basic("/ATM-0001", "secret"),  # no client
        basic("6004000000019/ATM-0001", ""),  # no secret
        "Basic " + base64.b64encode(b"6004000000019/ATM-0001").decode(),  # no colon
        "Basic " + base64.b64encode(b"\xff\xfe/x:y").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"6004000000019/ATM\x00-1:secret").decode(),  # NUL
        "Basic " + base64.b64encode(b"6004000000019/ATM\n-1:secret").decode(),  # a newline
        "Basic " + base64.b64encode("6004000000019/ATM-1:se\u0085cret".encode()).decode(),  # C1
        "Basic \xff\xfe\xfd",  # raw bytes beyond ASCII (latin-1 in WSGI)
        "Basic " + "A" * 2000,
    ],
)
def test_unusable_basic_credentials_are_malformed(value: str) -> None:
    creds = parse_basic(value)
    assert creds is not None and creds.malformed and creds.secret == ""
    assert all(c.isprintable() for c in "".join(creds.throttle_ids))


def test_printable_non_ascii_ids_are_usable() -> None:
    assert parse_basic(basic("6004000000019/CAFÉ-1", "pässword")) == Credentials(
        "6004000000019", "CAFÉ-1", "pässword"
    )


def test_credentials_never_show_the_secret() -> None:
    assert "demo-pass-1" not in repr(Credentials("6004000000019", "ATM-0001", "demo-pass-1"))


# Throttle policy -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_back_off_is_free_then_doubles_up_to_its_cap() -> None:
    backoff = Backoff(free_failures=5, first_delay=1.0, max_delay=900.0)
    assert [backoff.delay(n) for n in range(1, 18)] == [
        0,
        0,
        0,
        0,
        0,
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        512,
        900,
        900,
    ]
    assert backoff.delay(10_000) == 900
    assert backoff.wait(None, None, 0) == 0
    assert backoff.wait(7, 10_000, 10_500) == pytest.approx(1.5)
    assert backoff.wait(7, 10_000, 10_000 + 3_600_000) == 0  # forgotten after an hour


# The real check ------------------------------------------------------------------------------


def environ(user: str, password: str, address: str = "127.0.0.1") -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": basic(user, password), "REMOTE_ADDR": address}


def audit_rows(db: TestDatabase) -> list[AuditEvent]:
    with db.sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("soap.%")).order_by(AuditEvent.id)
            )
        )


def test_good_credentials_give_the_principal(demo_db: TestDatabase) -> None:
    who = TerminalAuthenticator(demo_db.runtime)(environ(*OFFICE.auth))
    assert isinstance(who, Principal)
    assert (who.client_id, who.terminal_id) == (OFFICE.client_id, OFFICE.terminal_id)
    assert "engineering" in who.privileges
    assert audit_rows(demo_db) == []


@pytest.mark.parametrize(
    "user,password",
    [
        (f"{ATM.client_id}/{ATM.terminal_id}", "wrong-pass-1"),
        (f"{ATM.client_id}/NO-SUCH", "demo-pass-1"),
        ("6004000000101/ATM-0001", "demo-pass-1"),
        (f"{POS.client_id}/{ATM.terminal_id}", "demo-pass-1"),
    ],
)
def test_bad_credentials_are_401_and_audited_without_the_secret(
    demo_db: TestDatabase, user: str, password: str
) -> None:
    refusal = TerminalAuthenticator(demo_db.runtime)(environ(user, password, "10.1.2.3"))
    assert isinstance(refusal, AuthRefusal)
    assert refusal.status.startswith("401")
    assert ("WWW-Authenticate", 'Basic realm="vendgw", charset="UTF-8"') in refusal.headers
    [row] = audit_rows(demo_db)
    assert row.action == "soap.login_failed"
    assert row.actor == user
    detail = json.loads(row.detail)
    assert detail["source_ip"] == "10.1.2.3"
    assert detail["reason"].startswith("auth-")
    assert password not in row.detail and password not in row.actor


def test_missing_credentials_are_401_and_not_audited(demo_db: TestDatabase) -> None:
    refusal = TerminalAuthenticator(demo_db.runtime)({"REMOTE_ADDR": "127.0.0.1"})
    assert isinstance(refusal, AuthRefusal) and refusal.status.startswith("401")
    assert audit_rows(demo_db) == []


def test_repeated_failures_are_throttled(demo_db: TestDatabase) -> None:
    auth = TerminalAuthenticator(demo_db.runtime)
    for _ in range(6):  # five free, the sixth earns a wait
        refusal = auth(environ(f"{ATM.client_id}/{ATM.terminal_id}", "guess"))
        assert isinstance(refusal, AuthRefusal) and refusal.status.startswith("401")
    blocked = auth(environ(*ATM.auth))  # even the right secret waits now, from this address
    assert isinstance(blocked, AuthRefusal)
    assert blocked.status == "500 Internal Server Error"  # a fault (R1126), typed:
    assert (blocked.fault.fault_type, blocked.fault.code) == (
        "RequestAuthorisationEx",
        "auth-throttled",
    )
    assert int(dict(blocked.headers)["Retry-After"]) > 0
    assert [r.action for r in audit_rows(demo_db)] == ["soap.login_failed"] * 6 + [
        "soap.login_throttled"
    ]


@pytest.mark.parametrize(
    "change,code",
    [
        ("suspend", "auth-vendor-not-active"),
        ("disable", "auth-terminal-disabled"),
        ("allowlist", "auth-address-not-allowed"),
    ],
)
def test_suspended_disabled_and_foreign_addresses_are_refused(
    demo_db: TestDatabase, change: str, code: str
) -> None:
    with transaction(demo_db.sessions) as session:
        if change == "suspend":
            vendors.set_vendor_status(session, ATM.client_id, "suspended", actor="test")
        elif change == "disable":
            vendors.set_terminal_status(
                session,
                client_id=ATM.client_id,
                terminal_code=ATM.terminal_id,
                status="disabled",
                actor="test",
            )
        else:
            terminal = vendors.get_terminal(session, ATM.client_id, ATM.terminal_id)
            terminal.allowed_cidrs = "192.0.2.0/24"
            terminal.credential_version += 1
    refusal = TerminalAuthenticator(demo_db.runtime)(environ(*ATM.auth, address="10.9.9.9"))
    assert isinstance(refusal, AuthRefusal)
    assert refusal.status == "500 Internal Server Error"  # a fault (R1126)
    assert refusal.fault.fault_type == "RequestAuthorisationEx"
    assert refusal.fault.code == code
    [row] = audit_rows(demo_db)
    assert (row.action, json.loads(row.detail)["reason"]) == ("soap.login_refused", code)
