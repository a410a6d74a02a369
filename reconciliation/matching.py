"""Matching: each staged line paired with the gateway vend of the same msg_id, in a few
set-based statements.

The key is the vendor's msg_id (per clientID): it is the request's idempotency key, unique for
ever, and the only field both sides wrote at the moment of the sale. The result is the temporary
``recon_pair`` table, one row per report line and one per gateway vend of the period no line
names; classify.py decides what each row is. Four statements fill it:

A. first copies of a msg_id whose vend the gateway made in the period (one hash join of the staged
   lines with the vendor's credit vends of the window, found through the (vendor_id, created_at)
   index) - nearly every line of a healthy report;
B. first copies not found in A, looked up through the vend_request unique key (clientID, dateTime,
   uniqueNumber): a vend of another period, a refused request, or nothing at all - few lines, each
   an index probe, so the cost does not grow with the gateway's history;
C. later copies of a msg_id (duplicates), never paired;
D. the period's credit vends no line names.

Only credit vends with a tender and account payments are expected in a vendor report: FBE and
engineering tokens are not sales. A scratch-card voucher redeemed through the vendor's platform
(a `voucher` vend) is a sale of that vendor's channel like any other, matched the same way,
though its float paid nothing (the voucher's buyer paid when the stock was activated): it is
never a break, and the pair keeps the vend's kind (``g_kind``) so the run can leave the
redemptions out of what the float owes.
A vend's status is taken **as of the end of the period**: reversed only when
``reversed_at`` is before the window's end, so a re-run gives the same answer whatever was
reversed since (see README, "Reversals after the cut-off").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased

from core.db import UTCDateTime
from gateway.vend.models import VendRequest, VendTransaction
from reconciliation.periods import Window
from reconciliation.staging import STAGE, drop_temporary

__all__ = ["PAIR", "SALE_KINDS", "credit_vends_in", "gateway_status", "pair"]

# The vend transactions a vendor's report lists: credit vends, voucher redemptions (a sale of the
# redeeming vendor's channel, though its float paid nothing) and account payments (debt or
# service charge, no token), each sold and reported like a credit vend.
SALE_KINDS = ("credit", "voucher", "payment")

_metadata = MetaData()

PAIR = Table(
    "recon_pair",
    _metadata,
    Column("line_no", BigInteger),  # NULL: a gateway vend no line names
    Column("occurrence", Integer, nullable=False),
    Column("msg_id", String(40), nullable=False),
    Column("v_terminal_id", String(40)),
    Column("v_receipt_no", String(20)),
    Column("v_meter_number", String(13)),
    Column("v_amount_cents", BigInteger),
    Column("v_vended_at", UTCDateTime),
    Column("v_status", String(8)),
    Column("g_tx_id", BigInteger),  # NULL: the gateway has no credit vend with this msg_id
    Column("g_receipt_no", String(20)),
    Column("g_terminal_id", String(40)),
    Column("g_meter_number", String(13)),
    Column("g_amount_cents", BigInteger),
    Column("g_created_at", UTCDateTime),
    Column("g_status", String(8)),  # SUCCESS or REVERSED as of the period's end
    Column("g_journal_entry_id", BigInteger),
    Column("g_reversed_at", UTCDateTime),  # whenever it was reversed, even after the period
    Column("g_kind", String(12)),  # credit, voucher or payment: a voucher's float paid nothing
    # The outcome of the request with this msg_id (ok, refused, pending) or NULL: never received.
    Column("g_request", String(10)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)

_T = VendTransaction
_R = VendRequest
_VENDOR_COLUMNS = (
    "line_no",
    "occurrence",
    "msg_id",
    "v_terminal_id",
    "v_receipt_no",
    "v_meter_number",
    "v_amount_cents",
    "v_vended_at",
    "v_status",
)
_GATEWAY_COLUMNS = (
    "g_tx_id",
    "g_receipt_no",
    "g_terminal_id",
    "g_meter_number",
    "g_amount_cents",
    "g_created_at",
    "g_status",
    "g_journal_entry_id",
    "g_reversed_at",
    "g_kind",
)


def credit_vends_in(vendor_id: int, window: Window, t: Any = _T) -> list[ColumnElement[bool]]:
    """The vendor's sales the gateway made in the window (what its report must list)."""
    return [
        t.vendor_id == vendor_id,
        t.created_at >= window.start,
        t.created_at < window.end,
        t.kind.in_(SALE_KINDS),
        t.tender_cents > 0,
    ]


def gateway_status(window: Window) -> ColumnElement[str]:
    reversed_by_end = and_(_T.status == "reversed", _T.reversed_at < window.end)
    return case((reversed_by_end, literal("REVERSED")), else_=literal("SUCCESS"))


def _vendor_side() -> list[Any]:
    s = STAGE.c
    return [
        s.line_no,
        s.occurrence,
        s.msg_id,
        s.terminal_id,
        s.receipt_no,
        s.meter_number,
        s.amount_cents,
        s.vended_at,
        s.status,
    ]


def _gateway_side(window: Window) -> list[Any]:
    return [
        _T.id,
        _T.receipt_no,
        _T.terminal_id,
        _T.meter_number,
        _T.tender_cents,
        _T.created_at,
        gateway_status(window),
        _T.journal_entry_id,
        _T.reversed_at,
        _T.kind,
    ]


def _insert(session: Session, columns: tuple[str, ...], query: Any) -> None:
    session.execute(PAIR.insert().from_select(list(columns), query))


def pair(session: Session, *, vendor_id: int, client_id: str, window: Window) -> None:
    """Fill ``recon_pair`` from the staged lines and the gateway's records."""
    drop_temporary(session, "recon_pair")
    PAIR.create(session.connection())
    s = STAGE.c
    in_window = credit_vends_in(vendor_id, window)
    both = (*_VENDOR_COLUMNS, *_GATEWAY_COLUMNS, "g_request")

    # A: the period's vends, by msg_id.
    _insert(
        session,
        both,
        select(*_vendor_side(), *_gateway_side(window), literal("ok"))
        .join(_T, and_(_T.msg_id == s.msg_id, *in_window))
        .where(s.occurrence == 0),
    )

    # B: everything else a first copy can be, through the request's unique key.
    seen = aliased(VendTransaction)
    found = exists().where(seen.msg_id == s.msg_id, *credit_vends_in(vendor_id, window, seen))
    _insert(
        session,
        both,
        select(*_vendor_side(), *_gateway_side(window), _R.outcome)
        .select_from(STAGE)
        .outerjoin(
            _R,
            and_(
                _R.client_id == client_id,
                _R.msg_date_time == s.msg_date_time,
                _R.msg_unique_number == s.msg_unique_number,
            ),
        )
        .outerjoin(_T, and_(_T.request_id == _R.id, _T.kind.in_(SALE_KINDS), _T.tender_cents > 0))
        .where(s.occurrence == 0, ~found),
    )

    # C: repeated copies of a msg_id.
    _insert(session, _VENDOR_COLUMNS, select(*_vendor_side()).where(s.occurrence > 0))

    # D: the period's vends no line names.
    named = exists().where(s.msg_id == _T.msg_id)
    _insert(
        session,
        ("occurrence", "msg_id", *_GATEWAY_COLUMNS),
        select(literal(0), _T.msg_id, *_gateway_side(window)).where(*in_window, ~named),
    )
