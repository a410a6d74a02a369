"""The revenue operations of /xmlvend/2.1 end to end: the real server under gunicorn, called over
HTTP with envelopes shaped like the reference samples and like real clients' deviations. Every
answer is validated against the project's copy of the XMLVend 2.1 schemas (support.answer,
support.fault)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import func, select

from gateway.vend.models import VendTransaction
from sts.simulator import MeterAction
from tests.conftest import TestDatabase
from tests.e2e.test_tokens_in_the_meter import factory_meter
from tests.support.soap import (
    ATM,
    BLOCKED_METER,
    FBE_METER,
    KEY_CHANGE_METER,
    METER,
    OFFICE,
    POS,
    row_counts,
    zeep_client,
)
from tests.xmlvend import support as x
from tests.xmlvend.support import B, R

pytestmark = pytest.mark.e2e

DEBT_METER = "04000000036"


def vend(base_url: str, meter: str = METER, amount: str = "100.00", terminal=ATM):  # type: ignore[no-untyped-def]
    msg = x.new_msg()
    resp = x.answer(x.post(base_url, terminal, x.credit_vend(terminal, msg, meter, amount)))
    return resp, msg


def receipt_no(resp: etree._Element) -> str:
    found = resp.find(f"{{{R}}}creditVendReceipt")
    assert found is not None
    return found.get("receiptNo") or ""


def transactions(resp: etree._Element) -> list[etree._Element]:
    return resp.findall(f"{{{R}}}creditVendReceipt/{{{R}}}transactions/{{{R}}}tx")


def cents(element: etree._Element | None) -> int:
    assert element is not None
    return int(Decimal(element.get("value") or "0") * 100)


def count_transactions(db: TestDatabase, msg: x.Msg) -> int:
    with db.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(VendTransaction)
                .where(VendTransaction.msg_id == f"{msg.date_time}{int(msg.unique_number)}")
            )
            or 0
        )


def test_the_wsdl_is_served_with_this_address_and_zeep_loads_it(base_url: str) -> None:
    import requests
    import zeep

    served = requests.get(f"{base_url}/xmlvend/2.1?wsdl", timeout=10)
    assert served.status_code == 200
    assert f'location="{base_url}/xmlvend/2.1"'.encode() in served.content
    client = zeep.Client(f"{base_url}/xmlvend/2.1?wsdl")
    names = set(client.service._binding._operations)
    assert {"CreditVendRequest", "ConfirmCustomerRequest", "AdviceRequest", "FBERequest"} <= names


def test_confirm_customer_by_meter(base_url: str) -> None:
    msg = x.new_msg()
    payload = x.simple(
        ATM,
        msg,
        "r:confirmCustomerReq",
        '<r:idMethod xsi:type="b:VendIDMethod">'
        f'<b:meterIdentifier xsi:type="b:MeterNumber" msno="{METER}"/></r:idMethod>',
    )
    resp = x.answer(x.post(base_url, ATM, payload))
    assert resp.tag == f"{{{R}}}confirmCustomerResp"
    echo = resp.find(f"{{{B}}}reqMsgID")
    assert echo is not None and echo.get("uniqueNumber") == msg.unique_number
    [result] = resp.findall(f"{{{R}}}confirmCustResult")
    assert result.find(f"{{{R}}}custVendDetail").get("name") == "Thandi Mokoena"
    assert result.findtext(f"{{{R}}}custVendConfig/{{{R}}}canVend") == "true"
    assert result.find(f"{{{R}}}meterDetail").get("msno") == METER


def test_credit_vend_receipt_tokens_decode_in_the_meter(
    base_url: str, e2e_db: TestDatabase
) -> None:
    meter = factory_meter(e2e_db, METER)
    resp, msg = vend(base_url, METER, "100.00")
    [sale] = transactions(resp)
    assert x.xsi_type(sale) == "CreditVendTx"
    issue = sale.find(f"{{{R}}}creditTokenIssue")
    assert x.xsi_type(issue) == "SaleCredTokenIssue"
    tax = sale.find(f"{{{R}}}tax")
    assert x.xsi_type(tax) == "VAT" and tax.get("rate") == "15"
    # amt excludes the tax; together they are the tender.
    assert cents(sale.find(f"{{{R}}}amt")) + cents(tax.find(f"{{{B}}}amt")) == 10000
    assert sale.findtext(f"{{{R}}}tariff/{{{B}}}name") == "DOMESTIC"
    assert "kWh @" in (sale.findtext(f"{{{R}}}tariff/{{{B}}}desc") or "")
    units = issue.find(f"{{{B}}}units")
    assert units is not None and units.get("siUnit") == "kWh"
    [token] = x.tokens(sale)
    assert meter.accept(token).accepted
    assert meter.credit_tenths() == int(Decimal(units.get("value") or "0") * 10)
    status = resp.find(f"{{{B}}}clientStatus/{{{B}}}batchStatus")
    assert status is not None
    assert resp.find(f"{{{B}}}utility").get("taxRef") == "4000000001"
    assert count_transactions(e2e_db, msg) == 1


def _kct_data(resp: etree._Element) -> dict[str, str]:
    [sale] = [t for t in transactions(resp) if t.find(f"{{{R}}}kcTokenIssue") is not None]
    data = sale.find(f"{{{R}}}kcTokenIssue/{{{B}}}kctData")
    assert data is not None
    return dict(data.attrib)


def _stored_meter(db: TestDatabase, meter_number: str) -> tuple[str, str, str, str]:
    """The meter's key data (SGC, KRN, TI) as kctData writes it, and its customer's address."""
    from gateway.models import Customer
    from gateway.vend import meters

    with db.sessions() as session:
        found = meters.find_meter(session, meter_number)
        customer = session.get(Customer, found.customer.id) if found.customer else None
        address = customer.address if customer else ""
    return found.group.sgc, str(found.krn), found.ti, address


def test_key_change_travels_inside_the_sale_and_the_meter_takes_it(
    base_url: str, e2e_db: TestDatabase
) -> None:
    meter = factory_meter(e2e_db, KEY_CHANGE_METER)
    sgc, krn, ti, address = _stored_meter(e2e_db, KEY_CHANGE_METER)
    # The installed meter holds the key data the stored meter has before the vend.
    assert (meter.sgc, str(meter.krn), f"{meter.ti:02d}") == (sgc, krn, ti)
    resp, msg = vend(base_url, KEY_CHANGE_METER, "60.00")
    [sale] = transactions(resp)
    kct = sale.find(f"{{{R}}}kcTokenIssue")
    assert kct is not None
    assert x.xsi_type(kct.find(f"{{{B}}}token")) == "KCToken"
    data = _kct_data(resp)
    after = _stored_meter(e2e_db, KEY_CHANGE_METER)
    assert (
        (data["fromSGC"], data["fromKRN"], data["fromTI"])
        == (sgc, krn, ti)
        == ("123456", "1", "01")
    )
    assert (data["toSGC"], data["toKRN"], data["toTI"]) == after[:3] == ("123456", "2", "01")
    assert resp.find(f"{{{B}}}custVendDetail").get("address") == address != ""
    first, second, credit = x.tokens(sale)[1], x.tokens(sale)[2], x.tokens(sale)[0]
    # The key change first, as the customer types them: the meter moves from the from-values
    # to the to-values, and then takes the credit under its new key.
    stored = meter.accept(first)
    assert stored.accepted and stored.action == MeterAction.KEY_CHANGE_STORED, stored.message
    changed = meter.accept(second)
    assert changed.accepted and changed.action == MeterAction.KEY_CHANGED, changed.message
    assert (meter.sgc, str(meter.krn), f"{meter.ti:02d}") == (
        data["toSGC"],
        data["toKRN"],
        data["toTI"],
    )
    assert meter.accept(credit).accepted
    # A retry, a last-response advice and a reprint show the same key data and address.
    replayed = x.answer(x.post(base_url, ATM, x.credit_vend(ATM, msg, KEY_CHANGE_METER, "60.00")))
    advised = x.answer(x.post(base_url, ATM, x.advice(ATM, x.new_msg(), "LastRespAdviceReq", msg)))
    last = advised.find(f"{{{B}}}lastResponse")
    assert last is not None
    reprinted = x.answer(
        x.post(
            base_url,
            ATM,
            x.simple(
                ATM,
                x.new_msg(),
                "r:reprintReq",
                '<r:idMethod xsi:type="b:VendIDMethod">'
                f'<b:meterIdentifier xsi:type="b:MeterNumber" msno="{KEY_CHANGE_METER}"/>'
                "</r:idMethod>",
            ),
        )
    )
    [reprint] = [
        r for r in reprinted.findall(f"{{{R}}}reprint") if receipt_no(r) == receipt_no(resp)
    ]
    for again in (replayed, last, reprint):
        assert receipt_no(again) == receipt_no(resp)
        assert _kct_data(again) == data
        assert again.find(f"{{{B}}}custVendDetail").get("address") == address


def test_free_basic_electricity_is_its_own_transaction(base_url: str, e2e_db: TestDatabase) -> None:
    meter = factory_meter(e2e_db, FBE_METER)
    resp, _ = vend(base_url, FBE_METER, "40.00")
    sale, free = transactions(resp)
    assert x.xsi_type(sale.find(f"{{{R}}}creditTokenIssue")) == "SaleCredTokenIssue"
    issue = free.find(f"{{{R}}}creditTokenIssue")
    assert x.xsi_type(issue) == "FBECredTokenIssue"
    assert issue.find(f"{{{B}}}units").get("value") == "50.0"
    for token in x.tokens(resp):
        assert meter.accept(token).accepted


def test_recovered_debt_is_a_debt_recovery_tx_with_the_remaining_balance(base_url: str) -> None:
    resp, _ = vend(base_url, DEBT_METER, "100.00")
    debt = [t for t in transactions(resp) if x.xsi_type(t) == "DebtRecoveryTx"]
    assert len(debt) == 1
    assert cents(debt[0].find(f"{{{R}}}amt")) > 0
    assert debt[0].find(f"{{{R}}}balance") is not None
    total = sum(
        cents(t.find(f"{{{R}}}amt"))
        + sum(cents(v.find(f"{{{B}}}amt")) for v in t.findall(f"{{{R}}}tax"))
        for t in transactions(resp)
    )
    assert total == 10000


def test_a_retry_replays_the_stored_answer(base_url: str, e2e_db: TestDatabase) -> None:
    msg = x.new_msg()
    payload = x.credit_vend(ATM, msg, METER, "20.00")
    first = x.answer(x.post(base_url, ATM, payload))
    again = x.answer(x.post(base_url, ATM, payload))
    assert receipt_no(first) == receipt_no(again)
    assert x.tokens(first) == x.tokens(again)
    assert count_transactions(e2e_db, msg) == 1


def test_the_same_msg_id_over_vend_and_xmlvend_vends_once(
    base_url: str, e2e_db: TestDatabase
) -> None:
    msg = x.new_msg()
    client = zeep_client(base_url, ATM)
    over_vend = client.service.CreditVend(
        clientID=ATM.client_id,
        terminalID=ATM.terminal_id,
        msgID={"dateTime": msg.date_time, "uniqueNumber": int(msg.unique_number)},
        meterNumber=METER,
        amount="30.00",
        payType="cash",
    )
    resp = x.answer(x.post(base_url, ATM, x.credit_vend(ATM, msg, METER, "30.00")))
    assert receipt_no(resp) == over_vend.receiptNo
    assert x.tokens(resp) == [tok for t in over_vend.transactions for tok in t.tokens]
    assert count_transactions(e2e_db, msg) == 1


def test_a_real_client_dialect_is_accepted(base_url: str) -> None:
    # Default namespace, no resource, untyped concrete idMethod, EAN terminalID, "100", "R".
    msg = x.new_msg()
    resp = x.answer(
        x.post(
            base_url,
            ATM,
            x.credit_vend_default_namespace(ATM, msg, METER, "100"),
            soap_action="CreditVendRequest",
        )
    )
    assert (
        cents(resp.find(f"{{{R}}}creditVendReceipt/{{{R}}}transactions/{{{R}}}tenderAmt")) == 10000
    )


@pytest.mark.parametrize(("amount", "tender"), [("50.500", 5050), ("25", 2500), ("12.5", 1250)])
def test_amounts_that_are_whole_cents_are_taken(base_url: str, amount: str, tender: int) -> None:
    resp, _ = vend(base_url, METER, amount)
    assert (
        cents(resp.find(f"{{{R}}}creditVendReceipt/{{{R}}}transactions/{{{R}}}tenderAmt")) == tender
    )


@pytest.mark.parametrize(
    ("amount", "symbol", "code"),
    [("100.005", "ZAR", "amount"), ("100.00", "USD", "currency"), ("1e2", "ZAR", "amount")],
)
def test_ambiguous_money_is_refused_and_changes_nothing(
    base_url: str, e2e_db: TestDatabase, amount: str, symbol: str, code: str
) -> None:
    before = row_counts(e2e_db.engine)
    msg = x.new_msg()
    refused = x.fault(x.post(base_url, ATM, x.credit_vend(ATM, msg, METER, amount, symbol=symbol)))
    assert (refused.faultcode, refused.fault_type, refused.code) == (
        "soap:Client",
        "XMLVendSchemaEx",
        code,
    )
    assert refused.detail.find(f"{{{B}}}reqMsgID").get("uniqueNumber") == msg.unique_number
    assert row_counts(e2e_db.engine) == before


def test_an_unknown_purchase_value_type_is_refused(base_url: str) -> None:
    msg = x.new_msg()
    payload = x.credit_vend(ATM, msg, METER, "10.00").replace(
        b"r:PurchaseValueCurrency", b"r:PurchaseValueBitcoin"
    )
    assert x.fault(x.post(base_url, ATM, payload)).fault_type == "XMLVendSchemaEx"


def test_unique_numbers_with_a_leading_zero_or_seven_digits(
    base_url: str, e2e_db: TestDatabase
) -> None:
    short = x.new_msg()
    zero = x.Msg(short.date_time, "0" + short.unique_number)
    resp = x.answer(x.post(base_url, ATM, x.credit_vend(ATM, zero, METER, "10.00")))
    assert resp.find(f"{{{B}}}reqMsgID").get("uniqueNumber") == zero.unique_number
    long = x.Msg(short.date_time, short.unique_number + "7")
    raw = x.post(base_url, ATM, x.credit_vend(ATM, long, METER, "10.00"), valid=False)
    assert raw.status_code == 200
    # The echo repeats the client's seven digits, which is all the schema refuses: valid once
    # that echo is set back to six digits.
    assert f'uniqueNumber="{long.unique_number}"'.encode() in raw.content
    x.validate(raw.content.replace(long.unique_number.encode(), short.unique_number.encode()))
    assert count_transactions(e2e_db, long) == 1


def test_trial_credit_vend_gives_zero_tokens_and_stores_nothing(
    base_url: str, e2e_db: TestDatabase
) -> None:
    before = row_counts(e2e_db.engine)
    msg = x.new_msg()
    payload = x.credit_vend(ATM, msg, KEY_CHANGE_METER, "50.00", root="r:trialCreditVendReq")
    resp = x.answer(x.post(base_url, ATM, payload))
    assert resp.tag == f"{{{R}}}trialCreditVendResp"
    assert x.tokens(resp) and all(t == "0" * 20 for t in x.tokens(resp))
    assert row_counts(e2e_db.engine) == before


def test_fbe_request(base_url: str, e2e_db: TestDatabase) -> None:
    # A second customer registered for free basic electricity (the demo's one is taken by the
    # credit vend test, which gets it automatically).
    from gateway.models import Customer, Meter

    with e2e_db.sessions() as session, session.begin():
        meter_row = session.scalar(select(Meter).where(Meter.meter_number == "04000000051"))
        assert meter_row is not None
        customer = session.get(Customer, meter_row.customer_id)
        assert customer is not None
        customer.fbe_registered = True
    meter = factory_meter(e2e_db, "04000000051")
    msg = x.new_msg()
    # Hexing's own fbeReq omits the resource.
    payload = x.simple(OFFICE, msg, "r:fbeReq", x.meter_id("04000000051"))
    resp = x.answer(x.post(base_url, OFFICE, payload))
    assert resp.tag == f"{{{R}}}fbeResp"
    [free] = transactions(resp)
    issue = free.find(f"{{{R}}}creditTokenIssue")
    assert x.xsi_type(issue) == "FBECredTokenIssue"
    assert issue.find(f"{{{B}}}units").get("value") == "50.0"
    [token] = x.tokens(free)
    assert meter.accept(token).accepted
    assert meter.credit_tenths() == 500
    # Once a month: the second ask is FBEEx.
    again = x.fault(
        x.post(
            base_url, OFFICE, x.simple(OFFICE, x.new_msg(), "r:fbeReq", x.meter_id("04000000051"))
        )
    )
    assert again.fault_type == "FBEEx"


def test_reprint_gives_the_stored_tokens(base_url: str) -> None:
    # COMMERCIAL: the month's fixed charge comes first, as a ServiceChrgTx with its VAT.
    sold, _ = vend(base_url, "04000000044", "250.00")
    charge = [t for t in transactions(sold) if x.xsi_type(t) == "ServiceChrgTx"]
    assert len(charge) == 1 and x.xsi_type(charge[0].find(f"{{{R}}}tax")) == "VAT"
    msg = x.new_msg()
    payload = x.simple(
        ATM,
        msg,
        "r:reprintReq",
        '<r:idMethod xsi:type="b:VendIDMethod">'
        '<b:meterIdentifier xsi:type="b:MeterNumber" msno="04000000044"/></r:idMethod>',
    )
    resp = x.answer(x.post(base_url, ATM, payload))
    reprints = resp.findall(f"{{{R}}}reprint")
    assert reprints and x.xsi_type(reprints[0]) == "CreditVendResp"
    assert receipt_no(reprints[0]) == receipt_no(sold)
    assert x.tokens(reprints[0]) == x.tokens(sold)


def test_last_response_advice_after_a_time_out_returns_the_stored_answer(
    base_url: str, e2e_db: TestDatabase
) -> None:
    import base64
    import socket
    from urllib.parse import urlsplit

    msg = x.new_msg()
    payload = x.credit_vend(ATM, msg, METER, "15.00")
    # The client's timer runs out before it reads the answer, which is lost: the request was
    # sent whole, the vend completes on the server, the client never reads and hangs up.
    where = urlsplit(base_url)
    auth = base64.b64encode(":".join(ATM.auth).encode()).decode()
    head = (
        f"POST {x.PATH} HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Type: text/xml\r\n"
        f"Authorization: Basic {auth}\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((where.hostname, where.port or 80), timeout=5) as sock:
        sock.sendall(head.encode() + payload)
        deadline = time.monotonic() + 20
        while count_transactions(e2e_db, msg) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    advice = x.new_msg()
    resp = x.answer(x.post(base_url, ATM, x.advice(ATM, advice, "LastRespAdviceReq", msg)))
    assert x.xsi_type(resp) == "LastRespAdviceResp"
    assert resp.find(f"{{{B}}}reqMsgID").get("uniqueNumber") == advice.unique_number
    last = resp.find(f"{{{B}}}lastResponse")
    assert x.xsi_type(last) == "CreditVendResp"
    assert last.find(f"{{{B}}}reqMsgID").get("uniqueNumber") == msg.unique_number
    # The same receipt and tokens as the original answer (a retry replays it).
    original = x.answer(x.post(base_url, ATM, payload))
    assert receipt_no(last) == receipt_no(original)
    assert x.tokens(last) == x.tokens(original)


def test_last_response_advice_for_nothing_is_last_response_ex(base_url: str) -> None:
    never = x.new_msg()
    refused = x.fault(x.post(base_url, ATM, x.advice(ATM, x.new_msg(), "LastRespAdviceReq", never)))
    assert refused.fault_type == "LastResponseEx"


def test_confirmation_and_reversal_advice(base_url: str) -> None:
    _, confirmed = vend(base_url, METER, "11.00")
    resp = x.answer(
        x.post(base_url, ATM, x.advice(ATM, x.new_msg(), "ConfirmationAdviceReq", confirmed))
    )
    assert x.xsi_type(resp) == "ConfirmationAdviceResp" and resp.get("txConfirmed") == "true"
    _, reversed_ = vend(base_url, METER, "12.00")
    resp = x.answer(
        x.post(base_url, ATM, x.advice(ATM, x.new_msg(), "ReversalAdviceReq", reversed_))
    )
    assert x.xsi_type(resp) == "ReversalAdviceResp" and resp.get("txReversed") == "true"
    refused = x.fault(
        x.post(base_url, ATM, x.advice(ATM, x.new_msg(), "ReversalAdviceReq", x.new_msg()))
    )
    assert refused.fault_type == "ReversalEx"


def test_vendor_statement(base_url: str) -> None:
    vend(base_url, METER, "13.00")
    resp = x.answer(x.post(base_url, ATM, x.simple(ATM, x.new_msg(), "r:vendorStatementReq")))
    statement = resp.find(f"{{{R}}}statement")
    assert statement is not None
    assert statement.findtext(f"{{{R}}}accNo") == ATM.client_id
    assert statement.findall(f"{{{R}}}lineItem")


@pytest.mark.parametrize(
    ("meter", "fault_type"),
    [
        (BLOCKED_METER, "BlockedMeterEx"),
        ("04000000994", "UnknownMeterEx"),
        ("04000000011", "MSNOCheckDigitEx"),
    ],
)
def test_meter_refusals_are_typed_faults(base_url: str, meter: str, fault_type: str) -> None:
    msg = x.new_msg()
    refused = x.fault(x.post(base_url, ATM, x.credit_vend(ATM, msg, meter, "10.00")))
    assert (refused.faultcode, refused.fault_type) == ("soap:Client", fault_type)
    assert refused.desc


def test_an_empty_float_is_vendor_credit_ex(base_url: str) -> None:
    refused = x.fault(x.post(base_url, POS, x.credit_vend(POS, x.new_msg(), METER, "4000.00")))
    assert refused.fault_type == "VendorCreditEx"


def test_operator_is_recorded_from_auth_cred(base_url: str, e2e_db: TestDatabase) -> None:
    _, msg = vend(base_url, METER, "14.00")
    with e2e_db.sessions() as session:
        operator = session.scalar(
            select(VendTransaction.operator).where(
                VendTransaction.msg_id == f"{msg.date_time}{int(msg.unique_number)}"
            )
        )
    assert operator == "CLERK1"


def test_confirm_customer_by_account_number(base_url: str) -> None:
    def by_account(account: str) -> bytes:
        return x.simple(
            ATM,
            x.new_msg(),
            "r:confirmCustomerReq",
            '<r:idMethod xsi:type="b:CustIDMethod">'
            f'<b:custIdentifier xsi:type="b:CustAccountNo" accNo="{account}"/></r:idMethod>',
        )

    resp = x.answer(x.post(base_url, ATM, by_account("ACC-0001")))
    results = resp.findall(f"{{{R}}}confirmCustResult")
    assert [r.find(f"{{{R}}}meterDetail").get("msno") for r in results] == [METER]
    refused = x.fault(x.post(base_url, ATM, by_account("ACC-9999")))
    assert refused.fault_type == "ConfirmCustomerEx"


def _units_vend(msg: x.Msg, kwh: str, root: str = "r:creditVendReq") -> bytes:
    return x.envelope(
        x.body(
            root,
            x.head(ATM, msg)
            + '<b:resource xsi:type="b:Electricity"/>'
            + x.meter_id("04000000051")
            + f'<r:purchaseValue xsi:type="r:PurchaseValueUnits"><r:units value="{kwh}" '
            'siUnit="kWh"/></r:purchaseValue>',
        )
    )


def test_a_units_purchase_value_buys_at_least_those_units(
    base_url: str, e2e_db: TestDatabase
) -> None:
    meter = factory_meter(e2e_db, "04000000051")
    trial = x.answer(x.post(base_url, ATM, _units_vend(x.new_msg(), "50", "r:trialCreditVendReq")))
    resp = x.answer(x.post(base_url, ATM, _units_vend(x.new_msg(), "50")))
    [sale] = transactions(resp)
    units = sale.find(f"{{{R}}}creditTokenIssue/{{{B}}}units")
    assert units is not None and Decimal(units.get("value") or "0") >= Decimal("50")
    tender = cents(resp.find(f"{{{R}}}creditVendReceipt/{{{R}}}transactions/{{{R}}}tenderAmt"))
    assert tender == cents(
        trial.find(f"{{{R}}}creditVendReceipt/{{{R}}}transactions/{{{R}}}tenderAmt")
    )
    [token] = x.tokens(sale)
    assert meter.accept(token).accepted
    refused = x.fault(x.post(base_url, ATM, _units_vend(x.new_msg(), "10.05")))
    assert (refused.fault_type, refused.code) == ("XMLVendSchemaEx", "units")
