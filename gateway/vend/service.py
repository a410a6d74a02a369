"""`DatabaseVendingService`: the XMLVend operations on the real database.

The token-issuing operations (CreditVend, FBEVend, MeterSpecificEng: the key change and the
engineering tokens) are plans of the one vend pipeline (gateway/vend/pipeline.py), which runs
them through `idempotency.run_once`: one transaction that claims the request's (clientID, msgID),
does the work and stores the answer; retries get the stored answer, refusals are remembered.
Requests for one meter queue on the meter's row lock, taken by the claim; a vend that still lost
a race for its meter is priced again. Every operation is wrapped in the one error table
(gateway/vend/refusals.py), so every door gets gateway errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import transaction, utcnow
from core.keys import derive_voucher_key
from core.runtime import Runtime
from gateway import errors, pricing
from gateway.tariffs import TariffBook
from gateway.vend import (
    accounts,
    batches,
    engineering,
    fault_reports,
    flow,
    idempotency,
    meters,
    payments,
    pipeline,
    refusals,
    units,
)
from gateway.vend.meters import MeterInMonth
from gateway.vend.models import VendReprint, VendRequest, VendTransaction
from gateway.vend.receipts import receipt_from_json
from gateway.vend.types import (
    AccountPayment,
    AdviceResult,
    BatchInfo,
    BatchReport,
    BatchStatus,
    CustomerInfo,
    EngineeringResult,
    FaultReport,
    KeyChangeResult,
    Movement,
    MsgID,
    Principal,
    RequestHeader,
    VendorStatement,
    VendReceipt,
)
from gateway.vouchers import attempts as voucher_attempts
from gateway.vouchers import pins as voucher_pins
from vendor_accounts import floats as vendor_floats
from vendor_accounts.statements import recent_movements

REPRINT_LAST_N = 3
# The operations whose stored answer is a vend receipt (what LastResponseAdvice hands back).
RECEIPT_OPERATIONS = frozenset(
    {
        pipeline.CREDIT_VEND.operation,
        pipeline.CREDIT_VEND_UNITS.operation,
        pipeline.FBE_VEND.operation,
    }
)
TRIAL_TOKEN = "0" * 20


def _available(session: Session, vendor_id: int) -> int:
    return vendor_floats.balance(session, vendor_id).available_cents


def require(who: Principal, privilege: str) -> None:
    if privilege not in who.privileges:
        raise errors.RequestAuthorisation(
            f"terminal {who.terminal_id} may not {privilege}", code=f"no-{privilege}-privilege"
        )


def _movement_kind(kind: str, reference: str) -> str:
    # An account payment debits the float as a vend entry (same rules, reversible like one);
    # its reference tells the statement it was a payment.
    return "payment" if kind == "vend" and reference.startswith("payment:") else kind


@refusals.translating
class DatabaseVendingService:
    def __init__(self, runtime: Runtime, clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = clock
        self.tz = ZoneInfo(self.settings.utility.timezone)
        self.tariffs = TariffBook()
        self.pipeline = pipeline.Context(runtime, self.tariffs, self.vend_clock)
        self.voucher_key = derive_voucher_key(self.settings.master_key())

    # -- plumbing ---------------------------------------------------------------------------

    def vend_clock(self) -> flow.VendClock:
        return flow.VendClock(self.clock(), self.tz)

    def _meter_for_vend(
        self, session: Session, meter_number: str, clock: flow.VendClock
    ) -> MeterInMonth:
        found = flow.find_meter(session, meter_number, clock)
        meters.require_active(found.meter)
        return found

    # -- revenue domain ---------------------------------------------------------------------

    def confirm_customer(
        self, who: Principal, header: RequestHeader, meter_number: str
    ) -> CustomerInfo:
        require(who, "vend")
        clock = self.vend_clock()
        with self.runtime.sessions() as session:
            found = flow.find_meter(session, meter_number, clock)
            meter = found.meter
            last = session.scalar(
                select(func.max(VendTransaction.created_at)).where(
                    VendTransaction.meter_id == meter.id,
                    VendTransaction.kind == "credit",
                    VendTransaction.status != "reversed",
                )
            )
            customer = meter.customer
            position = flow.position(meter, found.month)
            return CustomerInfo(
                meter=meters.meter_detail(meter),
                customer_name=customer.name if customer else "",
                address=customer.address if customer else "",
                account_no=customer.account_no if customer else "",
                days_since_last_purchase=(clock.now - last).days if last else None,
                can_vend=meter.status == "active",
                fbe_due=pricing.fbe_due_tenths(position, flow.pricing_policy(self.settings)) > 0,
                min_vend_cents=self.settings.utility.min_vend_cents,
                max_vend_cents=self.settings.utility.max_vend_cents,
                arrears_cents=customer.debt_cents if customer else 0,
            )

    def confirm_customer_by_account(
        self, who: Principal, header: RequestHeader, account_no: str
    ) -> tuple[CustomerInfo, ...]:
        """ConfirmCustomer by account number: the customer as seen through each of the
        account's meters, in meter-number order; ConfirmCustomerEx when it has none."""
        require(who, "vend")
        with self.runtime.sessions() as session:
            numbers = accounts.meter_numbers(session, account_no)
        return tuple(self.confirm_customer(who, header, number) for number in numbers)

    def credit_vend(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        amount_cents: int,
        pay_type: str,
    ) -> VendReceipt:
        require(who, "vend")
        return receipt_from_json(
            pipeline.run(
                self.pipeline,
                pipeline.CREDIT_VEND,
                pipeline.Ask(who, header, meter_number, amount=amount_cents, pay_type=pay_type),
            )
        )

    def voucher_vend(
        self, who: Principal, header: RequestHeader, meter_number: str, pin: str
    ) -> VendReceipt:
        """Redeem a scratch-card voucher for the meter: the VoucherVend plan. Refused while the
        terminal is over the guessing limit; a PIN that redeems nothing is judged and counted
        by the screen under the terminal's exclusive lock (gateway/vouchers/attempts.py), and
        audited with the terminal and the serial it matched, never the PIN."""
        require(who, "redeem")
        clock = self.vend_clock()
        if not voucher_pins.valid_pin(pin):
            ask = pipeline.Ask(who, header, meter_number, voucher="")
            refused = self._screened(ask, None, clock)
            assert refused is not None  # a PIN failing its check digit never redeems
            raise refused
        hashed = voucher_pins.pin_hash(self.voucher_key, pin)
        ask = pipeline.Ask(who, header, meter_number, voucher=hashed.hex())
        for _ in range(2):
            try:
                return receipt_from_json(pipeline.run(self.pipeline, pipeline.VOUCHER_VEND, ask))
            except voucher_attempts.Unjudged:
                refused = self._screened(ask, hashed, clock)
                if refused is not None:
                    raise refused from None
                # Activated between the vend's look and the screen's: the vend decides.
        raise errors.SystemError_(
            "the voucher changed while it was being redeemed; retry with the same msgID",
            code="contention",
        )

    def _screened(
        self, ask: pipeline.Ask, hashed: bytes | None, clock: flow.VendClock
    ) -> errors.GatewayError | None:
        """The screen's verdict on a PIN (committed with its attempt), remembered for the
        msgID as the vend's own refusals are; None when the PIN redeems after all."""
        who, header = ask.who, ask.header
        try:
            with transaction(self.runtime.sessions) as session:
                refused: errors.GatewayError | None = voucher_attempts.screen(
                    session,
                    client_id=who.client_id,
                    terminal_id=who.terminal_id,
                    msg_date_time=header.msg_id.date_time,
                    msg_unique_number=header.msg_id.unique_number,
                    pin_hash=hashed,
                    now=clock.now,
                    today=clock.local.date(),
                    tz=clock.tz,
                )
        except errors.RequestAuthorisation as locked_out:
            refused = locked_out
        if refused is not None:
            pipeline.remember_refusal(self.pipeline, pipeline.VOUCHER_VEND, ask, refused)
        return refused

    def trial_credit_vend(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        amount_cents: int,
        pay_type: str,
    ) -> VendReceipt:
        """The same answer as a vend with tokens of twenty zeros; nothing is debited or stored."""
        require(who, "vend")
        return self._trial(who, header, meter_number, amount_cents, None)

    def _trial(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        amount_cents: int | None,
        units_tenths: int | None,
    ) -> VendReceipt:
        clock = self.vend_clock()
        with self.runtime.sessions() as session:
            found = self._meter_for_vend(session, meter_number, clock)
            meter = found.meter
            if amount_cents is None:
                assert units_tenths is not None
                amount_cents = units.tender_in_month(
                    session, self.tariffs, found, units_tenths, clock, self.settings
                )
            priced = flow.price(session, self.tariffs, found, amount_cents, clock, self.settings)
            # The debit's own question (status, floor, daily cap): a trial never says yes
            # where the vend would refuse.
            refused = vendor_floats.debit_refusal(
                session,
                who.vendor_id,
                amount_cents,
                at=clock.now,
                timezone=self.settings.utility.timezone,
            )
            if refused is not None:
                raise refused
            available = _available(session, who.vendor_id)
            zeros = [flow.IssuedToken("credit", TRIAL_TOKEN, None, priced.quote.units_tenths)]
            if priced.quote.fbe_units_tenths:
                zeros.append(
                    flow.IssuedToken("fbe", TRIAL_TOKEN, None, priced.quote.fbe_units_tenths)
                )
            # The key change the vend would issue, so the trial's receipt shows where it moves
            # the meter from and to (its tokens are zeros like the others).
            new_keys = meters.pending_keys(session, meter) if meter.has_pending_key_change else None
            if new_keys is not None:
                zeros[:0] = [flow.IssuedToken("keychange", TRIAL_TOKEN, None)] * 2
            issued = flow.IssuedTokens(tuple(zeros), meter.last_tid, new_keys)
            shown = meter if new_keys is None else meters.after_key_change(meter, new_keys)
            return flow.build_receipt(
                "TRIAL",
                clock.now,
                shown,
                priced,
                issued,
                available - amount_cents,
                header.msg_id,
                before=meter,
            )

    def credit_vend_units(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        units_tenths: int,
        pay_type: str,
    ) -> VendReceipt:
        """A units purchase value: the vend of the smallest whole-cent tender that buys at
        least `units_tenths` (gateway/vend/units.py); the receipt says the tender charged."""
        require(who, "vend")
        return receipt_from_json(
            pipeline.run(
                self.pipeline,
                pipeline.CREDIT_VEND_UNITS,
                pipeline.Ask(who, header, meter_number, units=units_tenths, pay_type=pay_type),
            )
        )

    def trial_credit_vend_units(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        units_tenths: int,
        pay_type: str,
    ) -> VendReceipt:
        """TrialCreditVend with a units purchase value: the tender it would charge, tokens of
        twenty zeros, nothing debited or stored."""
        require(who, "vend")
        return self._trial(who, header, meter_number, None, units_tenths)

    def fbe_vend(self, who: Principal, header: RequestHeader, meter_number: str) -> VendReceipt:
        require(who, "vend")
        return receipt_from_json(
            pipeline.run(self.pipeline, pipeline.FBE_VEND, pipeline.Ask(who, header, meter_number))
        )

    def reprint(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        original_msg_id: MsgID | None,
    ) -> tuple[VendReceipt, ...]:
        """The stored receipts, never regenerated: of one transaction or the meter's last 3,
        only ever of the caller's own vendor (a receipt carries its vendor's float balance)."""
        require(who, "reprint")
        meters.check_meter_number(meter_number)
        with transaction(self.runtime.sessions) as session:
            query = (
                select(VendTransaction, VendRequest.response_json)
                .join(VendRequest, VendRequest.id == VendTransaction.request_id)
                .where(
                    VendTransaction.meter_number == meter_number,
                    VendTransaction.vendor_id == who.vendor_id,
                    VendTransaction.kind.in_(("credit", "fbe")),
                )
            )
            if original_msg_id is not None:
                query = query.where(
                    VendRequest.client_id == who.client_id,
                    VendRequest.msg_date_time == original_msg_id.date_time,
                    VendRequest.msg_unique_number == original_msg_id.unique_number,
                )
            else:
                query = query.order_by(VendTransaction.id.desc()).limit(REPRINT_LAST_N)
            rows = session.execute(query).all()
            if not rows:
                meters.find_meter(session, meter_number)  # UnknownMeterEx when it is that
                raise errors.BusinessRuleError(
                    "no vend to reprint for that meter and msgID", code="nothing-to-reprint"
                )
            session.add_all(
                VendReprint(
                    at=self.clock(),
                    client_id=who.client_id,
                    terminal_id=who.terminal_id,
                    operator=header.operator,
                    msg_id=header.msg_id.key,
                    transaction_id=tx.id,
                )
                for tx, _ in rows
            )
            return tuple(
                receipt_from_json(json.loads(body), reversed_=tx.status == "reversed")
                for tx, body in rows
            )

    # -- advice -------------------------------------------------------------------------------
    #
    # An advice first settles the original msgID's fate through its idempotency key
    # (idempotency.settle): a request still in flight is waited for, and one that never arrived
    # is recorded as declared not processed, committed with that answer. Confirmation and
    # reversal then lock the vend's transaction row, so whichever comes second sees the first's
    # result.

    def _advised_transaction(
        self, session: Session, who: Principal, original_msg_id: MsgID, advice: str
    ) -> VendTransaction | None:
        """The original request's transaction, locked; None when it has none (never arrived,
        refused, or not a vend)."""
        row = idempotency.settle(session, who.client_id, who.terminal_id, original_msg_id, advice)
        if row is None or idempotency.declared_not_processed(row):
            return None
        return flow.lock_transaction(session, row.id)

    def confirmation_advice(
        self, who: Principal, header: RequestHeader, original_msg_id: MsgID
    ) -> AdviceResult:
        with transaction(self.runtime.sessions) as session:
            tx = self._advised_transaction(session, who, original_msg_id, "ConfirmationAdvice")
            if tx is not None:
                if tx.status == "reversed":
                    raise errors.ConfirmationError(
                        f"transaction {tx.receipt_no} was reversed and cannot be confirmed",
                        code="already-reversed",
                    )
                if tx.status == "issued":
                    tx.status = "confirmed"
                    tx.confirmed_at = self.clock()
                return AdviceResult(original_msg_id, tx.receipt_no, confirmed=True)
        # Raised after the commit: a "not processed" answer is only given once it is recorded.
        raise errors.ConfirmationError(
            f"no transaction with msgID {original_msg_id.key} to confirm"
        )

    def reversal_advice(
        self, who: Principal, header: RequestHeader, original_msg_id: MsgID
    ) -> AdviceResult:
        require(who, "reverse")
        with transaction(self.runtime.sessions) as session:
            tx = self._advised_transaction(session, who, original_msg_id, "ReversalAdvice")
            if tx is not None:
                available = self._reverse(
                    session,
                    tx,
                    reason="reversal advice",
                    actor=f"{who.client_id}/{who.terminal_id}",
                    enforce_policy=True,
                )
                return AdviceResult(
                    original_msg_id, tx.receipt_no, reversed=True, avail_credit_cents=available
                )
        raise errors.ReversalError(
            f"no transaction with msgID {original_msg_id.key} to reverse",
            code="unknown-transaction",
        )

    def reverse_by_receipt(self, receipt_no: str, reason: str, operator: str) -> VendTransaction:
        """An authorised utility operator's reversal (`vendgw vend reverse`): no time window,
        but never of a confirmed vend, and audited."""
        with transaction(self.runtime.sessions) as session:
            tx = session.scalar(
                select(VendTransaction)
                .where(VendTransaction.receipt_no == receipt_no)
                .with_for_update()
            )
            if tx is None:
                raise errors.ReversalError(
                    f"no transaction with receipt {receipt_no}", code="unknown-transaction"
                )
            self._reverse(session, tx, reason=reason, actor=operator, enforce_policy=False)
            return tx

    def _reverse(
        self,
        session: Session,
        tx: VendTransaction,
        *,
        reason: str,
        actor: str,
        enforce_policy: bool,
    ) -> int:
        """Reverse `tx`, which the caller has locked, so its status is the last word."""
        if tx.status == "reversed":
            return _available(session, tx.vendor_id)  # idempotent
        if tx.kind == "engineering":
            raise errors.ReversalError(
                "engineering tokens cannot be reversed", code="not-reversible"
            )
        if tx.kind == "voucher":
            raise errors.ReversalError(
                "a voucher redemption cannot be reversed: its PIN is spent", code="not-reversible"
            )
        if tx.status == "confirmed":
            raise errors.ReversalError(
                f"transaction {tx.receipt_no} was confirmed", code="already-confirmed"
            )
        window = timedelta(minutes=self.settings.server.reversal_window_minutes)
        now = self.clock()
        if enforce_policy and now - tx.created_at > window:
            raise errors.ReversalError(
                f"transaction {tx.receipt_no} is older than the {window} reversal window",
                code="outside-window",
            )
        flow.lock_for_reversal(session, tx)
        posting = flow.credit_float(session, tx, now, self.settings.utility.timezone)
        # A replayed posting means the ledger already holds this vend's reversal: its debt and
        # month figures were given back with it, and must not be given back twice.
        replayed = posting is not None and posting.replayed
        if not replayed:
            flow.give_back_month(session, tx)
            flow.give_back_debt(session, tx)
        tx.status = "reversed"
        tx.reversed_at = now
        tx.reversal_reason = reason
        audit.record(
            session,
            actor,
            "vend.reverse",
            tx.receipt_no,
            reason=reason,
            amount_cents=tx.tender_cents,
            replayed=replayed,
        )
        session.flush()
        return _available(session, tx.vendor_id)

    def last_response_advice(
        self, who: Principal, header: RequestHeader, original_msg_id: MsgID
    ) -> VendReceipt:
        found: tuple[idempotency.StoredOutcome, str | None] | None = None
        with transaction(self.runtime.sessions) as session:
            row = idempotency.settle(
                session, who.client_id, who.terminal_id, original_msg_id, "LastResponseAdvice"
            )
            if row is not None and not idempotency.declared_not_processed(row):
                found = (
                    idempotency.stored_outcome(row),
                    session.scalar(
                        select(VendTransaction.status).where(VendTransaction.request_id == row.id)
                    ),
                )
        if found is None:
            # After the commit: the answer stands from now on (a late original is refused).
            raise errors.LastResponseError(
                f"no request with msgID {original_msg_id.key}; it was not processed"
            )
        outcome, status = found
        if outcome.outcome == "refused":
            raise idempotency.refusal_error(outcome.response)
        if outcome.operation not in RECEIPT_OPERATIONS:
            raise errors.LastResponseError(
                f"the request with msgID {original_msg_id.key} was a {outcome.operation}, "
                "not a vend: send that request again with its msgID for its answer",
                code="not-a-vend",
            )
        return receipt_from_json(outcome.response, reversed_=status == "reversed")

    # -- vendor -------------------------------------------------------------------------------

    def vendor_statement(
        self, who: Principal, header: RequestHeader, max_items: int
    ) -> VendorStatement:
        max_items = max(0, min(max_items, 100))
        with self.runtime.sessions() as session:
            state = vendor_floats.balance(session, who.vendor_id)
            moves = recent_movements(session, who.vendor_id, max_items)  # times in UTC
        return VendorStatement(
            balance_cents=state.balance_cents,
            floor_cents=state.floor_cents,
            avail_credit_cents=state.available_cents,
            movements=tuple(
                Movement(
                    m.at,
                    _movement_kind(m.kind, m.reference),
                    m.reference,
                    m.amount_cents,
                    m.balance_cents,
                )
                for m in moves
            ),
        )

    # -- account payments (gateway/vend/payments.py) -----------------------------------------

    def pay_account(
        self,
        who: Principal,
        header: RequestHeader,
        account_no: str,
        amount_cents: int,
        pay_type: str,
        purpose: str,
    ) -> AccountPayment:
        """A debt or service charge payment, no token: the debt (or the month's service charge)
        goes down, the float is debited as for a vend, the ledger posts it."""
        require(who, "vend")
        return payments.pay_account(
            self.pipeline, who, header, account_no, amount_cents, pay_type, purpose
        )

    # -- customer fault reports (gateway/vend/fault_reports.py) -------------------------------

    def report_fault(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str | None,
        account_no: str | None,
        fault_kind: str,
        description: str,
        contact: str,
    ) -> FaultReport:
        """A meter or network fault, stored with a reference number (`vendgw fault list`)."""
        return fault_reports.report_fault(
            self.runtime.sessions,
            who,
            header,
            meter_number,
            account_no,
            fault_kind,
            description,
            contact,
            self.clock(),
        )

    # -- batches and shifts (gateway/vend/batches.py) -----------------------------------------

    def batch_status(self, who: Principal) -> BatchStatus:
        """The terminal's open batch numbers: one indexed read, for every vend response."""
        with self.runtime.sessions() as session:
            return batches.batch_status(session, who)

    def start_batch(self, who: Principal, header: RequestHeader, kind: str) -> BatchInfo:
        require(who, "vend")
        return batches.start_batch(self.runtime.sessions, who, header, kind, self.clock)

    def end_batch(self, who: Principal, header: RequestHeader, kind: str) -> BatchReport:
        require(who, "vend")
        return batches.end_batch(self.runtime.sessions, who, header, kind, self.clock)

    def total_batch(self, who: Principal, header: RequestHeader, kind: str) -> BatchReport:
        require(who, "vend")
        with self.runtime.sessions() as session:
            return batches.total_batch(session, who, kind)

    def reprint_end_batch(
        self, who: Principal, header: RequestHeader, kind: str, batch_no: str | None
    ) -> BatchReport:
        require(who, "vend")
        with self.runtime.sessions() as session:
            return batches.reprint_end_batch(session, who, kind, batch_no)

    # -- meter domain (engineering) ------------------------------------------------------------

    def meter_specific_eng(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        eng_type: str,
        value: int | None,
    ) -> EngineeringResult:
        require(who, "engineering")
        return engineering.meter_specific(self.pipeline, who, header, meter_number, eng_type, value)

    def update_meter_key(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        to_sgc: str | None,
        to_krn: int | None,
        to_ti: str | None,
    ) -> KeyChangeResult:
        """A key change to the requested SGC / KRN / TI (None keeps the meter's): the two key
        change tokens, the meter's record moved to the new key data; UpdateMtrKeySameEx when
        nothing would change."""
        require(who, "engineering")
        return engineering.update_meter_key(
            self.pipeline, who, header, meter_number, to_sgc, to_krn, to_ti
        )

    def non_meter_specific_eng(
        self, who: Principal, header: RequestHeader, eng_type: str, mfr_code: int | None
    ) -> EngineeringResult:
        require(who, "engineering")
        return engineering.non_meter_specific(self.runtime, who, header, eng_type, mfr_code)
