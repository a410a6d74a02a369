"""The failed-login throttle as an attacker meets it: per (terminal, source address), shared by
every worker through the database, with back-off; unreadable credentials refused, counted and
audited; refusals by the throttle audited at a bounded rate; client text escaped in audit rows
and log lines. On the demo database, both backends, through the real authenticator or the real
/vend application."""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from core.models import AuditEvent
from core.runtime import Runtime
from gateway.soap.auth import AuthRefusal, LoginThrottle, TerminalAuthenticator
from gateway.vend.types import Principal
from tests.conftest import settings_for
from tests.support.soap import ATM, OFFICE, POS, confirm_customer_xml, envelope
from vendor_accounts.credentials import Backoff, record_login_failure
from vendor_accounts.models import LoginFailure

if TYPE_CHECKING:
    from gateway.soap.app import WsgiApp
    from tests.conftest import TestDatabase

A, B = "198.51.100.7", "203.0.113.20"
ATM_USER = f"{ATM.client_id}/{ATM.terminal_id}"


def basic_raw(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def environ(user: str, password: str, address: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": basic_raw(f"{user}:{password}".encode()), "REMOTE_ADDR": address}


def audit_rows(db: TestDatabase, action: str | None = None) -> list[AuditEvent]:
    with db.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action.like("soap.%"))
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def failure_rows(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(LoginFailure)) or 0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def status(result: Principal | AuthRefusal) -> str:
    """ok, or the refusal's kind: "401", "403", "429" (throttled; sent as a fault with HTTP 500)."""
    if isinstance(result, Principal):
        return "ok"
    if result.kind == "429":
        assert result.status.startswith("500") and result.fault.code == "auth-throttled"
    return result.kind or result.status[:3]


# Lockout on demand (defect 6) ----------------------------------------------------------------


def test_wrong_secrets_from_one_address_never_lock_out_the_right_secret_elsewhere(
    demo_db: TestDatabase,
) -> None:
    auth = TerminalAuthenticator(demo_db.runtime, throttle=LoginThrottle(clock=Clock()))
    answers = [status(auth(environ(ATM_USER, f"guess-{n}", A))) for n in range(20)]
    assert answers == ["401"] * 6 + ["429"] * 14
    assert status(auth(environ(*ATM.auth, B))) == "ok"  # the right secret, elsewhere
    assert status(auth(environ(*POS.auth, A))) == "ok"  # another terminal behind A
    assert status(auth(environ(*OFFICE.auth, A))) == "ok"
    assert status(auth(environ(*ATM.auth, A))) == "429"  # A itself still waits for ATM


def test_failures_are_shared_by_every_worker(demo_db: TestDatabase, tmp_path: Any) -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    other = Runtime(settings_for(demo_db.url, tmp_path))  # a second process's wiring
    try:
        workers = [
            TerminalAuthenticator(demo_db.runtime, throttle=throttle),
            TerminalAuthenticator(other, throttle=throttle),
        ]
        for n in range(6):  # alternately on each "worker": three failures each
            assert status(workers[n % 2](environ(ATM_USER, "guess", A))) == "401"
        for worker in workers:
            assert status(worker(environ(*ATM.auth, A))) == "429"
    finally:
        other.close()


def test_the_wait_doubles_with_each_failure_and_a_success_clears_it(demo_db: TestDatabase) -> None:
    clock = Clock()
    auth = TerminalAuthenticator(demo_db.runtime, throttle=LoginThrottle(clock=clock))
    for _ in range(5):
        assert status(auth(environ(ATM_USER, "guess", A))) == "401"
    waits = []
    for _ in range(4):
        assert status(auth(environ(ATM_USER, "guess", A))) == "401"
        refused = auth(environ(*ATM.auth, A))
        assert isinstance(refused, AuthRefusal) and status(refused) == "429"
        wait = int(dict(refused.headers)["Retry-After"])
        waits.append(wait)
        clock.now += wait
    assert waits == [1, 2, 4, 8]
    assert status(auth(environ(*ATM.auth, A))) == "ok"  # once the wait is over
    assert failure_rows(demo_db) == 0  # the success deleted A's row
    for _ in range(5):  # and the free failures are free again
        assert status(auth(environ(ATM_USER, "guess", A))) == "401"
    assert status(auth(environ(*ATM.auth, A))) == "ok"


def test_unknown_ids_are_throttled_too(demo_db: TestDatabase) -> None:
    auth = TerminalAuthenticator(demo_db.runtime)
    for user in (f"{ATM.client_id}/NO-SUCH", "6004000000101/ATM-0001"):
        answers = [status(auth(environ(user, "demo-pass-1", A))) for _ in range(7)]
        assert answers == ["401"] * 6 + ["429"]


def test_the_table_forgets_quiet_rows(demo_db: TestDatabase) -> None:
    backoff = Backoff(forget_after=3600)
    now = 1_800_000_000_000
    with demo_db.runtime.sessions.begin() as session:
        for n in range(50):
            record_login_failure(session, "6004000000019", f"T-{n}", A, now_ms=now, backoff=backoff)
    assert failure_rows(demo_db) == 50
    with demo_db.runtime.sessions.begin() as session:
        assert (
            record_login_failure(
                session, "6004000000019", "T-0", B, now_ms=now + 3_600_001, backoff=backoff
            )
            == 1
        )
    assert failure_rows(demo_db) == 1


# Throttled attempts are audited, at a bounded rate (defect 10) ------------------------------


def test_refusals_by_the_throttle_leave_one_counted_audit_row_a_minute(
    demo_db: TestDatabase,
) -> None:
    clock = Clock()
    throttle = LoginThrottle(backoff=Backoff(free_failures=0, first_delay=900), clock=clock)
    auth = TerminalAuthenticator(demo_db.runtime, throttle=throttle)
    assert status(auth(environ(ATM_USER, "guess", A))) == "401"
    for _ in range(30):
        assert status(auth(environ(ATM_USER, "guess", A))) == "429"
        clock.now += 1
    rows = audit_rows(demo_db, "soap.login_throttled")
    assert [json.loads(r.detail)["count"] for r in rows] == [1]
    for _ in range(40):  # the 30th of these comes 60 s after the first row
        clock.now += 1
        assert status(auth(environ(ATM_USER, "guess", A))) == "429"
    rows = audit_rows(demo_db, "soap.login_throttled")
    assert [json.loads(r.detail)["count"] for r in rows] == [1, 29 + 30]
    assert rows[1].actor == ATM_USER
    assert json.loads(rows[1].detail)["source_ip"] == A


# Unreadable credentials through the real application (defect 10) ---------------------------


def post(app: WsgiApp, authorization: str, address: str = A) -> tuple[str, bytes]:
    body = envelope(confirm_customer_xml(ATM))
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/vend",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "vendgw.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": address,
        "HTTP_HOST": "vendgw.test",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    got: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got["status"] = status
        return lambda data: None

    content = b"".join(app(env, start_response))
    return got["status"], content


@pytest.mark.parametrize(
    "authorization,actor",
    [
        (basic_raw(b"6004000000019/ATM-0001\x00:demo-pass-1"), "6004000000019/ATM-0001\\x00"),
        (basic_raw(b"6004000000019/ATM\x00:x\x00y"), "6004000000019/ATM\\x00"),
        (basic_raw(b"6004000000019/ATM-\xff\xfe:demo-pass-1"), "6004000000019/ATM-\\udcff\\udcfe"),
        (basic_raw("6004000000019/ATM-0001:demo-pass-1\u0007".encode()), "6004000000019/ATM-0001"),
        # Raw bytes beyond ASCII in the header itself, as a WSGI server hands them over (latin-1).
        (b"Basic \xc3\xa9\xff\x00abc".decode("latin-1"), "/"),
    ],
)
def test_unreadable_credentials_are_401_counted_and_audited(
    vend_app: WsgiApp,
    demo_db: TestDatabase,
    caplog: pytest.LogCaptureFixture,
    authorization: str,
    actor: str,
) -> None:
    with caplog.at_level(logging.WARNING):
        got, content = post(vend_app, authorization)
    assert got.startswith("401"), content
    assert b"Traceback" not in content and b"SystemEx" not in content
    assert not [r for r in caplog.records if r.exc_info]
    [row] = audit_rows(demo_db)
    assert (row.action, row.actor) == ("soap.login_failed", actor)
    assert json.loads(row.detail) == {"reason": "auth-malformed-credentials", "source_ip": A}
    assert "demo-pass-1" not in row.detail
    answers = [post(vend_app, authorization)[0][:3] for _ in range(6)]
    assert answers == ["401"] * 5 + ["500"]  # counted like any failed login: throttled
    assert b"auth-throttled" in post(vend_app, authorization)[1]
    assert post(vend_app, basic_raw(b"6004000000019/ATM-0001:demo-pass-1"), B)[0][:3] != "401"


# Control characters in audit rows and log lines (defect 10) ---------------------------------


@pytest.mark.parametrize(
    "terminal",
    [
        "ATM-0001\nWARNING soap.login_ok 6004000000019/ATM-0001 from 10.0.0.1",
        "ATM\u2028FORGED",
        "ATM\u202eREVERSED",
    ],
)
def test_control_characters_in_a_terminal_id_are_escaped(
    demo_db: TestDatabase, caplog: pytest.LogCaptureFixture, terminal: str
) -> None:
    auth = TerminalAuthenticator(demo_db.runtime)
    with caplog.at_level(logging.WARNING, logger="gateway.soap.auth"):
        assert status(auth(environ(f"{ATM.client_id}/{terminal}", "guess", A))) == "401"
    [row] = audit_rows(demo_db)
    for text in (row.actor, row.detail, *(r.getMessage() for r in caplog.records)):
        assert not any(c in text for c in "\n\r\u2028\u202e"), text
    assert row.actor == f"{ATM.client_id}/{terminal}".encode("unicode_escape").decode()
    assert any(row.actor.split("/", 1)[1] in r.getMessage() for r in caplog.records)
