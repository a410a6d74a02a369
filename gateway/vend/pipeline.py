"""One vend, top to bottom: the steps every token-issuing request runs, in this order.

    0. claim (clientID, msgID) and lock the meter's row             (idempotency.run_once)
    1. find the meter, its month so far and its tariff version;     (flow.find_meter: one
       refuse a blocked meter when the plan vends                    statement)
    2. price: the tender by the tariff (CreditVend), free basic     (pricing.py, pure)
       electricity alone (FBEVend), or nothing (engineering)
    3. generate the tokens: the key-change set if pending, then     (sts security module)
       the credits priced, or the plan's own tokens (engineering)
    4. in the claim's transaction, guarded against a racing vend on the same meter:
       advance the meter's TID (and key data); add to the month's figures; recover the debt
       priced; store the transaction and its tokens; audit what the plan audits; and LAST
       debit the vendor's float and post the ledger entry, so the hot float row stays locked
       only for the debit, the request's completion and the commit
    5. answer (the receipt, or the engineering tokens), stored with the request for retries

Each kind of request is a `Plan`: CreditVend, FBEVend and VoucherVend (a scratch-card voucher,
funded by the voucher liability: `Funding`) here, MeterSpecificEng (the key change and the
engineering tokens) in engineering.py. `run` is the one function that runs a plan; the
steps themselves are flow.py's functions, each with the SQL it runs beside it. Nothing here
commits: `idempotency.run_once` runs the steps in one transaction that claims the msgID first,
so a crash anywhere leaves either the whole request or none of it. A refusal raised by any step
rolls it all back; it is translated (gateway/vend/refusals.py) and remembered for the msgID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.runtime import Runtime
from gateway import errors, pricing
from gateway.tariffs import TariffBook
from gateway.vend import flow, idempotency, meters, units
from gateway.vend.meters import MeterInMonth, MeterRecord
from gateway.vend.receipts import receipt_to_json
from gateway.vend.types import Principal, RequestHeader
from gateway.vouchers import redemption
from vendor_accounts import floats as vendor_floats
from vendor_accounts.floats import VendPosting
from vendor_accounts.voucher_float import Redeemed


@dataclass(frozen=True)
class Ask:
    """One request for tokens, as the service received it. The field names are those the
    request's fingerprint has always used (a retry after an upgrade is still a retry)."""

    who: Principal
    header: RequestHeader
    meter: str
    amount: int | None = None
    pay_type: str | None = None
    eng_type: str | None = None
    value: int | None = None
    units: int | None = None  # a units purchase value (0.1 kWh) instead of an amount
    key_target: tuple[str | None, int | None, str | None] | None = None  # UpdateMeterKey
    voucher: str | None = None  # a voucher PIN's keyed hash, hex (never the PIN itself)


@dataclass(frozen=True)
class Context:
    """What the steps need of the service: the runtime, the tariff book, the vend clock."""

    runtime: Runtime
    tariffs: TariffBook
    clock: Callable[[], flow.VendClock]


@dataclass(frozen=True)
class Done:
    """Steps 1 to 4 done: what the answer is built from."""

    ask: Ask
    meter: MeterRecord
    tx: flow.StoredTransaction
    priced: flow.PricedVend | None
    issued: flow.IssuedTokens
    available_cents: int | None  # the vendor's float available (None: the plan shows none)
    before: MeterRecord | None = None  # the meter as step 1 found it (before any key change)


@dataclass(frozen=True)
class Funding:
    """Where the tender comes from when it is not the caller's float (a voucher): `tender`
    finds and locks it before the meter is looked up, and answers what it is worth (an object
    with `amount_cents`); `settle`, last, spends it for the stored transaction and answers the
    journal entry it posted and the caller's available credit (`journal_entry_id`,
    `available_cents`: its float is not debited, only shown)."""

    tender: Callable[[Context, Session, Ask, flow.VendClock], Any]
    settle: Callable[[Context, Session, Ask, flow.StoredTransaction, flow.PricedVend, Any], Any]


# The tokens of a plan that does not vend credits: (context, session, meter found, ask, clock).
TokenIssuer = Callable[[Context, Session, MeterRecord, Ask, flow.VendClock], flow.IssuedTokens]


