"""The steps of one vend, each a small function with the SQL it runs beside it.

The order they run in, and which of them each kind of request runs, is gateway/vend/pipeline.py
(one function, one plan per kind): find_meter (1), price (2), issue_tokens (3), then in the
claim's transaction advance_meter, add_to_month, recover_debt, store_transaction and, last,
debit_float (4), and build_receipt (5). A reversal's writes (give_back_month, give_back_debt,
credit_float) sit beside the forward ones below.

Nothing here commits: the pipeline runs these inside one transaction that claims the msgID
first, so a crash anywhere leaves either the whole vend or none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core.prepared import PerDialect, PreparedStatement
from core.settings import Settings
from gateway import errors, pricing
from gateway.models import Customer, Meter
from gateway.tariffs import TariffBook
from gateway.vend import idempotency, meters
from gateway.vend.meters import MeterInMonth, MeterRecord, MonthToDate
from gateway.vend.models import MeterMonth, VendToken, VendTransaction
from gateway.vend.receipts import receipt_units
from gateway.vend.types import (
    KeyChangeData,
    MsgID,
    Principal,
    ReceiptLine,
    RequestHeader,
    VendReceipt,
)
from sts import SoftwareSecurityModule, TransferCredit, next_tid
from vendor_accounts.floats import VendPosting, VendSplit, post_vend, reverse_vend

_meter = cast(Table, Meter.__table__)
_customer = cast(Table, Customer.__table__)
_month = cast(Table, MeterMonth.__table__)
_transaction = cast(Table, VendTransaction.__table__)
_token = cast(Table, VendToken.__table__)


class MeterRace(idempotency.Retry):
    """Another vend for the same meter committed first; the vend is priced again."""


@dataclass(frozen=True)
class VendClock:
    """The instant of a vend, in UTC and as the utility's wall time (months, TIDs)."""

    now: datetime
    tz: ZoneInfo

    @property
    def local(self) -> datetime:
        return self.now.astimezone(self.tz)

    @property
    def month(self) -> str:
        return pricing.month_key(self.now, self.tz.key)  # the one rule for a vend's month

    @property
    def tid_time(self) -> datetime:
        # STS counts minutes of the vending system's civil clock: the utility's wall time.
        return self.local.replace(tzinfo=None, second=0, microsecond=0)


@dataclass(frozen=True)
class PricedVend:
    quote: pricing.Quote
    tariff: pricing.TariffSteps
    tariff_version_id: int
    month: MonthToDate  # the month's figures the quote was priced from


@dataclass(frozen=True)
class IssuedToken:
    kind: str  # credit, fbe, keychange, engineering
    token: str
    tid: int | None
    units_tenths: int = 0


@dataclass(frozen=True)
class IssuedTokens:
    tokens: tuple[IssuedToken, ...]
    last_tid: int | None
    key_change: meters.MeterKeys | None


@dataclass(frozen=True)
class StoredTransaction:
    id: int
    receipt_no: str
    created_at: datetime


def pricing_policy(settings: Settings) -> pricing.PricingPolicy:
    u = settings.utility
    return pricing.PricingPolicy(
        vat_rate_bp=u.vat_rate_bp,
        min_vend_cents=u.min_vend_cents,
        max_vend_cents=u.max_vend_cents,
        fbe_monthly_tenths=u.fbe_monthly_kwh_tenths,
    )


def find_meter(session: Session, meter_number: str, clock: VendClock) -> MeterInMonth:
    """Step 1: the meter, its month so far and its tariff version today (one statement)."""
    return meters.find_meter_in_month(session, meter_number, clock.month, clock.local.date())


def position(meter: MeterRecord, month: MonthToDate) -> pricing.CustomerPosition:
    customer = meter.customer
    return pricing.CustomerPosition(
        debt_cents=customer.debt_cents if customer else 0,
        recovery_rate_bp=customer.recovery_rate_bp if customer else 0,
        units_this_month_tenths=month.units_tenths,
        fixed_charge_paid_this_month_cents=month.fixed_charge_paid_cents,
        fbe_registered=bool(customer and customer.fbe_registered),
        fbe_taken_this_month=month.fbe_units_tenths > 0,
    )


