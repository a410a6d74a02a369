"""What the utility's call centre reads and does about a customer's meter: find it by meter
number, account or name; its vends with their tokens and receipts; its customer's debt; block
and unblock it with a reason (audited). The console's /meters page is a door onto these.

Searches are bounded (`limit`) and each way of matching uses an index of its own (the console's
read indexes, vendgw/console/read_indexes.py): a meter number or account prefix is a range on a
pattern-ops index; a name is a case-insensitive substring, answered on PostgreSQL by a trigram
index from three characters on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from core import audit
from gateway import errors
from gateway.models import Customer, Meter, Tariff
from gateway.vend.models import VendRequest, VendToken, VendTransaction
from gateway.vend.receipts import receipt_from_json
from gateway.vend.types import VendReceipt

SEARCH_LIMIT = 50
VENDS_LIMIT = 100
MAX_REASON = 500


class UnknownReceipt(LookupError):
    """No vend was issued under that receipt number."""


@dataclass(frozen=True)
class MeterHit:
    meter_number: str
    status: str
    tariff: str
    account_no: str
    customer_name: str
    debt_cents: int


@dataclass(frozen=True)
class TokenLine:
    kind: str
    token: str
    units_tenths: int


@dataclass(frozen=True)
class MeterVend:
    receipt_no: str
    kind: str
    status: str
    client_id: str
    terminal_id: str
    created_at: datetime
    tender_cents: int
    units_tenths: int
    debt_recovered_cents: int
    tokens: tuple[TokenLine, ...]


@dataclass(frozen=True)
class MeterCard:
    """One meter and its customer, as the call centre sees them."""

    meter_number: str
    status: str
    tariff: str
    ea: str
    krn: int
    account_no: str
    customer_name: str
    address: str
    debt_cents: int
    recovery_rate_bp: int


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hit_query() -> Any:
    return (
        select(
            Meter.meter_number,
            Meter.status,
            Tariff.code,
            func.coalesce(Customer.account_no, ""),
            func.coalesce(Customer.name, ""),
            func.coalesce(Customer.debt_cents, 0),
        )
        .join(Tariff, Tariff.id == Meter.tariff_id)
        .outerjoin(Customer, Customer.id == Meter.customer_id)
    )


def search_meters(session: Session, text: str, *, limit: int = SEARCH_LIMIT) -> list[MeterHit]:
    """Meters whose number or account starts with `text`, or whose customer's name holds it."""
    text = text.strip()[:100]
    if not text:
        return []
    prefix = _like_escape(text) + "%"
    # Each way of matching is a query over one table, so each can use its own index (the
    # console's read indexes: pattern ops for the prefixes, trigrams for the name); one OR
    # across the join of meters and customers could only scan both tables.
    of_customers = select(Meter.id).join(Customer, Customer.id == Meter.customer_id)
    ways = [of_customers.where(Customer.account_no.like(prefix, escape="\\"))]
    if text.isdigit():
        ways.append(select(Meter.id).where(Meter.meter_number.like(prefix, escape="\\")))
    if len(text) >= 2:
        ways.append(
            of_customers.where(Customer.name.ilike("%" + _like_escape(text) + "%", escape="\\"))
        )
    found = union(*ways).subquery()
    rows = session.execute(
        _hit_query()
        .where(Meter.id.in_(select(found.c.id)))
        .order_by(Meter.meter_number)
        .limit(limit)
    ).all()
    return [MeterHit(*row) for row in rows]


def meter_card(session: Session, meter_number: str) -> MeterCard:
    row = session.execute(
        select(
            Meter.meter_number,
            Meter.status,
            Tariff.code,
            Meter.ea,
            Meter.krn,
            func.coalesce(Customer.account_no, ""),
            func.coalesce(Customer.name, ""),
            func.coalesce(Customer.address, ""),
            func.coalesce(Customer.debt_cents, 0),
            func.coalesce(Customer.recovery_rate_bp, 0),
        )
        .join(Tariff, Tariff.id == Meter.tariff_id)
        .outerjoin(Customer, Customer.id == Meter.customer_id)
        .where(Meter.meter_number == meter_number)
    ).one_or_none()
    if row is None:
        raise errors.UnknownMeter(f"meter {meter_number} is not registered")
    number, status, tariff, ea, krn, account_no, name, address, debt, rate = row
    return MeterCard(number, status, tariff, ea, krn, account_no, name, address, debt, rate)


def meter_vends(
    session: Session, meter_number: str, *, limit: int = VENDS_LIMIT
) -> list[MeterVend]:
    """The meter's latest vends, newest first, each with its tokens as issued."""
    transactions = session.execute(
        select(
            VendTransaction.id,
            VendTransaction.receipt_no,
            VendTransaction.kind,
            VendTransaction.status,
            VendTransaction.client_id,
            VendTransaction.terminal_id,
            VendTransaction.created_at,
            VendTransaction.tender_cents,
            VendTransaction.units_tenths,
            VendTransaction.debt_recovered_cents,
        )
        .join(Meter, Meter.id == VendTransaction.meter_id)
        .where(Meter.meter_number == meter_number)
        .order_by(VendTransaction.created_at.desc(), VendTransaction.id.desc())
        .limit(limit)
    ).all()
    ids = [t.id for t in transactions]
    tokens: dict[int, list[TokenLine]] = {i: [] for i in ids}
    if ids:
        for transaction_id, kind, token, units in session.execute(
            select(
                VendToken.transaction_id, VendToken.kind, VendToken.token, VendToken.units_tenths
            )
            .where(VendToken.transaction_id.in_(ids))
            .order_by(VendToken.transaction_id, VendToken.seq)
        ):
            tokens[transaction_id].append(TokenLine(kind, token, units))
    return [
        MeterVend(
            t.receipt_no,
            t.kind,
            t.status,
            t.client_id,
            t.terminal_id,
            t.created_at,
            t.tender_cents,
            t.units_tenths,
            t.debt_recovered_cents,
            tuple(tokens[t.id]),
        )
        for t in transactions
    ]


def stored_receipt(session: Session, receipt_no: str) -> VendReceipt:
    """The receipt exactly as it was issued (tokens are never regenerated), for a reprint."""
    row = session.execute(
        select(VendRequest.response_json, VendTransaction.status)
        .join(VendTransaction, VendTransaction.request_id == VendRequest.id)
        .where(VendTransaction.receipt_no == receipt_no, VendRequest.outcome == "ok")
    ).one_or_none()
    if row is None:
        raise UnknownReceipt(receipt_no)
    data = json.loads(row.response_json)
    return receipt_from_json(data, reversed_=row.status == "reversed")


def set_meter_status(
    session: Session, meter_number: str, status: str, *, reason: str, actor: str
) -> str:
    """Block or unblock a meter (a blocked meter is refused every vend). Returns the previous
    status. Audited as ``meter.block`` / ``meter.unblock`` with the reason."""
    if status not in ("active", "blocked"):
        raise ValueError(f"unknown meter status {status!r}")
    reason = reason.strip()
    if not reason:
        raise ValueError("blocking or unblocking a meter needs a reason")
    meter = session.scalar(
        select(Meter).where(Meter.meter_number == meter_number).with_for_update()
    )
    if meter is None:
        raise errors.UnknownMeter(f"meter {meter_number} is not registered")
    previous = meter.status
    if previous != status:
        meter.status = status
        action = "meter.block" if status == "blocked" else "meter.unblock"
        audit.record(session, actor, action, meter_number, reason=reason[:MAX_REASON])
    return previous
