"""Between the wire and the vend path: spyne request objects in, gateway.vend.types values out.

Pure functions, no I/O. Inbound, they rebuild what the schema already checked into the values the
service takes (MsgID, integer cents) and refuse what the schema cannot say (SchemaError). Outbound,
integer cents and tenths become 2- and 1-decimal xs:decimal values through core.money, so the
wire never sees a float, and every time is shown in UTC (`utc`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core import money
from gateway.errors import SchemaError
from gateway.soap import types as t
from gateway.vend import meters
from gateway.vend.types import (
    AdviceResult,
    CustomerInfo,
    EngineeringResult,
    MeterDetail,
    MsgID,
    ReceiptLine,
    VendorStatement,
    VendReceipt,
)

DEFAULT_MAX_ITEMS = 10


# Inbound -----------------------------------------------------------------------------------


def msg_id(value: Any) -> MsgID:
    """A spyne MsgID -> types.MsgID (which checks the date and the number)."""
    if value is None or value.dateTime is None or value.uniqueNumber is None:
        raise SchemaError("msgID needs dateTime and uniqueNumber", code="msg-id")
    return MsgID(str(value.dateTime), int(value.uniqueNumber))


def meter_number(value: Any) -> str:
    """Digits only, 11 or 13 of them; the check digit and the lookup are the service's."""
    return meters.check_meter_number("" if value is None else str(value), check_digit=False)


def amount_cents(value: Any) -> int:
    """A positive xs:decimal worth a whole number of cents -> cents (money.parse_cents decides).

    The wire's amounts are xs:decimal values, and `50.500` is the value `50.50`: XML Schema's
    decimals compare by value, so trailing zeros after the point say nothing (.NET's decimal
    arithmetic keeps the scale of its operands and sends `50.5000`). They are dropped here, where
    the wire's type ends; `50.505` keeps its third decimal, and money.parse_cents refuses a
    fraction of a cent as it refuses anything it would have to round.
    """
    text = format(value, "f") if isinstance(value, Decimal) else str(value).strip()
    return money.parse_cents(_without_trailing_zeros(text), allow_zero=False)
    # AmountError: translated by gateway/vend/refusals.py into XMLVendSchemaEx (code amount)


def _without_trailing_zeros(text: str) -> str:
    whole, point, fraction = text.partition(".")
    if not point or not fraction.isdigit():
        return text  # not a plain decimal: money.parse_cents refuses it as it is
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


# Outbound ----------------------------------------------------------------------------------


def cents(value: int) -> Decimal:
    return Decimal(money.format_cents(value))


def kwh(tenths: int) -> Decimal:
    return Decimal(money.format_tenths(tenths))


def utc(at: datetime) -> datetime:
    """An instant as the wire shows every time (receipts, statements, respDateTime): in UTC.

    One convention for the whole contract, so a client never has to know the utility's zone to
    compare a statement line with the receipt it records. A naive datetime is refused (it would
    be a guess): the layers below hand over aware instants."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a time for the wire must be timezone-aware")
    return at.astimezone(UTC)


def wire_msg_id(value: MsgID) -> t.MsgID:
    return t.MsgID(dateTime=value.date_time, uniqueNumber=value.unique_number)


def base_fields(
    client_id: str, terminal_id: str, req_msg_id: MsgID, server_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """What every response starts with: the request's IDs echoed, ours added."""
    return {
        "clientID": client_id,
        "serverID": server_id,
        "terminalID": terminal_id,
        "reqMsgID": wire_msg_id(req_msg_id),
        "respDateTime": utc(now) if now is not None else datetime.now(UTC),
    }


def meter_detail(value: MeterDetail) -> t.MeterDetail:
    return t.MeterDetail(
        msno=value.meter_number,
        sgc=value.sgc,
        krn=value.krn,
        ti=value.ti,
        ea=value.ea,
        kt=value.kt,
        tct=value.tct,
    )


def transaction(line: ReceiptLine) -> t.Transaction:
    return t.Transaction(
        type=line.type,
        description=line.description,
        amount=cents(line.amount_cents),
        vat=cents(line.vat_cents),
        units=kwh(line.units_tenths),
        tokens=list(line.tokens),
    )


def receipt_fields(receipt: VendReceipt) -> dict[str, Any]:
    """The receipt part shared by the vend responses and each of Reprint's receipts."""
    return {
        "receiptNo": receipt.receipt_no,
        "vendMsgID": wire_msg_id(receipt.msg_id),
        "issuedAt": utc(receipt.issued_at),
        "meter": meter_detail(receipt.meter),
        "customerName": receipt.customer_name,
        "accountNo": receipt.account_no,
        "tenderAmount": cents(receipt.tender_cents),
        "units": kwh(receipt.units_tenths),
        "availCredit": cents(receipt.avail_credit_cents),
        "tariffDescription": receipt.tariff_description,
        "reversed": receipt.reversed,
        "transactions": [transaction(line) for line in receipt.lines],
    }


def confirm_customer_resp(base: dict[str, Any], info: CustomerInfo) -> t.ConfirmCustomerResp:
    return t.ConfirmCustomerResp(
        **base,
        customer=t.CustomerDetail(
            name=info.customer_name,
            address=info.address,
            accountNo=info.account_no,
            daysLastPurchase=info.days_since_last_purchase,
        ),
        meter=meter_detail(info.meter),
        canVend=info.can_vend,
        fbeDue=info.fbe_due,
        minVendAmount=cents(info.min_vend_cents),
        maxVendAmount=cents(info.max_vend_cents),
        arrears=cents(info.arrears_cents),
    )


def vend_resp(base: dict[str, Any], receipt: VendReceipt) -> t.VendResp:
    return t.VendResp(**base, **receipt_fields(receipt))


def reprint_resp(base: dict[str, Any], receipts: tuple[VendReceipt, ...]) -> t.ReprintResp:
    return t.ReprintResp(**base, receipts=[t.Receipt(**receipt_fields(r)) for r in receipts])


def confirmation_resp(base: dict[str, Any], result: AdviceResult) -> t.ConfirmationAdviceResp:
    return t.ConfirmationAdviceResp(
        **base,
        originalMsgID=wire_msg_id(result.original_msg_id),
        receiptNo=result.receipt_no,
        txConfirmed=result.confirmed,
    )


def reversal_resp(base: dict[str, Any], result: AdviceResult) -> t.ReversalAdviceResp:
    avail = result.avail_credit_cents
    return t.ReversalAdviceResp(
        **base,
        originalMsgID=wire_msg_id(result.original_msg_id),
        receiptNo=result.receipt_no,
        txReversed=result.reversed,
        availCredit=None if avail is None else cents(avail),
    )


def statement_resp(base: dict[str, Any], statement: VendorStatement) -> t.VendorStatementResp:
    return t.VendorStatementResp(
        **base,
        balance=cents(statement.balance_cents),
        floor=cents(statement.floor_cents),
        availCredit=cents(statement.avail_credit_cents),
        movements=[
            t.Movement(
                at=utc(m.at),
                kind=m.kind,
                reference=m.reference,
                amount=cents(m.amount_cents),
                balanceAfter=cents(m.balance_after_cents),
            )
            for m in statement.movements
        ],
    )


def eng_resp(base: dict[str, Any], result: EngineeringResult) -> t.EngResp:
    return t.EngResp(
        **base,
        description=result.description,
        tokens=list(result.tokens),
        meter=None if result.meter is None else meter_detail(result.meter),
    )