def price(
    session: Session,
    tariffs: TariffBook,
    found: MeterInMonth,
    tender_cents: int,
    clock: VendClock,
    settings: Settings,
) -> PricedVend:
    """Step 2: the quote for this tender, refusing what the pricing rules refuse."""
    if found.tariff_version_id is None:
        raise errors.SystemError_(
            f"tariff {found.meter.tariff_code} has no version in force on {clock.local.date()}",
            code="no-tariff-version",
        )
    steps = tariffs.steps(session, found.tariff_version_id)
    quote = pricing.price_vend(
        tender_cents, steps, position(found.meter, found.month), pricing_policy(settings)
    )
    return PricedVend(quote, steps, found.tariff_version_id, found.month)


def issue_tokens(
    session: Session,
    hsm: SoftwareSecurityModule,
    meter: MeterRecord,
    credits: list[tuple[str, int]],
    clock: VendClock,
) -> IssuedTokens:
    """Step 3: the key-change set when one is pending, then one credit token per (kind, units),
    each with a TID strictly above the meter's last one."""
    current = meters.current_keys(meter)
    new = meters.pending_keys(session, meter)
    issued: list[IssuedToken] = []
    last_tid = meter.last_tid
    if new is not None:
        for t in hsm.key_change_tokens(
            current.wrapped_key,
            current.key_id,
            current.key_data,
            new.wrapped_key,
            new.key_id,
            new.key_data,
        ):
            issued.append(IssuedToken("keychange", t.number, None))
        if new.key_data.base_date != current.key_data.base_date:
            last_tid = None  # the rollover clears the meter's TID memory
    keys = new or current
    for kind, units in credits:
        tid = next_tid(clock.tid_time, keys.key_data.base_date, last_tid)
        token = hsm.credit_token(
            keys.wrapped_key, keys.key_id, keys.key_data, subclass=0, amount_tenths=units, tid=tid
        )
        assert isinstance(token.payload, TransferCredit)
        # Above 1638.3 kWh the STS amount field rounds up in the customer's favour; the receipt
        # shows what the meter will actually credit.
        issued.append(IssuedToken(kind, token.number, tid, token.payload.amount_tenths))
        last_tid = tid
    return IssuedTokens(tuple(issued), last_tid, new)


# The writes of step 4, built once (see meters.py for why these are not ORM flushes).
_ADVANCE_TID = {
    first: PreparedStatement(
        f"vendgw_advance_tid_{'first' if first else 'next'}",
        update(_meter)
        .where(
            _meter.c.id == bindparam("p_meter"),
            _meter.c.last_tid.is_(None) if first else _meter.c.last_tid == bindparam("p_seen"),
        )
        .values(last_tid=bindparam("p_tid")),
    )
    for first in (True, False)
}


def _month_upsert(dialect_insert: Callable[[Table], Any]) -> Any:
    new = dialect_insert(_month).values(
        meter_id=bindparam("p_meter"),
        month=bindparam("p_month"),
        units_tenths=bindparam("p_units"),
        fixed_charge_paid_cents=bindparam("p_fixed"),
        fbe_units_tenths=bindparam("p_fbe"),
    )
    # Added to what is there, never overwritten: a reversal may change the row meanwhile.
    return new.on_conflict_do_update(
        index_elements=[_month.c.meter_id, _month.c.month],
        set_={
            c: _month.c[c] + new.excluded[c]
            for c in ("units_tenths", "fixed_charge_paid_cents", "fbe_units_tenths")
        },
    )