@dataclass(frozen=True)
class Plan:
    """One kind of token-issuing request, as data for `run`."""

    operation: str  # the XMLVend operation: the name its idempotency record carries
    kind: str  # the stored transaction's kind: credit, fbe, engineering
    fingerprint: tuple[str, ...]  # the Ask fields that tell a retry from a reused msgID
    answer: Callable[[Done], dict[str, Any]]  # step 5: the response stored and returned
    vends: bool = True  # refuse a blocked meter; add to the meter's month figures
    priced: bool = False  # price the tender (recovering debt, fixed charge, FBE with it)
    free_basic_alone: bool = False  # FBE without money (pricing.issue_fbe decides if due)
    debits_float: bool = False  # debit the vendor's float for the tender (step 4, last)
    shows_float: bool = False  # the answer shows the float (after the debit, or as it stands)
    issue: TokenIssuer | None = None  # tokens other than credits (engineering)
    audit_action: str | None = None  # the audit event recorded with the transaction
    funding: Funding | None = None  # a tender paid by something else than the float (priced)


def _fingerprint(plan: Plan, ask: Ask) -> str:
    return idempotency.request_hash(
        plan.operation, **{name: getattr(ask, name) for name in plan.fingerprint}
    )


def remember_refusal(ctx: Context, plan: Plan, ask: Ask, refused: errors.GatewayError) -> None:
    """Remember a refusal decided before the plan ran (a voucher PIN the screen refused), as
    `run` remembers its own: that msgID stays refused."""
    idempotency.remember_refusal(
        ctx.runtime.sessions, ask.header, plan.operation, _fingerprint(plan, ask), refused
    )


def run(ctx: Context, plan: Plan, ask: Ask) -> dict[str, Any]:
    """Run `plan` for `ask` exactly once for its msgID: the stored response."""
    fingerprint = _fingerprint(plan, ask)

    def work(session: Session, request_id: int) -> idempotency.Answer:
        clock = ctx.clock()
        tendered = None if plan.funding is None else plan.funding.tender(ctx, session, ask, clock)
        found = flow.find_meter(session, ask.meter, clock)  # 1
        if plan.vends:
            meters.require_active(found.meter)
        amount = ask.amount if tendered is None else tendered.amount_cents
        priced, credits = _price(ctx, plan, found, amount, ask.units, clock, session)  # 2
        if plan.issue is not None:  # 3
            issued = plan.issue(ctx, session, found.meter, ask, clock)
        else:
            issued = flow.issue_tokens(
                session, ctx.runtime.security_module, found.meter, credits, clock
            )
        meter = flow.advance_meter(session, found.meter, issued)  # 4
        if plan.vends:
            flow.add_to_month(
                session,
                meter,
                clock.month,
                priced,
                sum(units for kind, units in credits if kind == "fbe"),
            )
        if priced is not None:
            flow.recover_debt(session, found.meter, priced.quote.debt_recovered_cents)
        tx = flow.store_transaction(
            session,
            request_id,
            plan.kind,
            ask.who,
            ask.header,
            meter,
            clock,
            priced,
            issued,
            ask.pay_type or "",
        )
        if plan.audit_action is not None:
            audit.record(
                session,
                f"{ask.who.client_id}/{ask.who.terminal_id}",
                plan.audit_action,
                ask.meter,
                eng_type=ask.eng_type,
                value=ask.value,
                msg_id=ask.header.msg_id.key,
                tokens=len(issued.tokens),
            )
        posting: VendPosting | None = None
        funded = None
        if plan.funding is not None:
            assert priced is not None
            funded = plan.funding.settle(ctx, session, ask, tx, priced, tendered)
        if plan.debits_float:
            assert priced is not None
            posting = flow.debit_float(
                session, ask.who, tx, priced, ctx.runtime.settings.utility.timezone
            )
        if posting is not None:
            available: int | None = posting.available_cents
        elif funded is not None:
            available = funded.available_cents
        elif plan.shows_float:
            available = vendor_floats.balance(session, ask.who.vendor_id).available_cents
        else:
            available = None
        done = Done(ask, meter, tx, priced, issued, available, found.meter)
        return idempotency.Answer(
            plan.answer(done),  # 5
            posting.journal_entry_id
            if posting is not None
            else None
            if funded is None
            else funded.journal_entry_id,
        )

    return idempotency.run_once(
        ctx.runtime.sessions, ask.header, plan.operation, fingerprint, work, meter_number=ask.meter
    )


