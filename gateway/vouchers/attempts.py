"""The guessing limit: 5 invalid PINs from one terminal within 10 minutes shut its VoucherVend
requests for 10 minutes (RequestAuthorisationEx, code voucher-attempts-exceeded).

Attempts are rows in the database (`voucher_attempt`), so every worker and node counts the same
ones; one row per msgID, so a retry of a refused request is not a second guess. A row holds the
terminal, the time, why the PIN was refused and the serial if the PIN matched a voucher; never
the PIN. Requests refused by the limit itself are not attempts (the lock ends on time).

`screen` judges a PIN before the vend runs, in a short transaction that holds the terminal's
lock (PostgreSQL: an advisory lock on the terminal; SQLite: the write lock every transaction
takes): the count, the PIN's lookup and the new attempt's row happen one terminal request after
another, so guesses sent at the same instant, to one worker or many nodes, are judged in turn
and the sixth finds five. Only that screen is serialised, a few indexed reads; the vend itself
(and a valid PIN's redemption) runs without it, so one platform's terminal still redeems many
vouchers at once. A PIN whose voucher is voided or activated while its request is between the
screen and the vend is refused by the vend and counted after it (`record`), unserialised: that
needs a real PIN, which a guesser does not have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import audit
from core.prepared import PerDialect
from gateway import errors
from gateway.vouchers.models import Voucher, VoucherAttempt, VoucherBatch
from gateway.vouchers.redemption import refusal, unknown

__all__ = ["LIMIT", "LOCKOUT", "WINDOW", "check", "locked_until", "record", "screen"]

LIMIT = 5
WINDOW = timedelta(minutes=10)
LOCKOUT = timedelta(minutes=10)

_attempt = cast(Table, VoucherAttempt.__table__)
_voucher = cast(Table, Voucher.__table__)
_batch = cast(Table, VoucherBatch.__table__)
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


# The PIN's voucher as the screen sees it (no row lock: the vend takes that).
_LOOKUP = (
    select(
        _voucher.c.serial,
        _voucher.c.status,
        _voucher.c.redeemed_at,
        _batch.c.expires_on,
    )
    .join(_batch, _batch.c.id == _voucher.c.batch_id)
    .where(_voucher.c.pin_hash == bindparam("p_hash"))
)
_TERMINAL_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def _lock_key(client_id: str, terminal_id: str) -> int:
    """A signed 64-bit advisory-lock key for one terminal's voucher screen."""
    digest = hashlib.blake2b(
        f"voucher-attempts\x00{client_id}\x00{terminal_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_terminal_pg(session: Session, client_id: str, terminal_id: str) -> None:
    session.execute(_TERMINAL_LOCK, {"k": _lock_key(client_id, terminal_id)})


def _lock_terminal_sqlite(session: Session, client_id: str, terminal_id: str) -> None:
    """Nothing to take: the transaction began IMMEDIATE (core.db), holding the write lock."""


_LOCK_TERMINAL = PerDialect(postgresql=_lock_terminal_pg, sqlite=_lock_terminal_sqlite)


def screen(
    session: Session,
    *,
    client_id: str,
    terminal_id: str,
    msg_date_time: str,
    msg_unique_number: int,
    pin_hash: bytes | None,
    now: datetime,
    today: date,
    tz: ZoneInfo,
) -> errors.VoucherInvalid | None:
    """Judge a PIN under the terminal's lock, in the caller's (short) transaction.

    Raises RequestAuthorisation while the terminal is locked out (nothing written). A PIN that
    fails its check digit (`pin_hash` None), matches no voucher, or matches one that cannot
    redeem (not activated, voided, expired) is counted and audited here and returned, for the
    caller to raise once this transaction has committed. None: the vend decides (a redeemable
    voucher, or one already redeemed: a retry of that redemption replays it)."""
    _LOCK_TERMINAL(session)(session, client_id, terminal_id)
    check(session, client_id, terminal_id, now)
    if pin_hash is None:
        refused = errors.VoucherInvalid(
            "the voucher PIN is not valid (check digit)", code="voucher-check-digit"
        )
    else:
        row = session.execute(_LOOKUP, {"p_hash": pin_hash}).first()
        if row is None:
            refused = unknown()
        else:
            serial, status, redeemed_at, expires_on = row
            found = refusal(serial, status, redeemed_at, expires_on, today, tz)
            if not isinstance(found, errors.VoucherInvalid):
                return None
            refused = found
    record(
        session,
        client_id=client_id,
        terminal_id=terminal_id,
        msg_date_time=msg_date_time,
        msg_unique_number=msg_unique_number,
        at=now,
        reason=refused.code,
        serial=refused.detail.get("serial"),
    )
    return refused
