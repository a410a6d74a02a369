"""Between the wire and the vend path: msgIDs, amounts, meter numbers, money and energy."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.errors import SchemaError
from gateway.soap import convert
from gateway.soap import types as t
from gateway.vend import refusals
from gateway.vend.types import MeterDetail, MsgID, ReceiptLine, VendReceipt


def wire(date_time: str | None, number: int | None) -> t.MsgID:
    return t.MsgID(dateTime=date_time, uniqueNumber=number)


def test_msg_id() -> None:
    assert convert.msg_id(wire("20250131235959", 42)) == MsgID("20250131235959", 42)


@pytest.mark.parametrize(
    ("date_time", "number"),
    [
        ("20251301120000", 1),  # month 13
        ("20250230120000", 1),  # 30 February
        ("2025013112000", 1),  # 13 digits
        ("2025013112000x", 1),
        ("20250131120000", 0),  # not positive
        ("20250131120000", -5),
        ("20250131120000", 10**18),
        (None, 1),
        ("20250131120000", None),
    ],
)
def test_bad_msg_ids_are_schema_faults(date_time: str | None, number: int | None) -> None:
    with pytest.raises(SchemaError) as caught:
        convert.msg_id(wire(date_time, number))
    assert caught.value.fault_type == "XMLVendSchemaEx"


def test_missing_msg_id() -> None:
    with pytest.raises(SchemaError):
        convert.msg_id(None)


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (Decimal("100.50"), 10050),
        (Decimal("0.01"), 1),
        (Decimal("5"), 500),
        (Decimal("1E+2"), 10000),
        ("12.3", 1230),
    ],
)
def test_amounts(value: object, cents: int) -> None:
    assert convert.amount_cents(value) == cents


@pytest.mark.parametrize(
    "value", [Decimal("0"), Decimal("-1.00"), Decimal("1.001"), "abc", Decimal("1234567890123.00")]
)
def test_bad_amounts(value: object) -> None:
    # The refusal is translated where the edge calls the converter (gateway/vend/refusals.py).
    with pytest.raises(SchemaError) as caught, refusals.translated():
        convert.amount_cents(value)
    assert caught.value.code == "amount"


@pytest.mark.parametrize("number", ["01234567897", "6007270123456"])
def test_meter_numbers(number: str) -> None:
    assert convert.meter_number(number) == number


@pytest.mark.parametrize(
    "number", ["0123456789", "012345678970", "0123456789a", "", None, " 01234567897", "٠١٢٣٤٥٦٧٨٩٧"]
)
def test_bad_meter_numbers(number: str | None) -> None:
    with pytest.raises(SchemaError) as caught:
        convert.meter_number(number)
    assert caught.value.code == "meter-number"


def test_money_and_energy_keep_their_decimals() -> None:
    assert str(convert.cents(10050)) == "100.50"
    assert str(convert.cents(0)) == "0.00"
    assert str(convert.cents(-5)) == "-0.05"
    assert str(convert.kwh(673)) == "67.3"
    assert str(convert.kwh(0)) == "0.0"


def test_receipt_fields() -> None:
    meter = MeterDetail("01234567897", "123456", 1, "01", "07", 2, "02")
    receipt = VendReceipt(
        receipt_no="R1",
        msg_id=MsgID("20250101120000", 7),
        meter=meter,
        customer_name="T",
        account_no="ACC",
        tender_cents=10000,
        units_tenths=567,
        avail_credit_cents=99000,
        tariff_description="Domestic",
        issued_at=datetime(2025, 1, 1, tzinfo=UTC),
        lines=(ReceiptLine("credit", "Electricity", 8696, 1304, 567, ("1" * 20,)),),
    )
    fields = convert.receipt_fields(receipt)
    assert fields["tenderAmount"] == Decimal("100.00")
    assert fields["units"] == Decimal("56.7")
    assert fields["vendMsgID"].uniqueNumber == 7
    line = fields["transactions"][0]
    assert (line.type, line.amount, line.vat, line.tokens) == (
        "credit",
        Decimal("86.96"),
        Decimal("13.04"),
        ["1" * 20],
    )
