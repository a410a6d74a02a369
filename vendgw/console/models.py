"""The console's tables: its users and their server-side sessions.

A session row is what the browser's cookie points at: the cookie holds a random token and the
table only its SHA-256, so a copy of the database lets no one ride a live session. Logins are
counted on the user's row, so every worker and node sees the same lockout.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime, utcnow

ROLES = ("admin", "finance", "supervisor", "operator", "auditor")
LANGUAGES = ("en", "fr", "ar")
USER_STATUSES = ("active", "disabled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class ConsoleUser(Base):
    """A person who logs in to the console, with one role and one language."""

    __tablename__ = "console_user"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role_known"),
        CheckConstraint(_in("language", LANGUAGES), name="language_known"),
        CheckConstraint(_in("status", USER_STATUSES), name="status_known"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    language: Mapped[str] = mapped_column(String(2), default="en")
    status: Mapped[str] = mapped_column(String(10), default="active")
    password_hash: Mapped[str] = mapped_column(String(200))
    # Failed logins since the last success or lock; at 5 the account locks until locked_until.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The TOTP secret, wrapped under a key derived from the master key (never stored in clear);
    # totp_enrolled_at is set once the user has proved a code from it.
    totp_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last TOTP time step accepted: a code is good once.
    totp_last_step: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # hashes and secrets stay out of logs and tracebacks
        return f"ConsoleUser(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class ConsoleSession(Base):
    """One browser's session: anonymous (a login form's CSRF token) or a logged-in user's.

    It ends after 30 idle minutes (`last_seen_at`), at logout, or when its user is disabled."""

    __tablename__ = "console_session"
    __table_args__ = (Index("ix_console_session_last_seen_at", "last_seen_at"),)

    # SHA-256 (hex) of the cookie's token.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_user.id"), nullable=True)
    # The session's own values as JSON: CSRF token, language, whether the second factor passed.
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
