"""The HTTP edge of the real server (issue 12, defect 10): a body that is not text/xml gets 415,
and a SOAP header that must be understood gets SOAP's MustUnderstand fault; neither vends."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from tests.support.soap import ATM, credit_vend_xml, envelope, fault_of

pytestmark = pytest.mark.e2e

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def test_a_json_body_is_415(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/vend",
        data=envelope(credit_vend_xml(ATM)),
        headers={"Content-Type": "application/json"},
        auth=ATM.auth,
        timeout=30,
    )
    assert response.status_code == 415
    assert response.headers["Content-Type"].startswith("text/xml")
    assert fault_of(response)["code"] == "unsupported-media-type"


def test_a_must_understand_header_is_a_must_understand_fault(base_url: str) -> None:
    body = envelope(credit_vend_xml(ATM)).replace(
        b"<soapenv:Body>",
        b'<soapenv:Header><t:Tx xmlns:t="urn:example:tx" soapenv:mustUnderstand="1">2pc'
        b"</t:Tx></soapenv:Header><soapenv:Body>",
    )
    response = requests.post(
        f"{base_url}/vend",
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=ATM.auth,
        timeout=30,
    )
    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(f".//{{{SOAP_ENV}}}Fault")
    assert fault is not None
    prefix, _, local = (fault.findtext("faultcode") or "").partition(":")
    assert (fault.nsmap.get(prefix), local) == (SOAP_ENV, "MustUnderstand")
    assert b"receiptNo" not in response.content
