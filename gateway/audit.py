"""Recording audit events: one call, in the caller's transaction, so the audit and the act commit
together."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import AuditEvent


def record(session: Session, actor: str, action: str, subject: str = "", **detail: Any) -> None:
    """Add an audit event to the session; detail must never carry a secret."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            subject=subject,
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )
