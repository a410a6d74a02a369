"""Breaks: recorded by each run, carried forward and aged until an operator resolves them.

A run of a period records what it found against the breaks earlier runs of the same period
recorded (identity: vendor, period, category, msg_id, occurrence):

* found and new                 -> opened, first and last run = this run
* found again                   -> carried: last run = this run, figures refreshed; an operator's
                                   resolution stands (the data still differs, but someone has
                                   accepted it); a break an earlier run cleared opens again
* open but not found any more   -> cleared by this run (the corrected report no longer has it)

Breaks are handled in chunks as they stream out of the classified pairs, so a run whose every
line is a break still runs in bounded memory. Age is days from the item's business date (the
gateway's when it has the vend, else the vendor's) to the day it is looked at.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core import audit
from core.money import format_cents
from reconciliation.classify import breaks_query
from reconciliation.exceptions import BreakNotOpen, InvalidInput, UnknownBreak
from reconciliation.models import BreakCategory as C
from reconciliation.models import ReconBreak, ReconRun
from reconciliation.periods import Calendar, Window

__all__ = ["AGE_BUCKETS", "OpenBreak", "age_bucket", "open_breaks", "record", "resolve"]

_CHUNK = 2000
AGE_BUCKETS = ("0-1 days", "2-7 days", "8-30 days", "over 30 days")


def age_bucket(days: int) -> str:
    if days <= 1:
        return AGE_BUCKETS[0]
    if days <= 7:
        return AGE_BUCKETS[1]
    return AGE_BUCKETS[2] if days <= 30 else AGE_BUCKETS[3]


def _local(at: datetime | None, calendar: Calendar) -> str:
    return at.astimezone(calendar.zone).isoformat(sep=" ") if at is not None else "-"


def _note(row: Any, calendar: Calendar) -> str:
    """One line an operator can act on; the break row keeps both sides' figures as well."""
    category = row.category
    if category == C.MISSING_AT_GATEWAY:
        return {
            None: "the gateway never received this msgID",
            "refused": "the gateway refused this request: no tokens were issued",
            "pending": "the request never completed at the gateway",
        }.get(row.g_request, "this msgID is not a credit vend at the gateway")
    if category == C.MISSING_IN_REPORT:
        state = " (reversed by the period's end)" if row.g_status == "REVERSED" else ""
        return f"the gateway issued tokens (receipt {row.g_receipt_no}){state}; not reported"
    if category == C.DUPLICATE_IN_REPORT:
        return f"copy {row.occurrence + 1} of this msgID in the report"
    if category == C.OUTSIDE_PERIOD:
        return (
            f"vendor dated it {_local(row.v_vended_at, calendar)}, the gateway made it "
            f"{_local(row.g_created_at, calendar)}"
        )
    if category == C.METER_MISMATCH:
        return f"vendor meter {row.v_meter_number}, gateway meter {row.g_meter_number}"
    if category == C.AMOUNT_MISMATCH:
        diff = row.v_amount_cents - row.g_amount_cents
        return (
            f"vendor {format_cents(row.v_amount_cents)}, gateway "
            f"{format_cents(row.g_amount_cents)} (difference {format_cents(diff)})"
        )
    # STATUS_MISMATCH
    if row.g_status == "SUCCESS" and row.g_reversed_at is not None:
        return (
            f"reversed at the gateway after the period ended "
            f"({_local(row.g_reversed_at, calendar)}); in this period it stands"
        )
    if row.g_status == "REVERSED":
        return (
            f"reversed at the gateway ({_local(row.g_reversed_at, calendar)}); the vendor "
            "reports it as a sale"
        )
    return "the vendor reports a reversal the gateway never made"


def _values(row: Any, run: ReconRun, calendar: Calendar) -> dict[str, Any]:
    when = row.g_created_at if row.g_created_at is not None else row.v_vended_at
    return {
        "business_date": calendar.business_day(when),
        "line_no": row.line_no,
        "terminal_id": row.v_terminal_id,
        "receipt_no": row.v_receipt_no,
        "meter_number": row.v_meter_number,
        "vendor_amount_cents": row.v_amount_cents,
        "vendor_status": row.v_status,
        "vended_at": row.v_vended_at,
        "gateway_receipt_no": row.g_receipt_no,
        "gateway_terminal_id": row.g_terminal_id,
        "gateway_meter_number": row.g_meter_number,
        "gateway_amount_cents": row.g_amount_cents,
        "gateway_status": row.g_status,
        "gateway_at": row.g_created_at,
        "effect_cents": int(row.effect),
        "note": _note(row, calendar)[:200],
        "last_run_id": run.id,
    }


def _chunks(rows: Iterator[Any]) -> Iterator[list[Any]]:
    while chunk := list(islice(rows, _CHUNK)):
        yield chunk


def record(
    session: Session, run: ReconRun, window: Window, calendar: Calendar, now: datetime
) -> int:
    """Record this run's breaks against the period's earlier ones; returns how many it found."""
    scope = (
        ReconBreak.vendor_id == run.vendor_id,
        ReconBreak.period_kind == run.period_kind,
        ReconBreak.period_label == run.period_label,
    )
    found = 0
    result = session.execute(
        breaks_query(window).execution_options(stream_results=True, yield_per=_CHUNK)
    )
    for chunk in _chunks(iter(result)):
        found += len(chunk)
        known = {
            (category, msg_id, occurrence): (break_id, status)
            for break_id, category, msg_id, occurrence, status in session.execute(
                select(
                    ReconBreak.id,
                    ReconBreak.category,
                    ReconBreak.msg_id,
                    ReconBreak.occurrence,
                    ReconBreak.status,
                ).where(*scope, ReconBreak.msg_id.in_({r.msg_id for r in chunk}))
            )
        }
        updates, inserts = [], []
        for row in chunk:
            values = _values(row, run, calendar)
            earlier = known.get((row.category, row.msg_id, row.occurrence))
            if earlier is None:
                inserts.append(
                    {
                        **values,
                        "vendor_id": run.vendor_id,
                        "client_id": run.client_id,
                        "period_kind": run.period_kind,
                        "period_label": run.period_label,
                        "category": row.category,
                        "msg_id": row.msg_id,
                        "occurrence": row.occurrence,
                        "status": "open",
                        "first_run_id": run.id,
                        "opened_at": now,
                    }
                )
                continue
            break_id, status = earlier
            if status == "cleared":
                values.update(status="open", cleared_at=None, cleared_by_run_id=None)
            updates.append({"id": break_id, **values})
        if inserts:
            session.execute(insert(ReconBreak), inserts)
        if updates:
            session.execute(update(ReconBreak), updates)
    session.execute(
        update(ReconBreak)
        .where(*scope, ReconBreak.status == "open", ReconBreak.last_run_id != run.id)
        .values(status="cleared", cleared_at=now, cleared_by_run_id=run.id)
    )
    return found


def resolve(
    session: Session, break_id: int, *, note: str, operator: str, now: datetime
) -> ReconBreak:
    """Close an open break with the operator's explanation. Audited as ``recon.resolve``."""
    for field, value in (("note", note), ("operator", operator)):
        if not value or not value.strip():
            raise InvalidInput(f"resolving a break needs a {field}", field=field, value=value)
    found = session.get(ReconBreak, break_id, with_for_update=True)
    if found is None:
        raise UnknownBreak(break_id)
    if found.status != "open":
        raise BreakNotOpen(break_id=break_id, status=found.status)
    found.status = "resolved"
    found.resolved_at = now
    found.resolved_by = operator.strip()[:100]
    found.resolution_note = note.strip()
    audit.record(
        session,
        operator.strip()[:100],
        "recon.resolve",
        f"break {break_id}",
        client_id=found.client_id,
        period=found.period_label,
        category=found.category,
        msg_id=found.msg_id,
        note=note.strip(),
    )
    session.flush()
    return found


@dataclass(frozen=True)
class OpenBreak:
    id: int
    client_id: str
    period_label: str
    category: str
    msg_id: str
    business_date: date
    age_days: int
    effect_cents: int
    note: str

    @property
    def bucket(self) -> str:
        return age_bucket(self.age_days)


def open_breaks(
    session: Session,
    as_of: date,
    *,
    client_id: str | None = None,
    vendor_ids: Sequence[int] | None = None,
) -> list[OpenBreak]:
    """Open breaks, by vendor and oldest first."""
    query = select(
        ReconBreak.id,
        ReconBreak.client_id,
        ReconBreak.period_label,
        ReconBreak.category,
        ReconBreak.msg_id,
        ReconBreak.business_date,
        ReconBreak.effect_cents,
        ReconBreak.note,
    ).where(ReconBreak.status == "open")
    if client_id is not None:
        query = query.where(ReconBreak.client_id == client_id)
    if vendor_ids is not None:
        query = query.where(ReconBreak.vendor_id.in_(vendor_ids))
    query = query.order_by(ReconBreak.client_id, ReconBreak.business_date, ReconBreak.id)
    return [
        OpenBreak(i, client, label, category, msg_id, day, max(0, (as_of - day).days), effect, note)
        for i, client, label, category, msg_id, day, effect, note in session.execute(query)
    ]
