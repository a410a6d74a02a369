"""(clientID, msgID) identifies a request for ever.

A state-changing request first claims its key by inserting a `VendRequest` row inside the vend's
own transaction. The unique constraint does the rest: a retry that arrives while the first is
still running waits on that insert (PostgreSQL) or on the write lock (SQLite), and afterwards
finds the stored outcome. The same content gets the stored answer back; other content with the
same msgID is a DuplicateMsgIDEx; a refusal is remembered, so it stays refused for that msgID.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from gateway import errors
from gateway.db import utcnow
from gateway.prepared import PreparedStatement
from gateway.vend_models import VendRequest, VendTransaction
from gateway.vend_types import MsgID, RequestHeader


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


def find(session: Session, client_id: str, msg_id: MsgID) -> VendRequest | None:
    return session.scalar(
        select(VendRequest).where(
            VendRequest.client_id == client_id,
            VendRequest.msg_date_time == msg_id.date_time,
            VendRequest.msg_unique_number == msg_id.unique_number,
        )
    )


def stored_outcome(row: VendRequest) -> StoredOutcome:
    return StoredOutcome(row.operation, row.request_hash, row.outcome,
                         json.loads(row.response_json or "{}"))


_requests = cast(Table, VendRequest.__table__)
_CLAIM = PreparedStatement("vendgw_claim", insert(_requests).values({
    c: bindparam(c, type_=_requests.c[c].type)
    for c in ("client_id", "msg_date_time", "msg_unique_number", "terminal_id", "operation",
              "request_hash", "outcome", "response_json", "created_at")
}).returning(_requests.c.id))
_transactions = cast(Table, VendTransaction.__table__)
_COMPLETE = (update(_requests).where(_requests.c.id == bindparam("p_request"))
             .values(outcome="ok", response_json=bindparam("p_response")))
_LINK_ENTRY = (update(_transactions).where(_transactions.c.request_id == bindparam("p_request"))
               .values(journal_entry_id=bindparam("p_entry")))
# On PostgreSQL one statement: a vend's float row stays locked from its debit to the commit, and
# this is the only statement in between.
_COMPLETE_AND_LINK = PreparedStatement("vendgw_complete_and_link",
                                       _COMPLETE.add_cte(_LINK_ENTRY.cte("link")))


@dataclass(frozen=True)
class Answer:
    """What a request's work produced: the response to store and, for a vend, the journal
    entry its float debit posted (linked to the request's transaction on completion)."""

    response: dict[str, Any]
    journal_entry_id: int | None = None


def claim(session: Session, header: RequestHeader, operation: str, fingerprint: str, *,
          refused: dict[str, Any] | None = None) -> int:
    """Insert the request row, pending (or already refused); its id. Raises IntegrityError when
    the key is taken."""
    return int(_CLAIM.execute(session, {
        "client_id": header.client_id,
        "msg_date_time": header.msg_id.date_time,
        "msg_unique_number": header.msg_id.unique_number,
        "terminal_id": header.terminal_id,
        "operation": operation,
        "request_hash": fingerprint,
        "outcome": "pending" if refused is None else "refused",
        "response_json": "" if refused is None else json.dumps(refused),
        "created_at": utcnow(),
    }).scalar_one())


def complete(session: Session, request_id: int, answer: Answer) -> None:
    """Store the answer with the request (and link a vend's journal entry)."""
    params = {"p_request": request_id,
              "p_response": json.dumps(answer.response, sort_keys=True)}
    if answer.journal_entry_id is None:
        session.execute(_COMPLETE, params)
    elif session.get_bind().dialect.name == "postgresql":
        _COMPLETE_AND_LINK.execute(session, {**params, "p_entry": answer.journal_entry_id})
    else:
        session.execute(_LINK_ENTRY, {**params, "p_entry": answer.journal_entry_id})
        session.execute(_COMPLETE, params)


def refusal(error: errors.GatewayError) -> dict[str, Any]:
    return {"type": error.fault_type, "code": error.code, "message": error.message}


def refusal_error(response: dict[str, Any]) -> errors.GatewayError:
    """Rebuild a remembered refusal as the same error type."""
    by_type = {cls.fault_type: cls for cls in errors.FAULT_TYPES}
    cls = by_type.get(response.get("type", ""), errors.SystemError_)
    return cls(response.get("message", "refused"), code=response.get("code"))


def check_same_request(outcome: StoredOutcome, operation: str, fingerprint: str,
                       msg_id: MsgID) -> None:
    if outcome.operation != operation or outcome.request_hash != fingerprint:
        raise errors.DuplicateMsgID(
            f"msgID {msg_id.key} was already used for another request", msg_id=msg_id.key
        )
