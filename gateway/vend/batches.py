"""Banking, sales and shift batches: a terminal's transactions counted between two instants.

A terminal opens a batch (StartBatch), sells, and closes it (EndBatch), which answers the
totals by transaction type, operator and pay type: the shift report an attended vending site
prints. TotalBatch shows the open batch's totals so far; ReprintEndBatch a closed batch's again.

Nothing is written into a batch on the vend path: a transaction counts in the batch of its
terminal that was open when it was made (its created_at in [opened_at, closed_at)), and a
reversal in the one open when it was reversed. So a vend costs no extra statement, and the
totals of a closed batch are the same every time they are counted (reprints recount). A vend
still in flight when its shift closes (its created_at taken before the close, its commit after)
is missing from the end report and present in a reprint; the close is a moment the operator
chooses when the till is quiet, so this is left as is.

`batch_status` is one read of the partial unique index on the open batches (one open batch of
each kind per terminal): every vend response carries the terminal's batch status.

StartBatch and EndBatch change state and run through `idempotency.run_once` like a vend: a retry
with the same msgID gets the same answer, a refusal is remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import errors
from gateway.vend import idempotency
from gateway.vend.models import VendBatch, VendTransaction
from gateway.vend.types import (
    BATCH_KINDS,
    BatchInfo,
    BatchLine,
    BatchReport,
    BatchStatus,
    Principal,
    RequestHeader,
)

_batch = cast(Table, VendBatch.__table__)
_tx = cast(Table, VendTransaction.__table__)

# The stored transaction kinds as batch reports name them.
TX_TYPES = {
    "credit": "credit_vend",
    "fbe": "fbe",
    "engineering": "engineering",
    "payment": "payment",
}


def check_kind(kind: str) -> str:
    if kind not in BATCH_KINDS:
        raise errors.SchemaError(
            f"batch kind must be one of {', '.join(BATCH_KINDS)}", code="batch-kind", value=kind
        )
    return kind


def batch_no(batch_id: int) -> str:
    return f"{batch_id:08d}"


def _batch_id(number: str) -> int:
    if not (isinstance(number, str) and number.isdigit() and 0 < len(number) <= 18):
        raise errors.ReprintEndBatch(f"no batch {number!r}", code="unknown-batch")
    return int(number)


def _terminal(who: Principal) -> Any:
    return (_batch.c.client_id == who.client_id) & (_batch.c.terminal_id == who.terminal_id)


_OPEN_BATCHES = select(_batch.c.kind, _batch.c.id)


def batch_status(session: Session, who: Principal) -> BatchStatus:
    """The terminal's open batches: one read on the open-batch index."""
    rows = session.execute(_OPEN_BATCHES.where(_terminal(who), _batch.c.closed_at.is_(None))).all()
    return BatchStatus(**{kind: batch_no(batch_id) for kind, batch_id in rows})


def _open_batch(session: Session, who: Principal, kind: str, *, lock: bool) -> Any:
    query = select(_batch).where(
        _terminal(who), _batch.c.kind == kind, _batch.c.closed_at.is_(None)
    )
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def _within(column: Any, start: datetime, end: datetime | None) -> list[Any]:
    return [column >= start] if end is None else [column >= start, column < end]


def totals(
    session: Session, who: Principal, opened_at: datetime, closed_at: datetime | None
) -> tuple[BatchLine, ...]:
    """The terminal's transactions made in [opened_at, closed_at), by type, operator and pay
    type, then its reversals made in that window (negative amounts). An open batch (closed_at
    None) counts everything since it opened."""
    mine = (
        (_tx.c.vendor_id == who.vendor_id)
        & (_tx.c.client_id == who.client_id)
        & (_tx.c.terminal_id == who.terminal_id)
    )
    made = session.execute(
        select(
            _tx.c.kind,
            _tx.c.operator,
            _tx.c.pay_type,
            func.count(),
            func.coalesce(func.sum(_tx.c.tender_cents), 0),
        )
        .where(mine, *_within(_tx.c.created_at, opened_at, closed_at))
        .group_by(_tx.c.kind, _tx.c.operator, _tx.c.pay_type)
    ).all()
    reversed_ = session.execute(
        select(
            _tx.c.operator,
            _tx.c.pay_type,
            func.count(),
            func.coalesce(func.sum(_tx.c.tender_cents), 0),
        )
        .where(
            mine,
            _tx.c.status == "reversed",
            *_within(_tx.c.reversed_at, opened_at, closed_at),
        )
        .group_by(_tx.c.operator, _tx.c.pay_type)
    ).all()
    lines = [
        BatchLine(TX_TYPES.get(kind, kind), operator, pay_type, int(n), int(amount))
        for kind, operator, pay_type, n, amount in made
    ]
    lines += [
        BatchLine("reversal", operator, pay_type, int(n), -int(amount))
        for operator, pay_type, n, amount in reversed_
    ]
    return tuple(sorted(lines, key=lambda line: (line.tx_type, line.operator, line.pay_type)))


def report(session: Session, who: Principal, row: Any) -> BatchReport:
    lines = totals(session, who, row.opened_at, row.closed_at)
    return BatchReport(
        kind=row.kind,
        batch_no=batch_no(row.id),
        terminal_id=row.terminal_id,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        totals=lines,
        count=sum(line.count for line in lines),
        amount_cents=sum(line.amount_cents for line in lines),
    )


