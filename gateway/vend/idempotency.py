"""(clientID, msgID) identifies a request for ever.

A state-changing request first claims its key by inserting a `VendRequest` row inside the vend's
own transaction. The unique constraint does the rest: a retry that arrives while the first is
still running waits on that insert (PostgreSQL) or on the write lock (SQLite), and afterwards
finds the stored outcome. The same content from the same terminal gets the stored answer back;
other content, or another terminal of the vendor, with the same msgID is a DuplicateMsgIDEx; a
refusal is remembered, so it stays refused for that msgID.

What a retry must match: the operation, the fingerprint of its arguments (`request_hash`) and the
terminal (the row's `terminal_id`). The terminal is compared as its own column rather than hashed
into the fingerprint: every record has carried it since the first migration, so records written
before the terminal was checked are judged by the same rule, and their fingerprints (unchanged)
still match a retry that crosses the deploy. Two terminals of one vendor share the msgID space,
and a second terminal reusing the first one's msgID must never be handed the first one's token.

An advice about an earlier msgID settles that msgID's fate through the same key before it answers
(`settle`): it inserts a tombstone row for it unless one is there. Against a request still in
flight the insert waits for it (PostgreSQL waits on the uncommitted key; SQLite's write lock
serialises), so the advice reads the real outcome; an insert that succeeds proves the request
never arrived, and the tombstone keeps that answer true: a late original is refused.

`run_once` is the one way a state-changing request runs: one transaction that claims the key,
does the work and stores the answer; a retry gets the stored answer (`stored`); a refusal is
remembered in a transaction of its own (`remember_refusal`: the refused work itself was rolled
back, so a refused request changes nothing but that memory).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction, utcnow
from core.prepared import PerDialect, PreparedStatement
from gateway import errors
from gateway.models import Meter
from gateway.vend import refusals
from gateway.vend.models import VendRequest, VendTransaction
from gateway.vend.types import MsgID, RequestHeader


def request_hash(operation: str, **arguments: Any) -> str:
    """A stable fingerprint of what was asked, to tell a retry from a reused msgID."""
    canonical = json.dumps({"op": operation, **arguments}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredOutcome:
    operation: str
    request_hash: str
    outcome: str
    response: dict[str, Any]
    terminal_id: str = ""  # the terminal that sent the request


def find(session: Session, client_id: str, msg_id: MsgID) -> VendRequest | None:
    return session.scalar(
        select(VendRequest).where(
            VendRequest.client_id == client_id,
            VendRequest.msg_date_time == msg_id.date_time,
            VendRequest.msg_unique_number == msg_id.unique_number,
        )
    )


def stored_outcome(row: VendRequest) -> StoredOutcome:
    return StoredOutcome(
        row.operation,
        row.request_hash,
        row.outcome,
        json.loads(row.response_json or "{}"),
        row.terminal_id,
    )


# The operation recorded on a tombstone: an advice declared this msgID not processed.
NOT_PROCESSED = "NotProcessed"
NOT_PROCESSED_CODE = "msg-id-declared-not-processed"

_requests = cast(Table, VendRequest.__table__)
_meters = cast(Table, Meter.__table__)
_CLAIM_COLUMNS = (
    "client_id",
    "msg_date_time",
    "msg_unique_number",
    "terminal_id",
    "operation",
    "request_hash",
    "outcome",
    "response_json",
    "created_at",
)
_new_request = insert(_requests).values(
    {c: bindparam(c, type_=_requests.c[c].type) for c in _CLAIM_COLUMNS}
)
_CLAIM = PreparedStatement("vendgw_claim", _new_request.returning(_requests.c.id))
# A vend's claim also locks its meter's row, so vends for one meter queue behind each other
# instead of pricing from the same figures and failing the TID compare-and-set. It is taken here,
# in the statement that starts the transaction, rather than in the meter lookup: a statement
# reads from the snapshot it started with, so a lookup that waited for the lock would price from
# the month figures and debt as they were before the vend it waited for (PostgreSQL re-reads
# only the locked row itself). The lookup that follows reads after the wait. No round trip more.
# The key is inserted first, so a retry or an advice for this msgID waits for this vend rather
# than finding nothing while it queues for the meter.
_locked_meter = (
    select(_meters.c.id)
    .where(_meters.c.meter_number == bindparam("p_meter"))
    .with_for_update()
    .cte("locked_meter")
)
_CLAIM_LOCKING_METER = PreparedStatement(
    "vendgw_claim_locking_meter",
    _new_request.returning(
        _requests.c.id,
        select(func.count()).select_from(_locked_meter).scalar_subquery(),
    ).add_cte(_locked_meter),
)
# SQLite's transactions already hold the database's write lock: no meter lock to take.
_LOCKS_METER = PerDialect(postgresql=True, sqlite=False)
_transactions = cast(Table, VendTransaction.__table__)
_COMPLETE = (
    update(_requests)
    .where(_requests.c.id == bindparam("p_request"))
    .values(outcome="ok", response_json=bindparam("p_response"))
)
_LINK_ENTRY = (
    update(_transactions)
    .where(_transactions.c.request_id == bindparam("p_request"))
    .values(journal_entry_id=bindparam("p_entry"))
)
# On PostgreSQL one statement: a vend's float row stays locked from its debit to the commit, and
# this is the only statement in between.
_COMPLETE_AND_LINK = PreparedStatement(
    "vendgw_complete_and_link", _COMPLETE.add_cte(_LINK_ENTRY.cte("link"))
)


@dataclass(frozen=True)
class Answer:
    """What a request's work produced: the response to store and, for a vend, the journal
    entry its float debit posted (linked to the request's transaction on completion)."""

    response: dict[str, Any]
    journal_entry_id: int | None = None


def claim(
    session: Session,
    header: RequestHeader,
    operation: str,
    fingerprint: str,
    *,
    refused: dict[str, Any] | None = None,
    meter_number: str | None = None,
) -> int:
    """Insert the request row, pending (or already refused); its id. Raises IntegrityError when
    the key is taken. With `meter_number`, also lock that meter's row until the transaction
    ends (on PostgreSQL; SQLite's transactions already hold the database's write lock)."""
    statement, extra = _CLAIM, {}
    if meter_number is not None and _LOCKS_METER(session):
        statement, extra = _CLAIM_LOCKING_METER, {"p_meter": meter_number}
    return int(
        statement.execute(
            session,
            {
                **extra,
                "client_id": header.client_id,
                "msg_date_time": header.msg_id.date_time,
                "msg_unique_number": header.msg_id.unique_number,
                "terminal_id": header.terminal_id,
                "operation": operation,
                "request_hash": fingerprint,
                "outcome": "pending" if refused is None else "refused",
                "response_json": "" if refused is None else json.dumps(refused),
                "created_at": utcnow(),
            },
        ).scalar_one()
    )


def _tombstone_insert(dialect_insert: Any) -> Any:
    return (
        dialect_insert(_requests)
        .values({c: bindparam(c, type_=_requests.c[c].type) for c in _CLAIM_COLUMNS})
        .on_conflict_do_nothing(
            index_elements=[
                _requests.c.client_id,
                _requests.c.msg_date_time,
                _requests.c.msg_unique_number,
            ]
        )
        .returning(_requests.c.id)
    )


_TOMBSTONE = PerDialect(
    postgresql=_tombstone_insert(postgresql.insert), sqlite=_tombstone_insert(sqlite.insert)
)


def settle(
    session: Session, client_id: str, terminal_id: str, msg_id: MsgID, advice: str
) -> VendRequest | None:
    """Settle the fate of an earlier request before an advice answers about it.

    Returns the request's committed row, having waited for it if it was still in flight; or
    None when it never arrived, after recording in the caller's transaction that it was declared
    not processed. The caller must commit that answer before giving it, and from then on the
    msgID is refused (DuplicateMsgIDEx) should the original turn up late."""
    refusal_body = {
        "type": errors.DuplicateMsgID.fault_type,
        "code": NOT_PROCESSED_CODE,
        "message": f"msgID {msg_id.key} was declared not processed (by a {advice}) before it "
        "arrived; nothing was sold: send the purchase again with a new msgID",
    }
    inserted = session.execute(
        _TOMBSTONE(session),
        {
            "client_id": client_id,
            "msg_date_time": msg_id.date_time,
            "msg_unique_number": msg_id.unique_number,
            "terminal_id": terminal_id,
            "operation": NOT_PROCESSED,
            "request_hash": request_hash(NOT_PROCESSED, advice=advice),
            "outcome": "refused",
            "response_json": json.dumps(refusal_body),
            "created_at": utcnow(),
        },
    ).first()
    if inserted is not None:
        return None
    row = find(session, client_id, msg_id)
    assert row is not None  # the insert found it, committed (a rolled-back one is no conflict)
    return row


def declared_not_processed(row: VendRequest) -> bool:
    return row.operation == NOT_PROCESSED


def complete(session: Session, request_id: int, answer: Answer) -> None:
    """Store the answer with the request (and link a vend's journal entry)."""
    params = {"p_request": request_id, "p_response": json.dumps(answer.response, sort_keys=True)}
    if answer.journal_entry_id is None:
        session.execute(_COMPLETE, params)
    else:
        _COMPLETE_WITH_LINK(session)(session, {**params, "p_entry": answer.journal_entry_id})


def _complete_and_link_in_one(session: Session, params: dict[str, Any]) -> None:
    _COMPLETE_AND_LINK.execute(session, params)


def _link_then_complete(session: Session, params: dict[str, Any]) -> None:
    session.execute(_LINK_ENTRY, params)
    session.execute(_COMPLETE, {k: v for k, v in params.items() if k != "p_entry"})


_COMPLETE_WITH_LINK = PerDialect(postgresql=_complete_and_link_in_one, sqlite=_link_then_complete)


def refusal(error: errors.GatewayError) -> dict[str, Any]:
    return {"type": error.fault_type, "code": error.code, "message": error.message}


def refusal_error(response: dict[str, Any]) -> errors.GatewayError:
    """Rebuild a remembered refusal as the same error type."""
    by_type = {cls.fault_type: cls for cls in errors.FAULT_TYPES}
    cls = by_type.get(response.get("type", ""), errors.SystemError_)
    return cls(response.get("message", "refused"), code=response.get("code"))


def check_same_request(
    outcome: StoredOutcome, operation: str, fingerprint: str, msg_id: MsgID, terminal_id: str
) -> None:
    """Refuse (DuplicateMsgIDEx) unless this is a retry: the same operation, arguments and
    terminal as the stored request."""
    if outcome.operation == NOT_PROCESSED:
        raise refusal_error(outcome.response)  # an advice said it never arrived: it stays so
    if (
        outcome.operation != operation
        or outcome.request_hash != fingerprint
        or outcome.terminal_id != terminal_id
    ):
        raise errors.DuplicateMsgID(
            f"msgID {msg_id.key} was already used for another request", msg_id=msg_id.key
        )


MAX_RACE_RETRIES = 8


class Retry(Exception):
    """The work lost a race it guards against (a meter moved meanwhile): run it again."""


def run_once(
    sessions: sessionmaker[Session],
    header: RequestHeader,
    operation: str,
    fingerprint: str,
    work: Callable[[Session, int], Answer],
    *,
    meter_number: str | None = None,
) -> dict[str, Any]:
    """Run `work` exactly once for this (clientID, msgID); answer retries from the record.
    With `meter_number`, the claim locks that meter, so requests for one meter queue."""
    for _ in range(MAX_RACE_RETRIES):
        try:
            # Claim first: a new request (the common case) costs no extra read, and a retry
            # finds the key taken and reads the stored outcome below.
            with refusals.translated(), transaction(sessions) as session:
                request_id = claim(
                    session, header, operation, fingerprint, meter_number=meter_number
                )
                answer = work(session, request_id)
                complete(session, request_id, answer)
            return answer.response
        except IntegrityError:
            remembered = stored(sessions, header, operation, fingerprint)
            if remembered is not None:
                return remembered
            continue  # the other claim was rolled back meanwhile: try again
        except Retry:
            # Kept as a guard: vends queue on the meter's lock, but something outside the
            # vend path (an import, a key change) may still move the meter meanwhile.
            continue
        except errors.GatewayError as refused:
            if refused.client_fault:
                remember_refusal(sessions, header, operation, fingerprint, refused)
            raise
    raise errors.SystemError_(
        "the request could not be completed; retry with the same msgID", code="contention"
    )


def stored(
    sessions: sessionmaker[Session], header: RequestHeader, operation: str, fingerprint: str
) -> dict[str, Any] | None:
    """The stored answer to this request (raising its remembered refusal), or None while it
    is pending or gone."""
    with sessions() as session:
        row = find(session, header.client_id, header.msg_id)
        if row is None or row.outcome == "pending":
            return None
        outcome = stored_outcome(row)
    check_same_request(outcome, operation, fingerprint, header.msg_id, header.terminal_id)
    if outcome.outcome == "refused":
        raise refusal_error(outcome.response)
    return outcome.response


def remember_refusal(
    sessions: sessionmaker[Session],
    header: RequestHeader,
    operation: str,
    fingerprint: str,
    refused: errors.GatewayError,
) -> None:
    try:
        with transaction(sessions) as session:
            claim(session, header, operation, fingerprint, refused=refusal(refused))
    except IntegrityError:
        pass  # a concurrent request with this msgID was recorded first; it stands