def _price(
    ctx: Context,
    plan: Plan,
    found: MeterInMonth,
    amount: int | None,
    units_asked: int | None,
    clock: flow.VendClock,
    session: Session,
) -> tuple[flow.PricedVend | None, list[tuple[str, int]]]:
    """Step 2: the quote (or none) of the tender and the credit tokens it buys, (kind, units)."""
    settings = ctx.runtime.settings
    if plan.priced:
        if amount is None:  # a units purchase: its tender, priced from these very figures
            assert units_asked is not None
            amount = units.tender_in_month(
                session, ctx.tariffs, found, units_asked, clock, settings
            )
        priced = flow.price(session, ctx.tariffs, found, amount, clock, settings)
        credits = [("credit", priced.quote.units_tenths)]
        if priced.quote.fbe_units_tenths:
            credits.append(("fbe", priced.quote.fbe_units_tenths))
        return priced, credits
    if plan.free_basic_alone:
        fbe = pricing.issue_fbe(
            flow.position(found.meter, found.month), flow.pricing_policy(settings)
        )
        return None, [("fbe", fbe.units_tenths)]
    return None, []


def receipt_answer(done: Done) -> dict[str, Any]:
    """Step 5 of a vend: the receipt, showing the vendor's float."""
    assert done.available_cents is not None
    receipt = flow.build_receipt(
        done.tx.receipt_no,
        done.tx.created_at,
        done.meter,
        done.priced,
        done.issued,
        done.available_cents,
        done.ask.header.msg_id,
        before=done.before,
    )
    return receipt_to_json(receipt)


CREDIT_VEND = Plan(
    operation="CreditVend",
    kind="credit",
    fingerprint=("meter", "amount", "pay_type"),
    answer=receipt_answer,
    priced=True,
    debits_float=True,
    shows_float=True,
)
# A units purchase value: the same vend for the smallest tender that buys the units asked for
# (gateway/vend/units.py). An operation of its own: its fingerprint is the units, not an amount.
CREDIT_VEND_UNITS = Plan(
    operation="CreditVendUnits",
    kind="credit",
    fingerprint=("meter", "units", "pay_type"),
    answer=receipt_answer,
    priced=True,
    debits_float=True,
    shows_float=True,
)
FBE_VEND = Plan(
    operation="FBEVend",
    kind="fbe",
    fingerprint=("meter",),
    answer=receipt_answer,
    free_basic_alone=True,
    shows_float=True,
)


def _voucher_tender(
    ctx: Context, session: Session, ask: Ask, clock: flow.VendClock
) -> redemption.Redeemable:
    assert ask.voucher is not None
    return redemption.lock(
        session,
        bytes.fromhex(ask.voucher),
        client_id=ask.who.client_id,
        terminal_id=ask.who.terminal_id,
        now=clock.now,
        today=clock.local.date(),
        tz=clock.tz,
    )


def _voucher_settle(
    ctx: Context,
    session: Session,
    ask: Ask,
    tx: flow.StoredTransaction,
    priced: flow.PricedVend,
    voucher: redemption.Redeemable,
) -> Redeemed:
    return redemption.settle(
        session,
        voucher,
        vendor_id=ask.who.vendor_id,
        transaction_id=tx.id,
        receipt_no=tx.receipt_no,
        split=flow.vend_split(priced),
        at=tx.created_at,
    )


# A scratch-card voucher redeemed: priced like a CreditVend of its face value, paid by the
# voucher liability (its vendor paid at activation); the redeeming vendor's float is shown,
# untouched.
VOUCHER_VEND = Plan(
    operation="VoucherVend",
    kind="voucher",
    fingerprint=("meter", "voucher"),
    answer=receipt_answer,
    priced=True,
    shows_float=True,
    funding=Funding(_voucher_tender, _voucher_settle),
)
