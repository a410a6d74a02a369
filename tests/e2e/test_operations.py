"""Every operation's happy path, through a stock zeep client against the real server, the way a
bank's integration would run it: WSDL from /vend?wsdl, HTTP Basic, typed answers."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import zeep

from gateway.soap.service import OPERATIONS
from tests.support.soap import (
    ATM,
    FBE_METER,
    METER,
    OFFICE,
    Terminal,
    header,
    new_msg_id,
    row_counts,
    zeep_client,
)

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def atm(base_url: str) -> zeep.Client:
    return zeep_client(base_url, ATM)


@pytest.fixture(scope="module")
def office(base_url: str) -> zeep.Client:
    return zeep_client(base_url, OFFICE)


def assert_echo(resp: Any, terminal: Terminal, msg_id: dict[str, Any]) -> None:
    assert resp.clientID == terminal.client_id
    assert resp.terminalID == terminal.terminal_id
    assert (resp.reqMsgID.dateTime, resp.reqMsgID.uniqueNumber) == (
        msg_id["dateTime"],
        msg_id["uniqueNumber"],
    )
    assert resp.serverID == "vendgw-1"
    assert resp.respDateTime.tzinfo is not None


def vend(
    client: zeep.Client, terminal: Terminal, amount: str = "100.00", meter: str = METER
) -> tuple[Any, dict[str, Any]]:
    msg_id = new_msg_id()
    resp = client.service.CreditVend(
        **header(terminal, msg_id), meterNumber=meter, amount=amount, payType="cash"
    )
    return resp, msg_id


def test_the_wsdl_offers_every_operation(atm: zeep.Client, base_url: str) -> None:
    operations = atm.wsdl.services["VendGateway"].ports["VendGateway"].binding._operations
    assert set(operations) == set(OPERATIONS)
    assert atm.service._binding_options["address"] == f"{base_url}/vend"


def test_confirm_customer(atm: zeep.Client) -> None:
    msg_id = new_msg_id()
    resp = atm.service.ConfirmCustomer(**header(ATM, msg_id), meterNumber=METER)
    assert_echo(resp, ATM, msg_id)
    assert resp.customer.name == "Thandi Mokoena"
    assert resp.customer.accountNo == "ACC-0001"
    assert resp.meter.msno == METER
    assert (resp.meter.sgc, resp.meter.krn, resp.meter.ti, resp.meter.ea) == (
        "123456",
        1,
        "01",
        "07",
    )
    assert resp.canVend is True
    assert (resp.minVendAmount, resp.maxVendAmount) == (Decimal("5.00"), Decimal("5000.00"))
    assert resp.arrears == Decimal("0.00")


def test_credit_vend_and_its_retry(atm: zeep.Client) -> None:
    resp, msg_id = vend(atm, ATM, "100.00")
    assert_echo(resp, ATM, msg_id)
    assert resp.receiptNo
    assert resp.tenderAmount == Decimal("100.00")
    assert resp.units > 0 and resp.units.as_tuple().exponent == -1
    assert resp.meter.msno == METER
    credit = [t for t in resp.transactions if t.type == "credit"]
    assert len(credit) == 1 and len(credit[0].tokens) == 1
    assert credit[0].tokens[0].isdigit() and len(credit[0].tokens[0]) == 20
    # Line amounts include their VAT; together they are the tender.
    assert sum(t.amount for t in resp.transactions) == resp.tenderAmount
    assert all(0 <= t.vat <= t.amount for t in resp.transactions)
    # A retry with the same msgID (a bank after a time-out) gets the same receipt, not a new vend.
    again = atm.service.CreditVend(
        **header(ATM, msg_id), meterNumber=METER, amount="100.00", payType="cash"
    )
    assert again.receiptNo == resp.receiptNo
    assert again.transactions[0].tokens == resp.transactions[0].tokens
    assert again.availCredit == resp.availCredit


def test_trial_credit_vend_changes_nothing(atm: zeep.Client, e2e_db: TestDatabase) -> None:
    before = row_counts(e2e_db.engine)
    msg_id = new_msg_id()
    resp = atm.service.TrialCreditVend(
        **header(ATM, msg_id), meterNumber=METER, amount="50.00", payType="cash"
    )
    assert_echo(resp, ATM, msg_id)
    assert resp.tenderAmount == Decimal("50.00")
    assert all(token == "0" * 20 for t in resp.transactions for token in t.tokens)
    assert row_counts(e2e_db.engine) == before


def test_fbe_vend(office: zeep.Client) -> None:
    msg_id = new_msg_id()
    resp = office.service.FBEVend(**header(OFFICE, msg_id), meterNumber=FBE_METER)
    assert_echo(resp, OFFICE, msg_id)
    [line] = resp.transactions
    assert line.type == "fbe"
    assert line.units == Decimal("50.0")
    assert line.amount == Decimal("0.00") and len(line.tokens[0]) == 20


def test_confirmation_advice(atm: zeep.Client) -> None:
    sold, sold_id = vend(atm, ATM, "20.00")
    msg_id = new_msg_id()
    resp = atm.service.ConfirmationAdvice(**header(ATM, msg_id), originalMsgID=sold_id)
    assert_echo(resp, ATM, msg_id)
    assert resp.txConfirmed is True
    assert resp.receiptNo == sold.receiptNo
    assert resp.originalMsgID.uniqueNumber == sold_id["uniqueNumber"]


def test_reversal_advice_gives_the_float_back(atm: zeep.Client) -> None:
    before = atm.service.VendorStatement(**header(ATM), maxItems=1).availCredit
    sold, sold_id = vend(atm, ATM, "30.00")
    assert sold.availCredit < before
    msg_id = new_msg_id()
    resp = atm.service.ReversalAdvice(**header(ATM, msg_id), originalMsgID=sold_id)
    assert_echo(resp, ATM, msg_id)
    assert resp.txReversed is True
    assert resp.receiptNo == sold.receiptNo
    assert resp.availCredit == before


def test_last_response_advice_resends_the_receipt(atm: zeep.Client) -> None:
    sold, sold_id = vend(atm, ATM, "40.00")
    msg_id = new_msg_id()
    resp = atm.service.LastResponseAdvice(**header(ATM, msg_id), originalMsgID=sold_id)
    assert_echo(resp, ATM, msg_id)
    assert resp.receiptNo == sold.receiptNo
    assert (resp.vendMsgID.dateTime, resp.vendMsgID.uniqueNumber) == (
        sold_id["dateTime"],
        sold_id["uniqueNumber"],
    )
    assert [t.tokens for t in resp.transactions] == [t.tokens for t in sold.transactions]
    assert resp.tenderAmount == Decimal("40.00")


def test_reprint(atm: zeep.Client) -> None:
    sold, sold_id = vend(atm, ATM, "25.00")
    msg_id = new_msg_id()
    last = atm.service.Reprint(**header(ATM, msg_id), meterNumber=METER)
    assert_echo(last, ATM, msg_id)
    assert 1 <= len(last.receipts) <= 3
    assert last.receipts[0].receiptNo == sold.receiptNo
    one = atm.service.Reprint(**header(ATM), meterNumber=METER, originalMsgID=sold_id)
    [receipt] = one.receipts
    assert receipt.receiptNo == sold.receiptNo
    assert receipt.transactions[0].tokens == sold.transactions[0].tokens


def test_vendor_statement(atm: zeep.Client) -> None:
    vend(atm, ATM, "15.00")
    msg_id = new_msg_id()
    resp = atm.service.VendorStatement(**header(ATM, msg_id), maxItems=5)
    assert_echo(resp, ATM, msg_id)
    assert resp.availCredit == resp.balance - resp.floor
    assert 1 <= len(resp.movements) <= 5
    latest = resp.movements[0]
    assert latest.amount < 0 and latest.balanceAfter == resp.balance
    default = atm.service.VendorStatement(**header(ATM))  # maxItems is optional
    assert len(default.movements) <= 10


@pytest.mark.parametrize(
    ("eng_type", "value"), [("ClearTamper", None), ("PowerLimit", 5000), ("ClearCredit", None)]
)
def test_meter_specific_engineering(office: zeep.Client, eng_type: str, value: int | None) -> None:
    msg_id = new_msg_id()
    resp = office.service.MeterSpecificEng(
        **header(OFFICE, msg_id), meterNumber=METER, engType=eng_type, value=value
    )
    assert_echo(resp, OFFICE, msg_id)
    assert resp.description
    assert len(resp.tokens) == 1 and len(resp.tokens[0]) == 20
    assert resp.meter.msno == METER


def test_key_change_gives_two_tokens(office: zeep.Client) -> None:
    resp = office.service.MeterSpecificEng(
        **header(OFFICE), meterNumber="04000000069", engType="KeyChange"
    )
    assert len(resp.tokens) == 2
    assert resp.meter.krn == 2


def test_non_meter_specific_engineering(office: zeep.Client) -> None:
    msg_id = new_msg_id()
    resp = office.service.NonMeterSpecificEng(
        **header(OFFICE, msg_id), engType="TestAll", mfrCode=12
    )
    assert_echo(resp, OFFICE, msg_id)
    assert len(resp.tokens) == 1 and len(resp.tokens[0]) == 20
    assert resp.meter is None
