"""Account payments and customer fault reports over /xmlvend/2.1 end to end."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.soap import OFFICE
from tests.xmlvend import support as x
from tests.xmlvend.support import B, M, R

pytestmark = pytest.mark.e2e

DEBT_ACCOUNT = "ACC-0004"  # 500.00 of debt in the demo


def _pay(amount: str, kind: str = "DebtRecovery", account: str = DEBT_ACCOUNT) -> bytes:
    return x.simple(
        OFFICE,
        x.new_msg(),
        "r:payAccReq",
        f'<r:reqAmt value="{amount}" symbol="ZAR"/>'
        f'<r:payType xsi:type="b:Cash"><b:tenderAmt value="{amount}" symbol="ZAR"/></r:payType>'
        f'<r:payAccount xsi:type="r:{kind}"><r:desc>Arrears payment</r:desc>'
        '<r:idMethod xsi:type="b:CustIDMethod">'
        f'<b:custIdentifier xsi:type="b:CustAccountNo" accNo="{account}"/></r:idMethod>'
        "</r:payAccount>",
    )


def _available(resp: object) -> Decimal:
    from lxml import etree

    assert isinstance(resp, etree._Element)
    found = resp.find(f"{{{B}}}clientStatus/{{{B}}}availCredit")
    assert found is not None
    return Decimal(found.get("value") or "0")


def test_a_debt_payment_lowers_the_debt_and_debits_the_float(base_url: str) -> None:
    first = x.answer(x.post(base_url, OFFICE, _pay("50.00")))
    [tx] = first.findall(f"{{{R}}}payAccReceipt/{{{R}}}transactions/{{{R}}}tx")
    assert x.xsi_type(tx) == "DebtRecoveryTx"
    assert tx.find(f"{{{R}}}balance").get("value") == "450.00"  # type: ignore[union-attr]
    assert x.tokens(first) == []  # no token
    customer = first.find(f"{{{B}}}custVendDetail")
    assert customer is not None and customer.get("accNo") == DEBT_ACCOUNT
    assert customer.get("address", "").endswith("Demo Street, Soweto")  # the customer's own
    second = x.answer(x.post(base_url, OFFICE, _pay("20")))
    assert _available(first) - _available(second) == Decimal("20.00")
    assert second.find(f".//{{{R}}}balance").get("value") == "430.00"  # type: ignore[union-attr]


def test_paying_more_than_the_debt_is_debt_ex(base_url: str) -> None:
    assert x.fault(x.post(base_url, OFFICE, _pay("100000.00"))).fault_type == "DebtEx"


def test_a_payment_with_a_fraction_of_a_cent_is_refused(base_url: str) -> None:
    assert x.fault(x.post(base_url, OFFICE, _pay("10.001"))).fault_type == "XMLVendSchemaEx"


def test_a_meter_fault_report_gets_a_reference_number(base_url: str) -> None:
    msg = x.new_msg()
    payload = x.envelope(
        x.body(
            "m:custReportFaultReq",
            x.head(OFFICE, msg)
            + '<m:custDetail name="J Customer" address="10 Example Street" contactNo="0821234567"'
            ' accNo="ACC-0001"/>'
            '<m:custFaultReport xsi:type="m:MeterFaultReport"><m:desc>Meter display blank</m:desc>'
            '<m:meterInfo><b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567897"/>'
            "</m:meterInfo></m:custFaultReport>",
        )
    )
    resp = x.answer(x.post(base_url, OFFICE, payload))
    log = resp.find(f"{{{M}}}custFaultLog")
    assert log is not None and log.get("refNo")
    assert x.xsi_type(log.find(f"{{{M}}}faultReport")) == "MeterFaultReport"
    again = x.answer(x.post(base_url, OFFICE, payload))  # a retry: the same report
    assert again.find(f"{{{M}}}custFaultLog").get("refNo") == log.get("refNo")  # type: ignore[union-attr]


def test_a_network_fault_report(base_url: str) -> None:
    payload = x.simple(
        OFFICE,
        x.new_msg(),
        "m:custReportFaultReq",
        '<m:custDetail name="J Customer" address="10 Example Street"/>'
        '<m:custFaultReport xsi:type="m:NetworkFaultReport"><m:desc>Street lights out'
        "</m:desc></m:custFaultReport>",
    )
    resp = x.answer(x.post(base_url, OFFICE, payload))
    assert resp.find(f"{{{M}}}custFaultLog").get("refNo")  # type: ignore[union-attr]
