"""HTTP Basic at the edge: parsing, the failed-login throttle, and the real credential check
against the demo vendors (refusals audited, never with the secret)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from gateway.db import transaction
from gateway.models import AuditEvent
from gateway.soap.auth import (
    AuthRefusal,
    Credentials,
    LoginThrottle,
    TerminalAuthenticator,
    parse_basic,
)
from gateway.vend_types import Principal
from tests.soap.support import ATM, OFFICE, POS
from vendor_accounts import vendors

if TYPE_CHECKING:  # a class named Test* must not be imported where pytest collects
    from tests.conftest import TestDatabase


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# Parsing -------------------------------------------------------------------------------------

def test_parse_basic() -> None:
    assert parse_basic(basic("6004000000019/ATM-0001", "demo-pass-1")) == Credentials(
        "6004000000019", "ATM-0001", "demo-pass-1")


def test_terminal_ids_may_hold_slashes_and_secrets_colons() -> None:
    assert parse_basic(basic("6004000000019/BR/01", "a:b")) == Credentials(
        "6004000000019", "BR/01", "a:b")


@pytest.mark.parametrize("value", [
    None, "", "Bearer abc", "Basic", "Basic !!!notbase64",
    basic("6004000000019", "secret"),            # no terminal
    basic("/ATM-0001", "secret"),                # no client
    basic("6004000000019/ATM-0001", ""),         # no secret
    "Basic " + base64.b64encode(b"6004000000019/ATM-0001").decode(),  # no colon
    "Basic " + base64.b64encode(b"\xff\xfe/x:y").decode(),             # not UTF-8
    "Basic " + "A" * 2000,
])
def test_unusable_headers(value: str | None) -> None:
    assert parse_basic(value) is None


def test_credentials_never_show_the_secret() -> None:
    assert "demo-pass-1" not in repr(Credentials("6004000000019", "ATM-0001", "demo-pass-1"))


# Throttle ------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_is_blocked_after_its_limit_until_failures_age_out() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_terminal=3, per_address=100, window_seconds=60, clock=clock)
    terminal = ("6004000000019", "ATM-0001")
    for _ in range(3):
        assert throttle.retry_after(terminal, "10.0.0.1") == 0
        throttle.failed(terminal, "10.0.0.1")
        clock.now += 1
    assert throttle.retry_after(terminal, "10.0.0.2") == pytest.approx(57)
    assert throttle.retry_after(("6004000000019", "ATM-0002"), "10.0.0.1") == 0
    clock.now += 57
    assert throttle.retry_after(terminal, "10.0.0.1") == 0


def test_an_address_is_blocked_across_terminals() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_terminal=100, per_address=4, window_seconds=60, clock=clock)
    for i in range(4):
        throttle.failed(("6004000000019", f"T{i}"), "10.0.0.9")
    assert throttle.retry_after(("6004000000026", "POS-0001"), "10.0.0.9") > 0
    assert throttle.retry_after(("6004000000026", "POS-0001"), "10.0.0.8") == 0


def test_success_forgets_the_terminal_but_not_the_address() -> None:
    throttle = LoginThrottle(per_terminal=2, per_address=3, clock=Clock())
    terminal = ("6004000000019", "ATM-0001")
    throttle.failed(terminal, "10.0.0.1")
    throttle.failed(terminal, "10.0.0.1")
    throttle.succeeded(terminal)
    assert throttle.retry_after(terminal, "10.0.0.2") == 0
    throttle.failed(terminal, "10.0.0.1")
    assert throttle.retry_after(terminal, "10.0.0.1") > 0  # the address has three


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=50, clock=Clock())
    for i in range(1000):
        throttle.failed(("6004000000019", f"T{i}"), f"10.0.{i // 250}.{i % 250}")
    assert len(throttle._failures) <= 50


# The real check ------------------------------------------------------------------------------

def environ(user: str, password: str, address: str = "127.0.0.1") -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": basic(user, password), "REMOTE_ADDR": address}


def audit_rows(db: TestDatabase) -> list[AuditEvent]:
    with db.sessions() as session:
        return list(session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("soap.%")).order_by(AuditEvent.id)))


def test_good_credentials_give_the_principal(demo_db: TestDatabase) -> None:
    who = TerminalAuthenticator(demo_db.runtime)(environ(*OFFICE.auth))
    assert isinstance(who, Principal)
    assert (who.client_id, who.terminal_id) == (OFFICE.client_id, OFFICE.terminal_id)
    assert "engineering" in who.privileges
    assert audit_rows(demo_db) == []


@pytest.mark.parametrize("user,password", [
    (f"{ATM.client_id}/{ATM.terminal_id}", "wrong-pass-1"),
    (f"{ATM.client_id}/NO-SUCH", "demo-pass-1"),
    ("6004000000101/ATM-0001", "demo-pass-1"),
    (f"{POS.client_id}/{ATM.terminal_id}", "demo-pass-1"),
])
def test_bad_credentials_are_401_and_audited_without_the_secret(
        demo_db: TestDatabase, user: str, password: str) -> None:
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
    auth = TerminalAuthenticator(demo_db.runtime, throttle=LoginThrottle(per_terminal=3))
    for _ in range(3):
        refusal = auth(environ(f"{ATM.client_id}/{ATM.terminal_id}", "guess"))
        assert isinstance(refusal, AuthRefusal) and refusal.status.startswith("401")
    blocked = auth(environ(*ATM.auth))  # even the right secret waits now
    assert isinstance(blocked, AuthRefusal)
    assert blocked.status == "429 Too Many Requests"
    assert int(dict(blocked.headers)["Retry-After"]) > 0
    assert len(audit_rows(demo_db)) == 3


@pytest.mark.parametrize("change,code", [
    ("suspend", "auth-vendor-not-active"),
    ("disable", "auth-terminal-disabled"),
    ("allowlist", "auth-address-not-allowed"),
])
def test_suspended_disabled_and_foreign_addresses_are_refused(
        demo_db: TestDatabase, change: str, code: str) -> None:
    with transaction(demo_db.sessions) as session:
        if change == "suspend":
            vendors.set_vendor_status(session, ATM.client_id, "suspended", actor="test")
        elif change == "disable":
            vendors.set_terminal_status(session, client_id=ATM.client_id,
                                        terminal_code=ATM.terminal_id, status="disabled",
                                        actor="test")
        else:
            terminal = vendors.get_terminal(session, ATM.client_id, ATM.terminal_id)
            terminal.allowed_cidrs = "192.0.2.0/24"
            terminal.credential_version += 1
    refusal = TerminalAuthenticator(demo_db.runtime)(environ(*ATM.auth, address="10.9.9.9"))
    assert isinstance(refusal, AuthRefusal)
    assert refusal.status == "403 Forbidden"
    assert refusal.fault is not None
    assert refusal.fault.fault_type == "RequestAuthorisationEx"
    assert refusal.fault.code == code
    [row] = audit_rows(demo_db)
    assert (row.action, json.loads(row.detail)["reason"]) == ("soap.login_refused", code)
