"""Recording audit events: one call, in the caller's transaction, so the audit and the act commit
together.

Text that came from a client (a claimed terminalID in a failed login, say) may hold anything, so
the actor, the subject and a reason are stored with control and line-breaking characters escaped
(`escape_control`): a newline in a terminalID cannot forge an audit line in a report or an export.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AuditEvent

_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Cc: C0, DEL and C1 controls; Cf: format characters (bidi overrides that reorder what a reader
# sees); Zl/Zp: the Unicode line and paragraph separators; Cs: lone surrogates (bytes that were
# not UTF-8, decoded with surrogateescape), which no database column could hold.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape_char(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    if unicodedata.category(char) in _ESCAPED_CATEGORIES:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def escape_control(text: str) -> str:
    """`text` with every control, format and line-breaking character written as a backslash
    escape (repr style: \\n, \\x00, \\u2028), and backslashes doubled so the escape is
    unambiguous; printable text, non-ASCII letters included, is unchanged."""
    if text.isprintable() and "\\" not in text:
        return text  # the usual case, without a per-character walk
    return "".join(_escape_char(c) for c in text)


def record(session: Session, actor: str, action: str, subject: str = "", **detail: Any) -> None:
    """Add an audit event to the session; detail must never carry a secret."""
    if isinstance(detail.get("reason"), str):
        detail["reason"] = escape_control(detail["reason"])
    session.add(
        AuditEvent(
            actor=escape_control(actor)[:100],
            action=action,
            subject=escape_control(subject)[:200],
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )


def search(
    session: Session,
    *,
    actor: str = "",
    action: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events, newest first: `actor` and `action` match a prefix (so "console:" is every
    console user, "vendor." every vendor action), [start, end) bounds the time, `before_id`
    pages back from an event."""
    query = select(AuditEvent)
    if actor:
        query = query.where(AuditEvent.actor.startswith(actor, autoescape=True))
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


def actions(session: Session) -> list[str]:
    """Every action name recorded so far (for a filter's choices)."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