_ADD_TO_MONTH = PreparedStatement(
    "vendgw_add_to_month", _month_upsert(postgresql.insert), sqlite=_month_upsert(sqlite.insert)
)
_RECOVER_DEBT = (
    update(_customer)
    .where(_customer.c.id == bindparam("p_customer"), _customer.c.debt_cents == bindparam("p_seen"))
    .values(debt_cents=_customer.c.debt_cents - bindparam("p_recovered"))
)
_TX_COLUMNS = (
    "receipt_no",
    "request_id",
    "kind",
    "status",
    "vendor_id",
    "client_id",
    "terminal_id",
    "operator",
    "pay_type",
    "msg_id",
    "meter_id",
    "meter_number",
    "customer_id",
    "tariff_version_id",
    "month",
    "created_at",
    "tender_cents",
    "debt_recovered_cents",
    "fixed_charge_cents",
    "fixed_charge_vat_cents",
    "energy_cents",
    "energy_vat_cents",
    "units_tenths",
    "fbe_units_tenths",
    "reversal_reason",
)
_STORE_TRANSACTION = (
    insert(_transaction)
    .values({c: bindparam(c, type_=_transaction.c[c].type) for c in _TX_COLUMNS})
    .returning(_transaction.c.id)
)
_STORE_TOKENS = insert(_token)
# On PostgreSQL the transaction and its tokens are one statement (a data-modifying CTE).
_stored_tx = _STORE_TRANSACTION.cte("tx")
_token_rows = (
    func.unnest(
        bindparam("p_seqs", type_=ARRAY(Integer)),
        bindparam("p_kinds", type_=ARRAY(String)),
        bindparam("p_tokens", type_=ARRAY(String)),
        bindparam("p_tids", type_=ARRAY(BigInteger)),
        bindparam("p_units", type_=ARRAY(BigInteger)),
    )
    .table_valued("seq", "kind", "token", "tid", "units")
    .render_derived(name="t")
)
_STORE_TRANSACTION_AND_TOKENS = PreparedStatement(
    "vendgw_store_transaction",
    select(_stored_tx.c.id).add_cte(
        insert(_token)
        .from_select(
            ["transaction_id", "seq", "kind", "token", "tid", "units_tenths"],
            select(
                _stored_tx.c.id,
                _token_rows.c.seq,
                _token_rows.c.kind,
                _token_rows.c.token,
                _token_rows.c.tid,
                _token_rows.c.units,
            ).select_from(_stored_tx.join(_token_rows, true())),
        )
        .cte("tokens")
    ),
)


def _store_in_one_statement(
    session: Session, row: dict[str, Any], tokens: tuple[IssuedToken, ...]
) -> int:
    return int(
        _STORE_TRANSACTION_AND_TOKENS.execute(
            session,
            {
                **row,
                "p_seqs": list(range(1, len(tokens) + 1)),
                "p_kinds": [t.kind for t in tokens],
                "p_tokens": [t.token for t in tokens],
                "p_tids": [t.tid for t in tokens],
                "p_units": [t.units_tenths for t in tokens],
            },
        ).scalar_one()
    )


def _store_then_tokens(
    session: Session, row: dict[str, Any], tokens: tuple[IssuedToken, ...]
) -> int:
    tx_id = int(session.execute(_STORE_TRANSACTION, row).scalar_one())
    if tokens:
        session.execute(
            _STORE_TOKENS,
            [
                {
                    "transaction_id": tx_id,
                    "seq": i,
                    "kind": t.kind,
                    "token": t.token,
                    "tid": t.tid,
                    "units_tenths": t.units_tenths,
                }
                for i, t in enumerate(tokens, start=1)
            ],
        )
    return tx_id


# The transaction and its tokens: one statement on PostgreSQL, two on SQLite.
_STORE = PerDialect(postgresql=_store_in_one_statement, sqlite=_store_then_tokens)


