"""Logging in to the console: the redirect to /login, CSRF, the lockout, idle expiry, TOTP."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import select, update

from core.db import transaction, utcnow
from core.models import AuditEvent
from tests.console.conftest import PASSWORD, Console, csrf_token
from vendgw.console import users
from vendgw.console.models import ConsoleSession, ConsoleUser
from vendgw.console.sessions import COOKIE_NAME


def _actions(console: Console, subject: str) -> list[str]:
    with transaction(console.db.sessions) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject == subject)
                .order_by(AuditEvent.id)
            )
        )


def test_a_page_without_a_session_redirects_to_login(console: Console) -> None:
    response = console.anonymous().get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_sets_a_secure_httponly_strict_cookie_and_opens_the_dashboard(
    console: Console,
) -> None:
    client = console.anonymous()
    response = console.login(client, "admin-user")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE_NAME))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert "Sales today" in page.get_data(as_text=True)
    assert "console.login" in _actions(console, "admin-user")


def test_login_replaces_the_session_token(console: Console) -> None:
    client = console.anonymous()
    client.get("/login")
    before = client.get_cookie(COOKIE_NAME)
    assert before is not None
    console.login(client, "operator-user")
    after = client.get_cookie(COOKIE_NAME)
    assert after is not None and after.value != before.value


def test_a_post_without_a_csrf_token_is_refused_with_400(console: Console) -> None:
    client = console.anonymous()
    client.get("/login")
    response = client.post("/login", data={"username": "admin-user", "password": PASSWORD})
    assert response.status_code == 400
    # and nothing happened: not logged in
    assert client.get("/").status_code == 302
    logged_in = console.client("admin-user".removesuffix("-user"))
    assert logged_in.post("/logout").status_code == 400
    assert logged_in.get("/").status_code == 200  # still logged in: the logout was refused


def test_a_wrong_password_is_refused_and_audited(console: Console) -> None:
    client = console.anonymous()
    response = console.login(client, "finance-user", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert _actions(console, "finance-user")[-1] == "console.login_failed"


def test_five_failures_lock_the_account_for_fifteen_minutes(console: Console) -> None:
    client = console.anonymous()
    for _ in range(5):
        assert console.login(client, "auditor-user", "wrong password!").status_code == 401
    # the right password is refused while the lock holds
    assert console.login(client, "auditor-user").status_code == 401
    with transaction(console.db.sessions) as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "auditor-user"))
        assert user is not None and user.locked_until is not None
        left = user.locked_until - utcnow()
        assert timedelta(minutes=14) < left <= timedelta(minutes=15)
        # fifteen minutes later
        user.locked_until = utcnow() - timedelta(seconds=1)
    assert console.login(client, "auditor-user").status_code == 302
    actions = _actions(console, "auditor-user")
    assert "console.account_locked" in actions and "console.login_locked" in actions


def test_four_failures_then_a_success_clear_the_count(console: Console) -> None:
    client = console.anonymous()
    for _ in range(4):
        console.login(client, "operator-user", "wrong password!")
    assert console.login(client, "operator-user").status_code == 302
    for _ in range(4):
        console.login(console.anonymous(), "operator-user", "wrong password!")
    assert console.login(console.anonymous(), "operator-user").status_code == 302


def test_a_session_idle_for_thirty_minutes_ends(console: Console) -> None:
    client = console.client("supervisor")
    assert client.get("/").status_code == 200
    with transaction(console.db.sessions) as session:
        session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=29))
        )
    assert client.get("/").status_code == 200  # 29 idle minutes: still on, and the clock restarts
    with transaction(console.db.sessions) as session:
        session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=31))
        )
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logout_ends_the_session(console: Console) -> None:
    client = console.client("auditor")
    token = csrf_token(client.get("/"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_disabled_user_is_logged_out_and_cannot_log_in(console: Console) -> None:
    client = console.client("operator")
    with transaction(console.db.sessions) as session:
        users.disable_user(session, "operator-user", actor="test")
    assert client.get("/").status_code == 302
    assert console.login(console.anonymous(), "operator-user").status_code == 401


def _enrol(console: Console, role: str) -> tuple[pyotp.TOTP, object]:
    client = console.client(role)
    page = client.get("/account")
    response = client.post("/account", data={"start-csrf_token": csrf_token(page)})
    html = response.get_data(as_text=True)
    secret = html.split('id="totp-secret">', 1)[1].split("<", 1)[0]
    totp = pyotp.TOTP(secret)
    confirmed = client.post(
        "/account",
        data={"confirm-csrf_token": csrf_token(html), "confirm-code": totp.now()},
        follow_redirects=True,
    )
    assert "asked for at every login" in confirmed.get_data(as_text=True)
    return totp, client


def test_totp_once_enrolled_is_required_at_login(console: Console) -> None:
    totp, _client = _enrol(console, "finance")
    client = console.anonymous()
    response = console.login(client, "finance-user")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/code")
    assert client.get("/").status_code == 302  # the password alone opens nothing
    page = client.get("/login/code")
    wrong = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": "000000"})
    assert wrong.status_code == 401
    # the enrolment used the current step; the next one is accepted once
    with transaction(console.db.sessions) as session:
        session.execute(
            update(ConsoleUser)
            .where(ConsoleUser.username == "finance-user")
            .values(totp_last_step=ConsoleUser.totp_last_step - 2)
        )
    code = totp.now()
    ok = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": code})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200
    # the same code does not open a second session
    other = console.anonymous()
    console.login(other, "finance-user")
    again = other.post(
        "/login/code", data={"csrf_token": csrf_token(other.get("/login/code")), "code": code}
    )
    assert again.status_code == 401
    assert "console.totp_enrolled" in _actions(console, "finance-user")


def test_the_totp_secret_is_stored_wrapped(console: Console) -> None:
    totp, _client = _enrol(console, "admin")
    with transaction(console.db.sessions) as session:
        stored = session.scalar(
            select(ConsoleUser.totp_secret).where(ConsoleUser.username == "admin-user")
        )
    assert stored is not None and stored.startswith("v1$") and totp.secret not in stored
