"""The guessing limit: 5 invalid PINs from one terminal within 10 minutes shut its VoucherVend
requests for 10 minutes (RequestAuthorisationEx, code voucher-attempts-exceeded).

Attempts are rows in the database (`voucher_attempt`), so every worker and node counts the same
ones; one row per msgID, so a retry of a refused request is not a second guess. A row holds the
terminal, the time, why the PIN was refused and the serial if the PIN matched a voucher; never
the PIN. Requests refused by the limit itself are not attempts (the lock ends on time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import audit
from core.prepared import PerDialect
from gateway import errors
from gateway.vouchers.models import VoucherAttempt

__all__ = ["LIMIT", "LOCKOUT", "WINDOW", "check", "locked_until", "record"]

LIMIT = 5
WINDOW = timedelta(minutes=10)
LOCKOUT = timedelta(minutes=10)

_attempt = cast(Table, VoucherAttempt.__table__)
_RECENT = (
    select(_attempt.c.at)
    .where(
        _attempt.c.client_id == bindparam("p_client"),
        _attempt.c.terminal_id == bindparam("p_terminal"),
        _attempt.c.at > bindparam("p_since"),
    )
    .order_by(_attempt.c.at)
)


def locked_until(
    attempts: Sequence[datetime],
    *,
    limit: int = LIMIT,
    window: timedelta = WINDOW,
    lockout: timedelta = LOCKOUT,
) -> datetime | None:
    """When the latest lockout these attempts (in time order) earned ends, or None (pure).

    A lockout starts at the attempt that is the `limit`-th within `window`."""
    until = None
    for i in range(limit - 1, len(attempts)):
        if attempts[i] - attempts[i - limit + 1] <= window:
            until = attempts[i] + lockout
    return until


def check(session: Session | Connection, client_id: str, terminal_id: str, now: datetime) -> None:
    """Refuse the terminal's voucher requests while it is locked out."""
    ats = list(
        session.execute(
            _RECENT,
            {"p_client": client_id, "p_terminal": terminal_id, "p_since": now - WINDOW - LOCKOUT},
        ).scalars()
    )
    until = locked_until(ats)
    if until is not None and now < until:
        raise errors.RequestAuthorisation(
            f"too many invalid voucher PINs from terminal {terminal_id}: voucher requests are "
            f"refused until {until:%H:%M:%S} UTC",
            code="voucher-attempts-exceeded",
        )


def _insert_once(dialect_insert: Any) -> Any:
    return dialect_insert(_attempt).on_conflict_do_nothing(
        index_elements=[
            _attempt.c.client_id,
            _attempt.c.msg_date_time,
            _attempt.c.msg_unique_number,
        ]
    )


_INSERT_ONCE = PerDialect(
    postgresql=_insert_once(postgresql.insert), sqlite=_insert_once(sqlite.insert)
)


def record(
    session: Session,
    *,
    client_id: str,
    terminal_id: str,
    msg_date_time: str,
    msg_unique_number: int,
    at: datetime,
    reason: str,
    serial: int | None,
) -> None:
    """Count one invalid PIN (once per msgID) and audit it, in the caller's transaction."""
    inserted = session.execute(
        _INSERT_ONCE(session).returning(_attempt.c.id),
        {
            "client_id": client_id,
            "terminal_id": terminal_id,
            "msg_date_time": msg_date_time,
            "msg_unique_number": msg_unique_number,
            "at": at,
            "reason": reason[:30],
            "serial": serial,
        },
    ).first()
    if inserted is not None:
        audit.record(
            session,
            f"{client_id}/{terminal_id}",
            "voucher.invalid_attempt",
            "" if serial is None else f"{serial:012d}",
            reason=reason,
            msg_id=f"{msg_date_time}{msg_unique_number}",
        )
