"""The guessing limit: 5 invalid PINs from one terminal within 10 minutes shut its VoucherVend
requests for 10 minutes (RequestAuthorisationEx, code voucher-attempts-exceeded).

Attempts are rows in the database (`voucher_attempt`), so every worker and node counts the same
ones; one row per msgID, so a retry of a refused request is not a second guess. A row holds the
terminal, the time, why the PIN was refused and the serial if the PIN matched a voucher; never
the PIN. Requests refused by the limit itself are not attempts (the lock ends on time).

Requests of one terminal that arrive at the same instant must not all be judged against the
same count, or a burst of guesses would get past the limit. Each terminal has a lock (on
PostgreSQL an advisory lock keyed by the terminal, held to the end of the transaction; SQLite's
write lock, which every transaction takes, serialises everything anyway):

* the vend takes it *shared* (`hold_shared`) before it reads the count and looks the PIN up, so
  a terminal's valid redemptions still run side by side;
* a PIN the vend found invalid is not answered there (`Unjudged`, so its refusal is not
  remembered by the vend): it is judged again by `screen`, which takes the lock *exclusively*,
  reads the count, looks the PIN up and writes the attempt, one terminal request after another.

So every answer a PIN gets is given after the count it was judged against: a sixth guess finds
five, and a valid PIN redeemed while five are being written is ordered before them. A PIN
failing its check digit goes to the screen directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from core import audit
from core.prepared import PerDialect, PreparedStatement
from gateway import errors
from gateway.vouchers.models import Voucher, VoucherAttempt, VoucherBatch
from gateway.vouchers.verdicts import refusal, unknown

__all__ = [
    "LIMIT",
    "LOCKOUT",
    "LOOKBACK",
    "RECENT",
    "RECENT_ARRAY",
    "WINDOW",
    "Unjudged",
    "check",
    "hold_shared",
    "locked_until",
    "recent_params",
    "record",
    "refuse_if_locked_out",
    "screen",
]

LIMIT = 5
WINDOW = timedelta(minutes=10)
LOCKOUT = timedelta(minutes=10)
# How far back the attempts that can still lock a terminal out go.
LOOKBACK = WINDOW + LOCKOUT

_attempt = cast(Table, VoucherAttempt.__table__)
_voucher = cast(Table, Voucher.__table__)
_batch = cast(Table, VoucherBatch.__table__)
_recent_where = (
    _attempt.c.client_id == bindparam("p_client"),
    _attempt.c.terminal_id == bindparam("p_terminal"),
    _attempt.c.at > bindparam("p_since"),
)
RECENT = select(_attempt.c.at).where(*_recent_where).order_by(_attempt.c.at)
# The same times as one array, for a statement that reads them beside something else
# (PostgreSQL: the vend's voucher lookup).
RECENT_ARRAY = (
    select(func.array_agg(aggregate_order_by(_attempt.c.at, _attempt.c.at)))
    .where(*_recent_where)
    .scalar_subquery()
)


class Unjudged(Exception):
    """A PIN the vend found invalid: not an answer yet. `screen` judges it again under the
    terminal's exclusive lock and counts it. Not a GatewayError, so the vend's idempotency
    does not remember it as the request's refusal."""

    def __init__(self, refused: errors.VoucherInvalid) -> None:
        super().__init__(refused.message)
        self.refused = refused


def recent_params(client_id: str, terminal_id: str, now: datetime) -> dict[str, Any]:
    """The parameters of RECENT and RECENT_ARRAY: the terminal's attempts that can still count."""
    return {"p_client": client_id, "p_terminal": terminal_id, "p_since": now - LOOKBACK}


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


def refuse_if_locked_out(ats: Sequence[datetime] | None, terminal_id: str, now: datetime) -> None:
    """Raise RequestAuthorisation while these attempts (in time order) lock the terminal out."""
    until = locked_until(list(ats or ()))
    if until is not None and now < until:
        raise errors.RequestAuthorisation(
            f"too many invalid voucher PINs from terminal {terminal_id}: voucher requests are "
            f"refused until {until:%H:%M:%S} UTC",
            code="voucher-attempts-exceeded",
        )


def check(session: Session | Connection, client_id: str, terminal_id: str, now: datetime) -> None:
    """Refuse the terminal's voucher requests while it is locked out."""
    ats = session.execute(RECENT, recent_params(client_id, terminal_id, now)).scalars().all()
    refuse_if_locked_out(ats, terminal_id, now)


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
_key = bindparam("p_key", type_=BigInteger)
_LOCK_SHARED = PreparedStatement(
    "vendgw_voucher_terminal_shared", select(func.pg_advisory_xact_lock_shared(_key))
)
_LOCK_EXCLUSIVE = PreparedStatement(
    "vendgw_voucher_terminal_exclusive", select(func.pg_advisory_xact_lock(_key))
)


def _lock_key(client_id: str, terminal_id: str) -> int:
    """A signed 64-bit advisory-lock key for one terminal's voucher requests."""
    digest = hashlib.blake2b(
        f"voucher-attempts\x00{client_id}\x00{terminal_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _on_postgresql(lock: PreparedStatement) -> Callable[[Session, str, str], None]:
    def take(session: Session, client_id: str, terminal_id: str) -> None:
        lock.execute(session, {"p_key": _lock_key(client_id, terminal_id)})

    return take


def _on_sqlite(session: Session, client_id: str, terminal_id: str) -> None:
    """Nothing to take: the transaction began IMMEDIATE (core.db), holding the write lock."""


_SHARED = PerDialect(postgresql=_on_postgresql(_LOCK_SHARED), sqlite=_on_sqlite)
_EXCLUSIVE = PerDialect(postgresql=_on_postgresql(_LOCK_EXCLUSIVE), sqlite=_on_sqlite)


def hold_shared(session: Session, client_id: str, terminal_id: str) -> None:
    """Take the terminal's lock shared, to the end of the vend's transaction (before the vend
    reads the count and looks the PIN up)."""
    _SHARED(session)(session, client_id, terminal_id)


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
    """Judge a PIN under the terminal's exclusive lock, in the caller's (short) transaction.

    Raises RequestAuthorisation while the terminal is locked out (nothing written). A PIN that
    fails its check digit (`pin_hash` None), matches no voucher, or matches one that cannot
    redeem (not activated, voided, expired) is counted and audited here and returned, for the
    caller to raise once this transaction has committed. None: the PIN redeems, or was
    redeemed (the voucher changed since the vend looked): the vend decides."""
    _EXCLUSIVE(session)(session, client_id, terminal_id)
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
