"""The HTTP edge of the real server (issue 12, defect 10; issue 14): a body that is not text/xml
gets XMLVendSchemaEx, a SOAP 1.2 request SOAP 1.1's VersionMismatch fault, and a SOAP header that
must be understood gets SOAP's MustUnderstand fault; all with HTTP 500, as every fault (R1126);
none vends."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from tests.support.soap import ATM, credit_vend_xml, envelope, fault_of

pytestmark = pytest.mark.e2e

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def test_a_json_body_is_refused_with_a_fault(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/vend",
        data=envelope(credit_vend_xml(ATM)),
        headers={"Content-Type": "application/json"},
        auth=ATM.auth,
        timeout=30,
    )
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    assert fault_of(response)["code"] == "unsupported-media-type"


@pytest.mark.parametrize("content_type", ["text/xml; charset=utf-8", "application/soap+xml"])
def test_a_soap12_request_is_a_version_mismatch(base_url: str, content_type: str) -> None:
    body = envelope(credit_vend_xml(ATM)).replace(
        SOAP_ENV.encode(), b"http://www.w3.org/2003/05/soap-envelope"
    )
    response = requests.post(
        f"{base_url}/vend",
        data=body,
        headers={"Content-Type": content_type},
        auth=ATM.auth,
        timeout=30,
    )
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    fault = etree.fromstring(response.content).find(f".//{{{SOAP_ENV}}}Fault")
    assert fault is not None
    prefix, _, local = (fault.findtext("faultcode") or "").partition(":")
    assert (fault.nsmap.get(prefix), local) == (SOAP_ENV, "VersionMismatch")
    assert b"receiptNo" not in response.content


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
