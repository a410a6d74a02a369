"""Account payments (XMLVend PayAccount): a customer pays debt or a service charge at a
terminal, and gets a receipt but no token.

One payment, in one transaction through `idempotency.run_once` (a retry with the same msgID
replays, a refusal is remembered):

* debt: the customer's debt goes down by the amount, in one conditional UPDATE that refuses to
  take it below zero (DebtEx: no debt, or less debt than the payment). A vend racing the
  payment recovers its share of the debt only from the figure it priced (flow.recover_debt's
  compare-and-set), so it is priced again after the payment, and the debt stays exact.
* service_charge: the month's fixed (service) charge of the account's meter still unpaid, paid
  in advance: added to the meter's month figures, so the next vend charges none of it
  (ServiceChrgEx: nothing due, or more than is due). The claim locks the meter's row like a
  vend's, so a vend and a service charge payment for one meter queue and never both pay it.
* then, as for a vend and last, the vendor's float is debited with the same float rules and
  refusals (vendor_accounts.floats.post_vend: floor, status, daily cap, commission) and the
  balanced ledger entry posted: vendor_float against debt_recovered (a debt payment) or against
  fixed_charge_revenue and vat_payable (a service charge). The entry is a 'vend' entry with
  reference `payment:<receipt>`: reversible like a vend, shown in the vendor's statement.
* the payment is stored as a vend transaction of kind 'payment' (its amount as the debt
  recovered, or as the fixed charge paid), so reconciliation expects it in the vendor's report
  like a sale, the batch totals count it, and a reversal gives back exactly what it took.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from core.settings import Settings
from gateway import errors, pricing
from gateway.models import Customer, Meter
from gateway.vend import accounts, flow, idempotency, meters, pipeline
from gateway.vend.models import VendTransaction
from gateway.vend.types import AccountPayment, MsgID, Principal, RequestHeader
from vendor_accounts.floats import VendSplit, post_vend

PURPOSES = ("debt", "service_charge")

_customer = cast(Table, Customer.__table__)
_transaction = cast(Table, VendTransaction.__table__)

_PAY_DEBT = (
    update(_customer)
    .where(_customer.c.id == bindparam("p_customer"), _customer.c.debt_cents >= bindparam("p_paid"))
    .values(debt_cents=_customer.c.debt_cents - bindparam("p_paid"))
    .returning(_customer.c.debt_cents)
)


def check_payment(amount_cents: int, purpose: str) -> None:
    if type(amount_cents) is not int or amount_cents <= 0:
        raise errors.SchemaError(
            "a payment is a positive amount of cents", code="amount", value=amount_cents
        )
    if purpose not in PURPOSES:
        raise errors.SchemaError(
            f"a payment is for one of {', '.join(PURPOSES)}", code="payment-purpose", value=purpose
        )


def _pay_debt(session: Session, customer: Customer, amount_cents: int) -> tuple[int, int]:
    """Take the payment off the debt; (debt before, debt after). DebtEx, changing nothing,
    when there is no debt or less than the payment."""
    after = session.execute(_PAY_DEBT, {"p_customer": customer.id, "p_paid": amount_cents}).scalar()
    if after is not None:
        return after + amount_cents, after
    debt = session.scalar(select(_customer.c.debt_cents).where(_customer.c.id == customer.id))
    if not debt:
        raise errors.Debt(f"account {customer.account_no} has no outstanding debt", code="no-debt")
    raise errors.Debt(
        f"the payment {pricing.format_cents(amount_cents)} is more than the outstanding debt "
        f"{pricing.format_cents(debt)} of account {customer.account_no}",
        code="debt-overpaid",
        debt_cents=debt,
    )


def _service_charge_due(
    session: Session, ctx: pipeline.Context, meter_number: str, clock: flow.VendClock
) -> tuple[meters.MeterInMonth, int]:
    found = flow.find_meter(session, meter_number, clock)
    if found.tariff_version_id is None:
        return found, 0
    steps = ctx.tariffs.steps(session, found.tariff_version_id)
    return found, max(0, steps.monthly_fixed_charge_cents - found.month.fixed_charge_paid_cents)


def _pay_service_charge(
    session: Session,
    ctx: pipeline.Context,
    customer: Customer,
    meter_number: str | None,
    amount_cents: int,
    clock: flow.VendClock,
) -> meters.MeterRecord:
    """Pay the month's service charge in advance; the meter it was paid for. ServiceChrgEx,
    changing nothing, when none is due or less than the payment."""
    due = 0
    found = None
    if meter_number is not None:
        found, due = _service_charge_due(session, ctx, meter_number, clock)
    if found is None or due == 0:
        raise errors.ServiceCharge(
            f"account {customer.account_no} has no service charge due this month",
            code="no-service-charge",
        )
    if amount_cents > due:
        raise errors.ServiceCharge(
            f"the payment {pricing.format_cents(amount_cents)} is more than the service charge "
            f"due this month {pricing.format_cents(due)}",
            code="service-charge-overpaid",
            due_cents=due,
        )
    flow.add_fixed_charge_paid(session, found.meter, clock.month, amount_cents)
    return found.meter


def service_charge_meter(
    session: Session, ctx: pipeline.Context, account_no: str, clock: flow.VendClock
) -> str | None:
    """The account's meter a service charge payment goes to: the first, in number order, with
    a service charge due this month; else its first meter; None for an unknown account (the
    payment's own transaction refuses it, remembered)."""
    try:
        customer = accounts.find_customer(session, account_no)
    except errors.ConfirmCustomer:
        return None
    numbers = list(
        session.scalars(
            select(Meter.meter_number)
            .where(Meter.customer_id == customer.id)
            .order_by(Meter.meter_number)
        )
    )
    for number in numbers:
        if _service_charge_due(session, ctx, number, clock)[1] > 0:
            return number
    return numbers[0] if numbers else None


def _first_meter(session: Session, customer: Customer) -> tuple[int, str] | None:
    """The account's first meter (id, number): what a debt payment is recorded against, for the
    vendor report's meter column."""
    row = session.execute(
        select(Meter.id, Meter.meter_number)
        .where(Meter.customer_id == customer.id)
        .order_by(Meter.meter_number)
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _first_meter_number(session: Session, account_no: str) -> str | None:
    try:
        customer = accounts.find_customer(session, account_no)
    except errors.ConfirmCustomer:
        return None  # refused in the payment's own transaction, and remembered
    first = _first_meter(session, customer)
    return None if first is None else first[1]


def _store(
    session: Session,
    request_id: int,
    who: Principal,
    header: RequestHeader,
    customer: Customer,
    meter: tuple[int, str] | None,
    clock: flow.VendClock,
    amount_cents: int,
    purpose: str,
    vat_cents: int,
    pay_type: str,
) -> str:
    receipt_no = f"{request_id:012d}"
    debt = purpose == "debt"
    session.execute(
        insert(_transaction).values(
            receipt_no=receipt_no,
            request_id=request_id,
            kind="payment",
            status="issued",
            vendor_id=who.vendor_id,
            client_id=who.client_id,
            terminal_id=who.terminal_id,
            operator=header.operator,
            pay_type=pay_type,
            msg_id=header.msg_id.key,
            meter_id=None if meter is None else meter[0],
            meter_number="" if meter is None else meter[1],
            customer_id=customer.id,
            tariff_version_id=None,
            month=clock.month,
            created_at=clock.now,
            tender_cents=amount_cents,
            debt_recovered_cents=amount_cents if debt else 0,
            fixed_charge_cents=0 if debt else amount_cents,
            fixed_charge_vat_cents=0 if debt else vat_cents,
            energy_cents=0,
            energy_vat_cents=0,
            units_tenths=0,
            fbe_units_tenths=0,
            reversal_reason="",
        )
    )
    return receipt_no


def pay_account(
    ctx: pipeline.Context,
    who: Principal,
    header: RequestHeader,
    account_no: str,
    amount_cents: int,
    pay_type: str,
    purpose: str,
) -> AccountPayment:
    check_payment(amount_cents, purpose)
    account_no = accounts.check_account_no(account_no)
    settings: Settings = ctx.runtime.settings
    # The meter the payment is recorded against, known before the claim so that the claim
    # locks its row as a vend's does: a payment then takes its rows in a vend's order (meter,
    # customer, float), and a payment and a vend on one meter queue instead of deadlocking.
    with ctx.runtime.sessions() as session:
        meter_number = (
            service_charge_meter(session, ctx, account_no, ctx.clock())
            if purpose == "service_charge"
            else _first_meter_number(session, account_no)
        )

    def work(session: Session, request_id: int) -> idempotency.Answer:
        clock = ctx.clock()
        customer = accounts.find_customer(session, account_no)
        vat = 0
        meter: tuple[int, str] | None
        if purpose == "debt":
            before, after = _pay_debt(session, customer, amount_cents)
            meter = _first_meter(session, customer)
        else:
            paid = _pay_service_charge(session, ctx, customer, meter_number, amount_cents, clock)
            meter = (paid.id, paid.meter_number)
            vat = amount_cents - pricing.vat_exclusive_cents(
                amount_cents, settings.utility.vat_rate_bp
            )
            before = after = customer.debt_cents
        receipt_no = _store(
            session,
            request_id,
            who,
            header,
            customer,
            meter,
            clock,
            amount_cents,
            purpose,
            vat,
            pay_type,
        )
        split = (
            VendSplit(energy_excl_vat=0, vat=0, debt_recovered=amount_cents)
            if purpose == "debt"
            else VendSplit(energy_excl_vat=0, vat=vat, fixed_charge_excl_vat=amount_cents - vat)
        )
        posting = post_vend(
            session,
            vendor_id=who.vendor_id,
            amount_cents=amount_cents,
            split=split,
            reference=f"payment:{receipt_no}",
            at=clock.now,
            units_tenths=0,
            timezone=settings.utility.timezone,
            rate=who.commission,
        )
        payment = AccountPayment(
            receipt_no=receipt_no,
            msg_id=header.msg_id,
            account_no=customer.account_no,
            customer_name=customer.name,
            purpose=purpose,
            amount_cents=amount_cents,
            debt_before_cents=before,
            debt_after_cents=after,
            avail_credit_cents=posting.available_cents,
            issued_at=clock.now,
            customer_address=customer.address or "",
        )
        return idempotency.Answer(payment_to_json(payment), posting.journal_entry_id)

    fingerprint = idempotency.request_hash(
        "PayAccount", account=account_no, amount=amount_cents, pay_type=pay_type, purpose=purpose
    )
    return payment_from_json(
        idempotency.run_once(
            ctx.runtime.sessions, header, "PayAccount", fingerprint, work, meter_number=meter_number
        )
    )


def payment_to_json(p: AccountPayment) -> dict[str, Any]:
    return {
        "receipt_no": p.receipt_no,
        "msg_id": {"date_time": p.msg_id.date_time, "unique_number": p.msg_id.unique_number},
        "account_no": p.account_no,
        "customer_name": p.customer_name,
        "purpose": p.purpose,
        "amount_cents": p.amount_cents,
        "debt_before_cents": p.debt_before_cents,
        "debt_after_cents": p.debt_after_cents,
        "avail_credit_cents": p.avail_credit_cents,
        "issued_at": p.issued_at.isoformat(),
        "customer_address": p.customer_address,
    }


def payment_from_json(body: dict[str, Any]) -> AccountPayment:
    return AccountPayment(
        receipt_no=body["receipt_no"],
        msg_id=MsgID(**body["msg_id"]),
        account_no=body["account_no"],
        customer_name=body["customer_name"],
        purpose=body["purpose"],
        amount_cents=body["amount_cents"],
        debt_before_cents=body["debt_before_cents"],
        debt_after_cents=body["debt_after_cents"],
        avail_credit_cents=body["avail_credit_cents"],
        issued_at=datetime.fromisoformat(body["issued_at"]),
        customer_address=body.get("customer_address", ""),
    )