def advance_meter(session: Session, meter: MeterRecord, issued: IssuedTokens) -> MeterRecord:
    """Compare-and-set the meter's last TID (and key data): a racing vend makes this fail.
    Returns the meter as it now stands."""
    if issued.key_change is None:
        statement = _ADVANCE_TID[meter.last_tid is None]
        params = {"p_meter": meter.id, "p_seen": meter.last_tid, "p_tid": issued.last_tid}
        if meter.last_tid is None:
            del params["p_seen"]
        result = statement.execute(session, params)
    else:
        k = issued.key_change.key_data
        seen = (
            _meter.c.last_tid.is_(None)
            if meter.last_tid is None
            else _meter.c.last_tid == meter.last_tid
        )
        result = session.connection().execute(
            update(_meter)
            .where(_meter.c.id == meter.id, seen)
            .values(
                last_tid=issued.last_tid,
                supply_group_id=issued.key_change.group.id,
                krn=k.krn,
                ti=k.ti,
                kt=k.kt,
                base_date=k.base_date,
                pending_sgc_id=None,
                pending_krn=None,
                pending_ti=None,
                pending_kt=None,
                pending_base_date=None,
            )
        )
    if result.rowcount != 1:
        raise MeterRace(meter.meter_number)
    moved = (
        meter if issued.key_change is None else meters.after_key_change(meter, issued.key_change)
    )
    return replace(moved, last_tid=issued.last_tid)


def add_to_month(
    session: Session, meter: MeterRecord, month: str, priced: PricedVend | None, fbe_tenths: int
) -> None:
    """Add this vend to the meter's month figures (the row is created on its first vend)."""
    q = priced.quote if priced else None
    params = {
        "p_meter": meter.id,
        "p_month": month,
        "p_units": q.units_tenths if q else 0,
        "p_fixed": q.fixed_charge_cents if q else 0,
        "p_fbe": fbe_tenths,
    }
    _ADD_TO_MONTH.execute(session, params)


def add_fixed_charge_paid(session: Session, meter: MeterRecord, month: str, cents: int) -> None:
    """A service charge paid in advance (an account payment): the month's fixed charge paid,
    so the month's vends charge that much less of it."""
    _ADD_TO_MONTH.execute(
        session, {"p_meter": meter.id, "p_month": month, "p_units": 0, "p_fixed": cents, "p_fbe": 0}
    )


