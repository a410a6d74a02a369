"""The door of /xmlvend/2.1 end to end: the same credentials, guards and terminal rules as /vend,
every refusal a SOAP 1.1 fault valid against the XMLVend 2.1 schemas, routed by the Body."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import TestDatabase
from tests.support.soap import ATM, METER, OFFICE, Terminal, row_counts
from tests.xmlvend import support as x
from tests.xmlvend.support import SAMPLES, SOAP, R

pytestmark = pytest.mark.e2e


def test_a_wrong_password_is_401_with_a_fault_body(base_url: str) -> None:
    wrong = Terminal(ATM.client_id, ATM.terminal_id, "not-the-secret")
    response = x.post(base_url, wrong, x.credit_vend(ATM, x.new_msg(), METER, "10.00"))
    refused = x.fault(response, status=401)
    assert refused.fault_type == "RequestAuthorisationEx"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["Content-Type"].startswith("text/xml")


def test_no_credentials_is_401(base_url: str) -> None:
    response = x.post(base_url, None, x.credit_vend(ATM, x.new_msg(), METER, "10.00"))
    assert x.fault(response, status=401).fault_type == "RequestAuthorisationEx"


def test_a_header_for_another_terminal_is_client_id_authorisation_ex(
    base_url: str, e2e_db: TestDatabase
) -> None:
    before = row_counts(e2e_db.engine)
    response = x.post(base_url, ATM, x.credit_vend(OFFICE, x.new_msg(), METER, "10.00"))
    assert x.fault(response).fault_type == "ClientIDAuthorisationEx"
    after = row_counts(e2e_db.engine)
    # (A good login forgets this address's earlier failed logins: the other tests' rows.)
    before.pop("login_failure"), after.pop("login_failure")
    assert after == before


def test_soap_action_is_ignored_the_body_routes(base_url: str) -> None:
    payload = x.simple(
        ATM,
        x.new_msg(),
        "r:confirmCustomerReq",
        '<r:idMethod xsi:type="b:VendIDMethod">'
        f'<b:meterIdentifier xsi:type="b:MeterNumber" msno="{METER}"/></r:idMethod>',
    )
    resp = x.answer(x.post(base_url, ATM, payload, soap_action="CreditVendRequest"))
    assert resp.tag == f"{{{R}}}confirmCustomerResp"


def test_a_soap_12_envelope_gets_version_mismatch(base_url: str) -> None:
    payload = x.credit_vend(ATM, x.new_msg(), METER, "10.00").replace(
        SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope"
    )
    response = x.post(base_url, ATM, payload)
    assert response.status_code == 500
    document = x.validate(response.content)
    assert document.findtext(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/faultcode") == "soap:VersionMismatch"


def test_a_dtd_is_refused_before_parsing(base_url: str) -> None:
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
        + x.credit_vend(ATM, x.new_msg(), METER, "10.00").split(b"?>", 1)[1]
    )
    assert x.fault(x.post(base_url, ATM, payload)).code == "dtd-refused"


def test_an_oversized_body_is_refused_unread(base_url: str) -> None:
    response = x.post(base_url, ATM, b"<x>" + b" " * 70000 + b"</x>")
    assert x.fault(response).code == "body-too-large"
    assert response.headers.get("Connection") == "close"


def test_another_media_type_is_refused(base_url: str) -> None:
    response = requests.post(
        base_url + x.PATH,
        data=x.credit_vend(ATM, x.new_msg(), METER, "10.00"),
        headers={"Content-Type": "application/json"},
        auth=ATM.auth,
        timeout=10,
    )
    assert x.fault(response).code == "unsupported-media-type"


def test_a_standard_request_not_served_is_use_case_support_ex(base_url: str) -> None:
    sample = (SAMPLES / "revenue" / "verifyReq.xml").read_bytes()
    payload = sample.replace(b"6004708000014", ATM.client_id.encode()).replace(
        b'id="POS-0001"', f'id="{ATM.terminal_id}"'.encode()
    )
    assert x.fault(x.post(base_url, ATM, payload)).fault_type == "UseCaseSupportEx"


def test_an_unknown_request_element_is_a_schema_fault(base_url: str) -> None:
    payload = x.simple(ATM, x.new_msg(), "r:buyEverythingReq")
    assert x.fault(x.post(base_url, ATM, payload)).fault_type == "XMLVendSchemaEx"


def test_advice_without_its_type_is_a_schema_fault(base_url: str) -> None:
    payload = x.simple(ATM, x.new_msg(), "b:adviceReq", x.new_msg().xml("b:adviceReqMsgID"))
    assert x.fault(x.post(base_url, ATM, payload)).code == "advice-type"


def test_a_missing_value_is_a_schema_fault(base_url: str) -> None:
    payload = x.simple(ATM, x.new_msg(), "r:creditVendReq", x.meter_id(METER))
    refused = x.fault(x.post(base_url, ATM, payload))
    assert (refused.fault_type, refused.code) == ("XMLVendSchemaEx", "missing-element")


def test_get_without_wsdl_is_405(base_url: str) -> None:
    assert requests.get(base_url + x.PATH, timeout=10).status_code == 405
