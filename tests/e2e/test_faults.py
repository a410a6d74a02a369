"""Every fault of the contract, as a bank's zeep client receives it from the real server:
faultcode exactly soap:Client or soap:Server, a sentence, and the typed detail naming the
XMLVend type (UnknownMeterEx, ..., SystemEx)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import zeep
from lxml import etree
from sqlalchemy import text

from gateway.soap.types import SERVICE_NAME, TNS
from tests.support.soap import (
    ATM,
    BAD_CHECK_DIGIT,
    BLOCKED_METER,
    METER,
    OFFICE,
    POS,
    UNKNOWN_METER,
    header,
    new_msg_id,
    row_counts,
    zeep_client,
    zeep_fault_detail,
)

if TYPE_CHECKING:
    from tests.conftest import TestDatabase
    from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clients(base_url: str) -> dict[str, zeep.Client]:
    return {
        "atm": zeep_client(base_url, ATM),
        "pos": zeep_client(base_url, POS),
        "office": zeep_client(base_url, OFFICE),
    }


def fault(call: Callable[[], Any]) -> tuple[str, dict[str, str], str]:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call()
    return caught.value.code.split(":")[-1], zeep_fault_detail(caught.value), caught.value.message


def unknown_msg_id() -> dict[str, Any]:
    return new_msg_id()


CASES: dict[str, Callable[[dict[str, zeep.Client]], Any]] = {
    "UnknownMeterEx": lambda c: c["atm"].service.ConfirmCustomer(
        **header(ATM), meterNumber=UNKNOWN_METER
    ),
    "BlockedMeterEx": lambda c: c["atm"].service.CreditVend(
        **header(ATM), meterNumber=BLOCKED_METER, amount="50.00", payType="cash"
    ),
    "MSNOCheckDigitEx": lambda c: c["atm"].service.ConfirmCustomer(
        **header(ATM), meterNumber=BAD_CHECK_DIGIT
    ),
    "VendorCreditEx": lambda c: c["pos"].service.CreditVend(
        **header(POS), meterNumber=METER, amount="60.00", payType="cash"
    ),
    "VendAmountEx": lambda c: c["atm"].service.CreditVend(
        **header(ATM), meterNumber=METER, amount="1.00", payType="cash"
    ),
    "FBEEx": lambda c: c["office"].service.FBEVend(**header(OFFICE), meterNumber=METER),
    "RequestAuthorisationEx": lambda c: c["atm"].service.MeterSpecificEng(
        **header(ATM), meterNumber=METER, engType="ClearTamper"
    ),
    "ClientIDAuthorisationEx": lambda c: c["atm"].service.ConfirmCustomer(
        **header(POS), meterNumber=METER
    ),
    "LastResponseEx": lambda c: c["atm"].service.LastResponseAdvice(
        **header(ATM), originalMsgID=unknown_msg_id()
    ),
    "ReversalEx": lambda c: c["atm"].service.ReversalAdvice(
        **header(ATM), originalMsgID=unknown_msg_id()
    ),
    "ConfirmationEx": lambda c: c["atm"].service.ConfirmationAdvice(
        **header(ATM), originalMsgID=unknown_msg_id()
    ),
    "XMLVendSchemaEx": lambda c: c["atm"].service.CreditVend(
        **header(ATM), meterNumber=METER, amount="10.001", payType="cash"
    ),
    # UseCaseSupportEx: every engType /vend's schema admits is now supported (the display tests
    # too), so no valid request reaches it here; tests/gateway/test_engineering_tokens.py and
    # tests/soap/test_faults.py cover it.
}


@pytest.mark.parametrize("fault_type", sorted(CASES))
def test_client_faults(clients: dict[str, zeep.Client], fault_type: str) -> None:
    code, detail, message = fault(lambda: CASES[fault_type](clients))
    assert code == "Client"
    assert detail["faultType"] == fault_type
    assert detail["code"] and re.fullmatch(r"[a-z0-9-]+", detail["code"])
    assert message and message == detail["desc"]
    assert "correlationID" not in detail


def test_the_detail_parses_as_the_declared_fault(clients: dict[str, zeep.Client]) -> None:
    """What typed client tooling does: take the fault the WSDL declares for the operation and
    parse the detail of a real refusal (a vend for a meter nobody registered) with it."""
    client = clients["atm"]
    operation = client.wsdl.port_types[f"{{{TNS}}}{SERVICE_NAME}"].operations["CreditVend"]
    (message,) = operation.fault_messages.values()
    (part,) = message.parts.values()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.CreditVend(
            **header(ATM), meterNumber=UNKNOWN_METER, amount="20.00", payType="cash"
        )
    (node,) = caught.value.detail
    assert etree.QName(node) == part.element.qname
    detail = part.element.parse(node, client.wsdl.types)
    assert (detail.faultType, detail.code) == ("UnknownMeterEx", "unknown-meter")
    assert detail.desc == caught.value.message
    assert detail.correlationID is None


def test_duplicate_msg_id(clients: dict[str, zeep.Client]) -> None:
    msg_id = new_msg_id()
    clients["atm"].service.CreditVend(
        **header(ATM, msg_id), meterNumber=METER, amount="20.00", payType="cash"
    )
    code, detail, _ = fault(
        lambda: clients["atm"].service.CreditVend(
            **header(ATM, msg_id), meterNumber=METER, amount="30.00", payType="cash"
        )
    )
    assert (code, detail["faultType"]) == ("Client", "DuplicateMsgIDEx")
    assert detail["code"] == "duplicate-msg-id"


def test_a_confirmed_vend_cannot_be_reversed(clients: dict[str, zeep.Client]) -> None:
    msg_id = new_msg_id()
    atm = clients["atm"].service
    atm.CreditVend(**header(ATM, msg_id), meterNumber=METER, amount="20.00", payType="cash")
    atm.ConfirmationAdvice(**header(ATM), originalMsgID=msg_id)
    code, detail, _ = fault(lambda: atm.ReversalAdvice(**header(ATM), originalMsgID=msg_id))
    assert (code, detail["faultType"], detail["code"]) == (
        "Client",
        "ReversalEx",
        "already-confirmed",
    )


def test_system_fault_hides_the_cause_and_logs_it(
    clients: dict[str, zeep.Client], e2e_db: TestDatabase, server: Server
) -> None:
    """A broken database (a table renamed under the running server) is Server.SystemEx with
    a correlation ID; the SQL error stays in the server log."""
    with e2e_db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE meter RENAME TO meter_gone"))
    try:
        code, detail, message = fault(
            lambda: clients["atm"].service.ConfirmCustomer(**header(ATM), meterNumber=METER)
        )
    finally:
        with e2e_db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE meter_gone RENAME TO meter"))
    assert code == "Server"
    assert detail["faultType"] == "SystemEx"
    correlation = detail["correlationID"]
    assert correlation in message
    assert "meter" not in message.lower() and "sql" not in message.lower()
    log = server.log_text()
    assert f"correlation={correlation}" in log
    assert "Traceback" in log


def test_a_vend_beyond_the_float_changes_nothing(
    clients: dict[str, zeep.Client], e2e_db: TestDatabase
) -> None:
    """Corner Shop's float is 50.00: a 60.00 vend is VendorCreditEx and leaves every table as it
    was, except the one row that remembers the refusal for its msgID (so a retry after a top-up
    stays refused, as XMLVend clients expect)."""
    before = row_counts(e2e_db.engine)
    msg_id = new_msg_id()
    code, detail, _ = fault(
        lambda: clients["pos"].service.CreditVend(
            **header(POS, msg_id), meterNumber=METER, amount="60.00", payType="cash"
        )
    )
    assert (code, detail["faultType"]) == ("Client", "VendorCreditEx")
    after = row_counts(e2e_db.engine)
    assert after.pop("vend_request") == before.pop("vend_request") + 1
    assert after == before
    with e2e_db.engine.connect() as conn:
        outcome = conn.execute(
            text(
                "SELECT outcome FROM vend_request WHERE client_id = :c AND msg_unique_number = :u"
            ),
            {"c": POS.client_id, "u": msg_id["uniqueNumber"]},
        ).scalar_one()
    assert outcome == "refused"