def recover_debt(session: Session, meter: MeterRecord, recovered_cents: int) -> None:
    """Reduce the customer's debt by what this vend recovered, only from the figure priced."""
    if not recovered_cents or meter.customer is None:
        return
    result = session.execute(
        _RECOVER_DEBT,
        {
            "p_customer": meter.customer.id,
            "p_seen": meter.customer.debt_cents,
            "p_recovered": recovered_cents,
        },
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise MeterRace(meter.meter_number)


def receipt_lines(priced: PricedVend | None, issued: IssuedTokens) -> tuple[ReceiptLine, ...]:
    by_kind: dict[str, list[IssuedToken]] = {}
    for t in issued.tokens:
        by_kind.setdefault(t.kind, []).append(t)
    lines: list[ReceiptLine] = []
    if "keychange" in by_kind:
        lines.append(
            ReceiptLine(
                "keychange",
                "Key change: enter these tokens first, in order",
                tokens=tuple(t.token for t in by_kind["keychange"]),
            )
        )
    if priced is not None:
        q = priced.quote
        if q.debt_recovered_cents:
            remaining = pricing.format_cents(q.debt_remaining_cents)
            lines.append(
                ReceiptLine(
                    "debt",
                    f"Debt recovered; {remaining} outstanding",
                    amount_cents=q.debt_recovered_cents,
                )
            )
        if q.fixed_charge_cents:
            lines.append(
                ReceiptLine(
                    "fixed_charge",
                    "Monthly fixed charge",
                    amount_cents=q.fixed_charge_cents,
                    vat_cents=q.fixed_charge_vat_cents,
                )
            )
        credit = by_kind["credit"][0]
        lines.append(
            ReceiptLine(
                "credit",
                f"Electricity {priced.tariff.code}",
                amount_cents=q.energy_cents,
                vat_cents=q.energy_vat_cents,
                units_tenths=credit.units_tenths,
                tokens=(credit.token,),
            )
        )
    for fbe in by_kind.get("fbe", []):
        lines.append(
            ReceiptLine(
                "fbe", "Free basic electricity", units_tenths=fbe.units_tenths, tokens=(fbe.token,)
            )
        )
    return tuple(lines)


def store_transaction(
    session: Session,
    request_id: int,
    kind: str,
    who: Principal,
    header: RequestHeader,
    meter: MeterRecord,
    clock: VendClock,
    priced: PricedVend | None,
    issued: IssuedTokens,
    pay_type: str = "",
) -> StoredTransaction:
    q = priced.quote if priced else None
    receipt_no = f"{request_id:012d}"
    row = {
        "receipt_no": receipt_no,
        "request_id": request_id,
        "kind": kind,
        "status": "issued",
        "vendor_id": who.vendor_id,
        "client_id": who.client_id,
        "terminal_id": who.terminal_id,
        "operator": header.operator,
        "pay_type": pay_type,
        "msg_id": header.msg_id.key,
        "meter_id": meter.id,
        "meter_number": meter.meter_number,
        "customer_id": meter.customer.id if meter.customer else None,
        "tariff_version_id": priced.tariff_version_id if priced else None,
        "month": clock.month,
        "created_at": clock.now,
        "tender_cents": q.tender_cents if q else 0,
        "debt_recovered_cents": q.debt_recovered_cents if q else 0,
        "fixed_charge_cents": q.fixed_charge_cents if q else 0,
        "fixed_charge_vat_cents": q.fixed_charge_vat_cents if q else 0,
        "energy_cents": q.energy_cents if q else 0,
        "energy_vat_cents": q.energy_vat_cents if q else 0,
        "units_tenths": q.units_tenths if q else 0,
        "fbe_units_tenths": sum(t.units_tenths for t in issued.tokens if t.kind == "fbe"),
        "reversal_reason": "",
    }
    tx_id = _STORE(session)(session, row, issued.tokens)
    return StoredTransaction(tx_id, receipt_no, clock.now)


def debit_float(
    session: Session, who: Principal, tx: StoredTransaction, priced: PricedVend, clock_timezone: str
) -> VendPosting:
    """Step 4's last act: debit the vendor's float and post the ledger entry (the request's
    completion links the entry to the transaction). Refuses with DebitRefused, changing
    nothing, below the floor."""
    q = priced.quote
    return post_vend(
        session,
        vendor_id=who.vendor_id,
        amount_cents=q.tender_cents,
        split=vend_split(priced),
        reference=f"vend:{tx.receipt_no}",
        at=tx.created_at,
        units_tenths=q.units_tenths,
        timezone=clock_timezone,
        rate=who.commission,
    )


def vend_split(priced: PricedVend) -> VendSplit:
    """How the priced tender divides between the utility's accounts."""
    q = priced.quote
    return VendSplit(
        energy_excl_vat=q.energy_excl_vat_cents,
        vat=q.vat_cents,
        fixed_charge_excl_vat=q.fixed_charge_excl_vat_cents,
        debt_recovered=q.debt_recovered_cents,
    )


def build_receipt(
    receipt_no: str,
    issued_at: datetime,
    meter: MeterRecord,
    priced: PricedVend | None,
    issued: IssuedTokens,
    avail_credit_cents: int,
    msg_id: MsgID,
    before: MeterRecord | None = None,
) -> VendReceipt:
    """Step 5's receipt. `meter` is the meter as it now stands; `before`, as step 1 found it,
    is needed when `issued` holds a key change: the receipt keeps the key data the change moves
    the meter from (which `meter` no longer shows) beside the data it moves it to."""
    customer = meter.customer
    lines = receipt_lines(priced, issued)
    key_change = None
    if issued.key_change is not None:
        if before is None:
            raise ValueError("a receipt with a key change needs the meter as it was before")
        new = issued.key_change.key_data
        key_change = KeyChangeData(
            from_sgc=before.group.sgc,
            from_krn=before.krn,
            from_ti=before.ti,
            from_kt=before.kt,
            to_sgc=new.sgc,
            to_krn=new.krn,
            to_ti=new.ti,
            to_kt=new.kt,
        )
    return VendReceipt(
        receipt_no=receipt_no,
        msg_id=msg_id,
        meter=meters.meter_detail(meter),
        customer_name=customer.name if customer else "",
        customer_address=customer.address if customer else "",
        key_change=key_change,
        account_no=customer.account_no if customer else "",
        tender_cents=priced.quote.tender_cents if priced else 0,
        units_tenths=receipt_units(lines),
        avail_credit_cents=avail_credit_cents,
        tariff_description=pricing.describe_tariff(priced.tariff) if priced else "",
        issued_at=issued_at,
        lines=lines,
    )


# A reversal's writes, beside the forward ones they undo: taken off what is there, never
# overwritten (a vend may add to the same rows meanwhile), in the order a vend locks its rows.
_LOCK_CUSTOMER = (
    select(_customer.c.id).where(_customer.c.id == bindparam("p_customer")).with_for_update()
)
_GIVE_BACK_MONTH = (
    update(_month)
    .where(_month.c.meter_id == bindparam("p_meter"), _month.c.month == bindparam("p_month"))
    .values(
        units_tenths=_month.c.units_tenths - bindparam("p_units"),
        fixed_charge_paid_cents=_month.c.fixed_charge_paid_cents - bindparam("p_fixed"),
        fbe_units_tenths=_month.c.fbe_units_tenths - bindparam("p_fbe"),
    )
)
_GIVE_BACK_DEBT = (
    update(_customer)
    .where(_customer.c.id == bindparam("p_customer"))
    .values(debt_cents=_customer.c.debt_cents + bindparam("p_recovered"))
)


def lock_for_reversal(session: Session, tx: VendTransaction) -> None:
    """The rows a reversal changes, locked in the order a vend takes them (meter, customer;
    the float last, by credit_float), so a reversal and a vend queue instead of deadlocking."""
    if tx.meter_id is not None:
        meters.lock_meter(session, tx.meter_id)
    if tx.debt_recovered_cents and tx.customer_id is not None:
        session.execute(_LOCK_CUSTOMER, {"p_customer": tx.customer_id}).one()


def credit_float(
    session: Session, tx: VendTransaction, at: datetime, clock_timezone: str
) -> VendPosting | None:
    """Credit the vend's debit back with a compensating entry linked to it (None for a vend
    that debited nothing). The entry is linked to the transaction too."""
    if tx.journal_entry_id is None:
        return None
    posting = reverse_vend(
        session,
        journal_entry_id=tx.journal_entry_id,
        reference=f"reversal:{tx.receipt_no}",
        at=at,
        timezone=clock_timezone,
    )
    tx.reversal_journal_entry_id = posting.journal_entry_id
    return posting


def give_back_month(session: Session, tx: VendTransaction) -> None:
    """Take the vend off its meter's month figures."""
    session.execute(
        _GIVE_BACK_MONTH,
        {
            "p_meter": tx.meter_id,
            "p_month": tx.month,
            "p_units": tx.units_tenths,
            "p_fixed": tx.fixed_charge_cents,
            "p_fbe": tx.fbe_units_tenths,
        },
    )


def give_back_debt(session: Session, tx: VendTransaction) -> None:
    """Give the customer back the debt the vend recovered."""
    if tx.debt_recovered_cents and tx.customer_id is not None:
        session.execute(
            _GIVE_BACK_DEBT, {"p_customer": tx.customer_id, "p_recovered": tx.debt_recovered_cents}
        )


def lock_transaction(session: Session, request_id: int) -> VendTransaction | None:
    """The transaction a request produced, if any, its row locked until the caller's
    transaction ends: advice and reversals that decide on its status queue on it."""
    return session.scalar(
        select(VendTransaction).where(VendTransaction.request_id == request_id).with_for_update()
    )
