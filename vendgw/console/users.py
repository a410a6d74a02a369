"""The console's users: adding, disabling, passwords (argon2), the login lockout and TOTP.

Lockout: five wrong passwords in a row lock the account for 15 minutes, counted on the user's
row in the database so every worker and node agrees. While it is locked even the right password
is refused, and the refusal says no more than a wrong password would.

TOTP (RFC 6238, pyotp): the secret is wrapped with AES-256-GCM under a key derived from the
master key, so the database alone gives no second factor; an accepted time step is remembered,
so one code logs in once.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from vendgw.console.models import LANGUAGES, ROLES, ConsoleSession, ConsoleUser

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
# Roles whose second factor is required once they have enrolled one.
SECOND_FACTOR_ROLES = frozenset({"admin", "finance"})
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so timing does not tell who exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
_TOTP_INFO = b"vendgw console totp-secret wrap v1"


class UserError(ValueError):
    """A refused user operation, with a code (kebab-case) and a message for the operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a password check: `user` when it passed, else why it did not."""

    user: ConsoleUser | None
    refusal: str = ""  # "wrong", "locked", "disabled"


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            "password-too-short", f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"unknown-{field}", f"{field} must be one of {', '.join(allowed)}")
    return value


def get_user(session: Session, username: str) -> ConsoleUser:
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        raise UserError("unknown-user", f"no console user {username!r}")
    return user


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    *,
    language: str = "en",
    actor: str,
) -> ConsoleUser:
    username = username.strip()
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise UserError("bad-username", "a username is 1 to 64 printable characters, no spaces")
    _choice("role", role, ROLES)
    _choice("language", language, LANGUAGES)
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)):
        raise UserError("duplicate-user", f"console user {username!r} already exists")
    user = ConsoleUser(
        username=username,
        role=role,
        language=language,
        password_hash=_hasher.hash(_check_password(password)),
        failed_logins=0,
        status="active",
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "console.user_added", username, role=role, language=language)
    return user


def end_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


def disable_user(session: Session, username: str, *, actor: str) -> ConsoleUser:
    user = get_user(session, username)
    user.status = "disabled"
    user.updated_at = utcnow()
    end_sessions(session, user.id)
    audit.record(session, actor, "console.user_disabled", username)
    return user


def reset_password(session: Session, username: str, password: str, *, actor: str) -> ConsoleUser:
    """A new password; the lock and failed count are cleared and every session ends."""
    user = get_user(session, username)
    user.password_hash = _hasher.hash(_check_password(password))
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = utcnow()
    end_sessions(session, user.id)
    audit.record(session, actor, "console.password_reset", username)
    return user


def set_language(session: Session, user: ConsoleUser, language: str) -> None:
    user.language = _choice("language", language, LANGUAGES)
    user.updated_at = utcnow()
    audit.record(session, user.username, "console.language_changed", user.username, to=language)


def check_login(
    session: Session, username: str, password: str, *, source: str, now: datetime | None = None
) -> LoginResult:
    """Check a password, counting failures on the user's row (which this locks: concurrent
    guesses are counted one by one). The caller commits, success or not."""
    now = now or utcnow()
    user = session.scalar(
        select(ConsoleUser).where(ConsoleUser.username == username).with_for_update()
    )
    if user is None:
        _verify(_DUMMY_HASH, password)
        audit.record(session, username, "console.login_failed", username, source=source)
        return LoginResult(None, "wrong")
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, username, "console.login_locked", username, source=source)
        return LoginResult(None, "locked")
    if not _verify(user.password_hash, password):
        if user.locked_until is not None:  # a lock that has run out starts a fresh count
            user.locked_until = None
            user.failed_logins = 0
        user.failed_logins += 1
        detail = {"source": source, "failures": user.failed_logins}
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
            audit.record(session, username, "console.account_locked", username, **detail)
        else:
            audit.record(session, username, "console.login_failed", username, **detail)
        return LoginResult(None, "wrong")
    if user.status != "active":
        audit.record(session, username, "console.login_disabled", username, source=source)
        return LoginResult(None, "disabled")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, username, "console.login", username, source=source)
    return LoginResult(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- TOTP ----------------------------------------------------------------------------------


def _wrap_key(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOTP_INFO).derive(
        bytes(master_key)
    )


def _wrap(secret: str, master_key: bytes, username: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_wrap_key(master_key)).encrypt(nonce, secret.encode(), username.encode())
    return "v1$" + base64.b64encode(nonce + sealed).decode()


def _unwrap(wrapped: str, master_key: bytes, username: str) -> str:
    raw = base64.b64decode(wrapped.removeprefix("v1$"))
    return AESGCM(_wrap_key(master_key)).decrypt(raw[:12], raw[12:], username.encode()).decode()


def second_factor_required(user: ConsoleUser) -> bool:
    """Once a user has enrolled a second factor it is asked at every login; for admin and finance
    the console also keeps asking them to enrol until they do."""
    return user.totp_enrolled_at is not None


def start_enrolment(session: Session, user: ConsoleUser, master_key: bytes) -> str:
    """A fresh secret for the user to add to an authenticator; not in force until confirmed."""
    secret = pyotp.random_base32()
    user.totp_secret = _wrap(secret, master_key, user.username)
    user.totp_enrolled_at = None
    user.totp_last_step = None
    return secret


def pending_secret(user: ConsoleUser, master_key: bytes) -> str | None:
    if user.totp_secret is None:
        return None
    return _unwrap(user.totp_secret, master_key, user.username)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="vendgw console")


def _accept_code(user: ConsoleUser, code: str, master_key: bytes, now: datetime) -> bool:
    secret = pending_secret(user, master_key)
    code = code.strip().replace(" ", "")
    if secret is None or not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(secret)
    step_now = totp.timecode(now)
    for step in (step_now - 1, step_now, step_now + 1):  # one step of clock drift either way
        if secrets.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # a code already used
            user.totp_last_step = step
            return True
    return False


def confirm_enrolment(
    session: Session, user: ConsoleUser, code: str, master_key: bytes, now: datetime | None = None
) -> bool:
    now = now or utcnow()
    if not _accept_code(user, code, master_key, now):
        audit.record(session, user.username, "console.totp_enrolment_failed", user.username)
        return False
    user.totp_enrolled_at = now
    audit.record(session, user.username, "console.totp_enrolled", user.username)
    return True


def check_second_factor(
    session: Session, user: ConsoleUser, code: str, master_key: bytes, now: datetime | None = None
) -> bool:
    """A wrong code counts as a failed login (the same lockout)."""
    now = now or utcnow()
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, user.username, "console.login_locked", user.username)
        return False
    if _accept_code(user, code, master_key, now):
        user.failed_logins = 0
        audit.record(session, user.username, "console.second_factor", user.username)
        return True
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0
        audit.record(session, user.username, "console.account_locked", user.username)
    else:
        audit.record(session, user.username, "console.second_factor_failed", user.username)
    return False