# -- to and from the stored answer (what a retried StartBatch / EndBatch gets back) ----------


def _info_json(info: BatchInfo) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "batch_no": info.batch_no,
        "terminal_id": info.terminal_id,
        "opened_at": info.opened_at.isoformat(),
    }


def _info_from_json(body: dict[str, Any]) -> BatchInfo:
    return BatchInfo(
        body["kind"],
        body["batch_no"],
        body["terminal_id"],
        datetime.fromisoformat(body["opened_at"]),
    )


def _report_json(r: BatchReport) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "batch_no": r.batch_no,
        "terminal_id": r.terminal_id,
        "opened_at": r.opened_at.isoformat(),
        "closed_at": None if r.closed_at is None else r.closed_at.isoformat(),
        "totals": [line.__dict__ for line in r.totals],
        "count": r.count,
        "amount_cents": r.amount_cents,
    }


def _report_from_json(body: dict[str, Any]) -> BatchReport:
    closed = body["closed_at"]
    return BatchReport(
        kind=body["kind"],
        batch_no=body["batch_no"],
        terminal_id=body["terminal_id"],
        opened_at=datetime.fromisoformat(body["opened_at"]),
        closed_at=None if closed is None else datetime.fromisoformat(closed),
        totals=tuple(BatchLine(**line) for line in body["totals"]),
        count=body["count"],
        amount_cents=body["amount_cents"],
    )


# -- the operations -----------------------------------------------------------------------


def start_batch(
    sessions: sessionmaker[Session],
    who: Principal,
    header: RequestHeader,
    kind: str,
    clock: Callable[[], datetime],
) -> BatchInfo:
    """Open a batch of `kind` on the terminal; StartBatchEx when one is open already."""
    check_kind(kind)

    def work(session: Session, request_id: int) -> idempotency.Answer:
        if _open_batch(session, who, kind, lock=False) is not None:
            raise errors.StartBatch(
                f"a {kind} batch is already open on terminal {who.terminal_id}",
                code="batch-already-open",
            )
        now = clock()
        # A second StartBatch racing this one fails on the open-batch unique index and, in
        # run_once's retry, finds this batch open.
        new_id = session.execute(
            insert(_batch)
            .values(
                vendor_id=who.vendor_id,
                client_id=who.client_id,
                terminal_id=who.terminal_id,
                kind=kind,
                opened_at=now,
                opened_by=header.operator,
                closed_by="",
            )
            .returning(_batch.c.id)
        ).scalar_one()
        return idempotency.Answer(
            _info_json(BatchInfo(kind, batch_no(new_id), who.terminal_id, now))
        )

    fingerprint = idempotency.request_hash("StartBatch", kind=kind)
    return _info_from_json(idempotency.run_once(sessions, header, "StartBatch", fingerprint, work))


def end_batch(
    sessions: sessionmaker[Session],
    who: Principal,
    header: RequestHeader,
    kind: str,
    clock: Callable[[], datetime],
) -> BatchReport:
    """Close the terminal's open batch of `kind` and answer its totals; EndBatchEx when none
    is open."""
    check_kind(kind)

    def work(session: Session, request_id: int) -> idempotency.Answer:
        row = _open_batch(session, who, kind, lock=True)
        if row is None:
            raise errors.EndBatch(
                f"no {kind} batch is open on terminal {who.terminal_id}", code="no-open-batch"
            )
        now = max(clock(), row.opened_at)
        session.execute(
            _batch.update()
            .where(_batch.c.id == row.id)
            .values(closed_at=now, closed_by=header.operator)
        )
        closed = session.execute(select(_batch).where(_batch.c.id == row.id)).one()
        return idempotency.Answer(_report_json(report(session, who, closed)))

    fingerprint = idempotency.request_hash("EndBatch", kind=kind)
    return _report_from_json(idempotency.run_once(sessions, header, "EndBatch", fingerprint, work))


def total_batch(session: Session, who: Principal, kind: str) -> BatchReport:
    """The open batch's totals so far (closes nothing); EndBatchEx when none is open."""
    check_kind(kind)
    row = _open_batch(session, who, kind, lock=False)
    if row is None:
        raise errors.EndBatch(
            f"no {kind} batch is open on terminal {who.terminal_id}", code="no-open-batch"
        )
    return report(session, who, row)


def reprint_end_batch(
    session: Session, who: Principal, kind: str, number: str | None
) -> BatchReport:
    """A closed batch's report again: the terminal's last closed batch of `kind`, or the one
    numbered; ReprintEndBatchEx when there is none (or it is another terminal's, or open)."""
    check_kind(kind)
    query = select(_batch).where(
        _terminal(who), _batch.c.kind == kind, _batch.c.closed_at.is_not(None)
    )
    if number is None:
        query = query.order_by(_batch.c.closed_at.desc(), _batch.c.id.desc()).limit(1)
    else:
        query = query.where(_batch.c.id == _batch_id(number))
    row = session.execute(query).first()
    if row is None:
        which = "no closed" if number is None else f"no closed batch {number} among the"
        raise errors.ReprintEndBatch(
            f"{which} {kind} batches of terminal {who.terminal_id}", code="no-closed-batch"
        )
    return report(session, who, row)
