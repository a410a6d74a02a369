"""Unit tests of the XMLVend 2.1 wire: reading requests (the samples and the real-client
deviations), writing responses and faults that validate against the project's schemas, and the
WSDL that is checked in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zeep
from lxml import etree

from gateway import errors
from gateway.errors import FAULT_TYPES, SchemaError
from gateway.vend.types import KeyChangeData, MeterDetail, MsgID, ReceiptLine, VendReceipt
from gateway.xmlvend import faults, read, write
from gateway.xmlvend.names import r
from gateway.xmlvend.wsdl import DEFAULT_PATH, generate
from tests.support.soap import Terminal
from tests.xmlvend import support as x
from tests.xmlvend.support import SAMPLES, SOAP

SAMPLE_FILES = sorted(SAMPLES.rglob("*.xml"))
UTILITY = write.Utility("Demo Power", "1 Demo Street", "4000000001", "ZAR", 1500, "vendgw-1")
ECHO = write.Echo("6004000000019", "ATM-0001", MsgID("20250301101500", 100001), "100001",
                  datetime(2025, 3, 1, 8, 15, tzinfo=UTC))  # fmt: skip
EAN_TERMINAL = Terminal("6004000000019", "6004000000026", "unused")  # a terminal named by EAN
METER = MeterDetail("01234567897", "123456", 1, "01", "07", 2, "02")


def body_of(path: Path) -> etree._Element:
    document = etree.parse(str(path)).getroot()
    return document.find(f"{{{SOAP}}}Body")[0]


def request(xml: bytes) -> etree._Element:
    return etree.fromstring(xml).find(f"{{{SOAP}}}Body")[0]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_every_reference_sample_validates_with_the_strict_helper(path: Path) -> None:
    x.validate(path.read_bytes())


def test_the_strict_helper_refuses_an_untyped_abstract_element() -> None:
    sample = (SAMPLES / "revenue" / "creditVendResp.xml").read_bytes()
    broken = sample.replace(b'<r:tx xsi:type="r:CreditVendTx"', b"<r:tx", 1)
    with pytest.raises(AssertionError, match="not valid"):
        x.validate(broken)


def test_reading_the_credit_vend_sample() -> None:
    element = body_of(SAMPLES / "revenue" / "creditVendReq.xml")
    head = read.header(element)
    assert (head.client_id, head.terminal_id, head.operator) == (
        "6004708000014",
        "POS-0001",
        "OPNAME",
    )
    assert head.msg_id == MsgID("20250301101500", 100001)
    value = read.purchase_value(read.child(element, "purchaseValue"), "ZAR")
    assert value == read.PurchaseValue(cents=10000)
    assert read.pay_type(read.optional_child(element, "payType"), "ZAR") == "cash"


def test_reading_the_units_sample() -> None:
    element = body_of(SAMPLES / "revenue" / "creditVendReq-units.xml")
    value = read.purchase_value(read.child(element, "purchaseValue"), "ZAR")
    assert value == read.PurchaseValue(units_tenths=500)


def test_reading_the_default_namespace_dialect() -> None:
    element = request(
        x.credit_vend_default_namespace(
            EAN_TERMINAL, x.Msg("20250301101500", "0251"), "01234567897", "100"
        )
    )
    head = read.header(element)
    assert head.terminal_id == EAN_TERMINAL.terminal_id  # an EANDeviceID terminal
    assert (head.msg_id.unique_number, head.unique_number_text) == (251, "0251")
    read.resource(element)  # omitted: electricity
    assert read.vend_id_method(read.child(element, "idMethod")) == "01234567897"
    value = read.purchase_value(read.child(element, "purchaseValue"), "ZAR")
    assert value.cents == 10000  # "100" in "R"


@pytest.mark.parametrize(
    ("value", "symbol", "cents"),
    [("100", "ZAR", 10000), ("50.500", "zar", 5050), ("0.5", "R", 50), ("12.30", None, 1230)],
)
def test_amounts_that_are_whole_cents(value: str, symbol: str | None, cents: int) -> None:
    element = etree.Element("amt", value=value)
    if symbol is not None:
        element.set("symbol", symbol)
    assert read.cents(element, "ZAR") == cents


@pytest.mark.parametrize(
    ("value", "symbol", "code"),
    [
        ("100.005", "ZAR", "amount"),
        ("100.00", "USD", "currency"),
        ("1e2", "ZAR", "amount"),
        ("-5", "ZAR", "amount"),
        ("0", "ZAR", "amount"),
        ("abc", "ZAR", "amount"),
    ],
)
def test_ambiguous_amounts_are_refused(value: str, symbol: str, code: str) -> None:
    with pytest.raises(SchemaError) as refused:
        read.cents(etree.Element("amt", value=value, symbol=symbol), "ZAR")
    assert refused.value.code == code


def test_an_unknown_pay_type_is_refused() -> None:
    element = etree.Element("payType")
    element.set(f"{{{x.XSI}}}type", "b:Barter")
    with pytest.raises(SchemaError):
        read.pay_type(element, "ZAR")


def test_id_method_by_account_and_by_meter() -> None:
    account = body_of(SAMPLES / "revenue" / "confirmCustomerReq-account.xml")
    assert read.id_method(read.child(account, "idMethod")) == read.IdentifiedBy(
        account_no="ACC0001"
    )
    meter = body_of(SAMPLES / "revenue" / "confirmCustomerReq-meter.xml")
    assert read.id_method(read.child(meter, "idMethod")).meter_number == "01234567890"


def _receipt(reversed_: bool = False) -> VendReceipt:
    return VendReceipt(
        receipt_no="000000000042",
        msg_id=MsgID("20250301101500", 100001),
        meter=METER,
        customer_name="Pieter van Wyk 2",
        account_no="ACC-0004",
        tender_cents=25000,
        units_tenths=1000,
        avail_credit_cents=-500,
        tariff_description="DOMESTIC: 0-50 kWh @ 1.2000, >50 kWh @ 1.5500 per kWh excl. VAT",
        issued_at=datetime(2025, 3, 1, 8, 15, tzinfo=UTC),
        lines=(
            ReceiptLine("keychange", "Key change", tokens=("1" * 20, "2" * 20)),
            ReceiptLine("debt", "Debt recovered; 450.00 outstanding", amount_cents=5000),
            ReceiptLine("fixed_charge", "Monthly fixed charge", 10000, 1304),
            ReceiptLine("credit", "Electricity DOMESTIC", 10000, 1304, 1000, ("3" * 20,)),
            ReceiptLine("fbe", "Free basic electricity", units_tenths=500, tokens=("4" * 20,)),
        ),
        reversed=reversed_,
    )


@pytest.mark.parametrize("reversed_", [False, True])
def test_a_full_receipt_is_valid_and_in_schema_order(reversed_: bool) -> None:
    resp = write.credit_vend_resp(
        write.root(r("creditVendResp")),
        ECHO,
        UTILITY,
        _receipt(reversed_),
        write.Batches(shift=True),
        write.Vendor("Demo Bank"),
        "CREDIT VEND - TAX INVOICE",
    )
    document = x.validate(write.envelope(resp))
    txs = document.findall(f".//{{{x.R}}}tx")
    assert [x.xsi_type(t) for t in txs] == [
        "CreditVendTx",
        "CreditVendTx",
        "DebtRecoveryTx",
        "ServiceChrgTx",
    ]
    assert txs[0].find(f"{{{x.R}}}kcTokenIssue") is not None  # the key change inside the sale
    assert txs[2].find(f"{{{x.R}}}balance").get("value") == "450.00"
    assert document.find(f".//{{{x.B}}}custVendDetail").get("name") == "Pieter van Wyk"
    assert document.find(f".//{{{x.B}}}availCredit").get("value") == "-5.00"


def test_a_receipt_nested_as_last_response_is_valid() -> None:
    resp = write.root(f"{{{x.B}}}adviceResp", "b:LastRespAdviceResp")
    write.base_resp(resp, ECHO, UTILITY, "LAST RESPONSE")
    write.sub(resp, f"{{{x.B}}}adviceReqMsgID", {"dateTime": "20250301101400", "uniqueNumber": "1"})
    write.nested_credit_vend_resp(
        resp, f"{{{x.B}}}lastResponse", (_receipt(),), "6004000000019", "ATM-0001", UTILITY,
        write.Batches(), None,
    )  # fmt: skip
    x.validate(write.envelope(resp))


def _kct_data(receipt: VendReceipt) -> dict[str, str]:
    resp = write.credit_vend_resp(
        write.root(r("creditVendResp")), ECHO, UTILITY, receipt, write.Batches(), None, "CREDIT"
    )
    document = x.validate(write.envelope(resp))
    sale = document.find(f".//{{{x.R}}}tx")
    data = sale.find(f"{{{x.R}}}kcTokenIssue/{{{x.B}}}kctData")
    assert data is not None
    return dict(data.attrib)


def test_kct_data_shows_the_key_data_the_receipt_stored_from_and_to() -> None:
    # METER is the meter after the change (KRN 2 of 654321, TI 02); it came from KRN 1 of
    # 123456, TI 01.
    after = replace(METER, sgc="654321", krn=2, ti="02")
    moved = KeyChangeData("123456", 1, "01", 2, "654321", 2, "02", 2)
    receipt = replace(_receipt(), meter=after, key_change=moved)
    assert _kct_data(receipt) == {
        "fromSGC": "123456",
        "fromKRN": "1",
        "fromTI": "01",
        "toSGC": "654321",
        "toKRN": "2",
        "toTI": "02",
    }


def test_kct_data_of_a_receipt_stored_without_key_data_shows_the_meter_it_knows() -> None:
    # Stored before receipts kept the key change's key data: all such a row knows is the meter
    # after the change, shown as both ends (tolerated for old rows only).
    assert _receipt().key_change is None
    data = _kct_data(_receipt())
    assert (data["fromSGC"], data["fromKRN"], data["fromTI"]) == ("123456", "1", "01")
    assert (data["toSGC"], data["toKRN"], data["toTI"]) == ("123456", "1", "01")


def test_the_customer_address_of_the_receipt_is_in_cust_vend_detail() -> None:
    receipt = replace(_receipt(), customer_address="12 Demo Street,\n Soweto")
    resp = write.credit_vend_resp(
        write.root(r("creditVendResp")), ECHO, UTILITY, receipt, write.Batches(), None, "CREDIT"
    )
    document = x.validate(write.envelope(resp))
    detail = document.find(f".//{{{x.B}}}custVendDetail")
    assert detail is not None and detail.get("address") == "12 Demo Street, Soweto"
    # A receipt stored without it: what is known, an empty address (still valid).
    old = write.credit_vend_resp(
        write.root(r("creditVendResp")), ECHO, UTILITY, _receipt(), write.Batches(), None, "CREDIT"
    )
    old_detail = x.validate(write.envelope(old)).find(f".//{{{x.B}}}custVendDetail")
    assert old_detail is not None and old_detail.get("address") == ""


@pytest.mark.parametrize("error", FAULT_TYPES, ids=lambda e: e.__name__)
def test_every_gateway_error_is_a_valid_typed_fault(error: type[errors.GatewayError]) -> None:
    fault = faults.to_fault(error("refused for a reason"))
    document = x.validate(faults.fault_envelope(fault, ECHO, UTILITY))
    typed = document.find(f".//{{{x.B}}}fault")
    assert x.xsi_type(typed) == fault.fault_type
    assert fault.fault_type in faults.XMLVEND_FAULTS
    code = document.findtext(f".//{{{SOAP}}}Fault/faultcode")
    assert code == ("soap:Client" if error.client_fault else "soap:Server")


def test_a_bug_is_a_system_ex_without_its_internals() -> None:
    fault = faults.to_fault(KeyError("secret internals"))
    assert fault.fault_type == "SystemEx" and "secret" not in fault.message


def test_the_checked_in_wsdl_has_not_drifted() -> None:
    assert DEFAULT_PATH.read_bytes() == generate(), (
        "wsdl/xmlvend-2.1.wsdl is out of date: run `vendgw xmlvend-wsdl export`"
    )


def test_the_wsdl_loads_in_zeep_with_every_operation() -> None:
    client = zeep.Client(str(DEFAULT_PATH))
    from gateway.xmlvend.operations import OPERATIONS

    bound = client.service._binding._operations
    assert set(bound) == {op.name for op in OPERATIONS}
    for op in OPERATIONS:
        assert bound[op.name].input.body.qname == etree.QName(op.request)
