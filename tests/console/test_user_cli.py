"""`vendgw user add|disable|reset-password` on a real database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from core.db import transaction
from core.models import AuditEvent
from tests.conftest import TestDatabase
from vendgw.cli import cli
from vendgw.console import users
from vendgw.console.models import ConsoleUser


def run(db: TestDatabase, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, list(args), obj=db.runtime, env=db.env(), catch_exceptions=False
    )
    return result.exit_code, result.output


def test_add_with_a_password_file_then_log_in(db: TestDatabase, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("first line is the password\nsecond line is not\n", encoding="utf-8")
    code, out = run(
        db,
        "user",
        "add",
        "--username",
        "nadia",
        "--role",
        "auditor",
        "--language",
        "ar",
        "--password-file",
        str(secret),
        "--actor",
        "root",
    )
    assert code == 0 and "shown once" not in out
    with transaction(db.sessions) as session:
        assert users.check_login(session, "nadia", "first line is the password", source="t").user
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "nadia"))
        assert user is not None and user.language == "ar" and user.role == "auditor"
        assert user.password_hash.startswith("$argon2id$")


def test_add_without_a_file_prints_a_generated_password_once(db: TestDatabase) -> None:
    code, out = run(db, "user", "add", "--username", "sam", "--role", "operator")
    assert code == 0
    password = out.split("password (shown once): ", 1)[1].strip()
    with transaction(db.sessions) as session:
        assert users.check_login(session, "sam", password, source="t").user is not None
        details = session.scalars(select(AuditEvent.detail)).all()
    assert all(password not in d for d in details)


def test_refusals(db: TestDatabase, tmp_path: Path) -> None:
    assert run(db, "user", "add", "--username", "x", "--role", "boss")[0] != 0
    run(db, "user", "add", "--username", "dup", "--role", "finance")
    code, out = run(db, "user", "add", "--username", "dup", "--role", "finance")
    assert code != 0 and "duplicate-user" in out
    short = tmp_path / "short"
    short.write_text("tiny\n", encoding="utf-8")
    code, out = run(
        db, "user", "add", "--username", "y", "--role", "finance", "--password-file", str(short)
    )
    assert code != 0 and "password-too-short" in out
    assert run(db, "user", "disable", "nobody")[0] != 0


def test_disable_and_reset_password(db: TestDatabase, tmp_path: Path) -> None:
    run(db, "user", "add", "--username", "kim", "--role", "supervisor")
    new = tmp_path / "new"
    new.write_text("a brand new password\n", encoding="utf-8")
    assert run(db, "user", "reset-password", "kim", "--password-file", str(new))[0] == 0
    with transaction(db.sessions) as session:
        assert users.check_login(session, "kim", "a brand new password", source="t").user
    assert run(db, "user", "disable", "kim")[0] == 0
    with transaction(db.sessions) as session:
        refused = users.check_login(session, "kim", "a brand new password", source="t")
        assert refused.user is None and refused.refusal == "disabled"
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"console.user_added", "console.password_reset", "console.user_disabled"} <= actions


def test_the_console_refuses_the_soap_port(db: TestDatabase) -> None:
    soap = db.runtime.settings.server.bind
    code, out = run(db, "console", "--bind", soap)
    assert code != 0 and "SOAP gateway's address" in out
