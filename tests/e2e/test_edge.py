"""The edge of the real server: the published WSDL, HTTP authentication, and hostile or broken
bodies (sent as raw bytes, since no SOAP client would send them), which must each get their
fault and leave the database exactly as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
import zeep

from gateway.soap.wsdl_export import canonical
from tests.support.soap import (
    ATM,
    ENTITY_BOMB,
    MALFORMED,
    POS,
    XXE_BODY,
    Terminal,
    confirm_customer_xml,
    envelope,
    fault_of,
    header,
    oversized,
    row_counts,
    zeep_client,
    zeep_fault_detail,
)

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
LIMIT = 65536
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"ConfirmCustomer"'}


def test_served_wsdl_matches_the_checked_in_one(base_url: str) -> None:
    served = requests.get(f"{base_url}/vend?wsdl", timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/xml")
    assert f'location="{base_url}/vend"'.encode() in served.content
    assert canonical(served.content) == (ROOT / "wsdl" / "vendgw.wsdl").read_bytes(), (
        "the WSDL drifted from wsdl/vendgw.wsdl: run `vendgw wsdl export` and review the diff"
    )


def test_wsdl_address_ignores_a_hostile_host_header(base_url: str) -> None:
    served = requests.get(
        f"{base_url}/vend?wsdl", timeout=10, headers={"Host": 'evil.example"><x a="'}
    )
    assert b"evil.example" not in served.content


def test_no_credentials_is_401(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/vend", data=envelope(confirm_customer_xml(ATM)), headers=XML, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="vendgw"')
    # The body is a SOAP fault too (node `soap` called the old text/plain one "Invalid XML").
    assert response.headers["Content-Type"].startswith("text/xml")
    got = fault_of(response)
    assert (got["faultcode"], got["faultType"], got["code"]) == (
        "Client",
        "RequestAuthorisationEx",
        "auth-failed",
    )


def test_a_throttled_login_is_a_typed_fault_with_http_500(base_url: str) -> None:
    """R1126: suds, ASMX, JAX-WS and Axis read a fault only from a 500; Retry-After says when."""
    nobody = ("6004000000019/NO-SUCH-TERMINAL", "guess")
    statuses = []
    for _ in range(12):
        response = requests.post(
            f"{base_url}/vend",
            data=envelope(confirm_customer_xml(ATM)),
            headers=XML,
            auth=nobody,
            timeout=10,
        )
        statuses.append(response.status_code)
        if response.status_code != 401:
            break
    assert statuses == [401] * (len(statuses) - 1) + [500], statuses
    assert int(response.headers["Retry-After"]) >= 1
    got = fault_of(response)
    assert (got["faultcode"], got["faultType"], got["code"]) == (
        "Client",
        "RequestAuthorisationEx",
        "auth-throttled",
    )


def test_a_suspended_vendor_gets_its_fault_with_http_500(
    base_url: str, e2e_db: TestDatabase
) -> None:
    from core.db import transaction
    from vendor_accounts import vendors

    with transaction(e2e_db.sessions) as session:
        vendors.set_vendor_status(session, POS.client_id, "suspended", actor="test")
    try:
        response = requests.post(
            f"{base_url}/vend",
            data=envelope(confirm_customer_xml(POS)),
            headers=XML,
            auth=POS.auth,
            timeout=10,
        )
    finally:
        with transaction(e2e_db.sessions) as session:
            vendors.set_vendor_status(session, POS.client_id, "active", actor="test")
    assert response.status_code == 500  # was 403, which suds, ASMX, JAX-WS and Axis drop unread
    got = fault_of(response)
    assert (got["faultcode"], got["faultType"], got["code"]) == (
        "Client",
        "RequestAuthorisationEx",
        "auth-vendor-not-active",
    )


def test_wrong_secret_is_401_for_zeep_too(base_url: str) -> None:
    """zeep reads the 401's SOAP body: the caller gets a typed fault, not a bare HTTP error."""
    client = zeep_client(base_url, Terminal(ATM.client_id, ATM.terminal_id, "not-it"))
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.ConfirmCustomer(**header(ATM), meterNumber="01234567897")
    assert caught.value.code.endswith(":Client")
    detail = zeep_fault_detail(caught.value)
    assert (detail["faultType"], detail["code"]) == ("RequestAuthorisationEx", "auth-failed")


def test_body_for_another_terminal_is_client_id_authorisation(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/vend",
        data=envelope(confirm_customer_xml(POS)),
        headers=XML,
        auth=ATM.auth,
        timeout=10,
    )
    assert response.status_code == 500
    assert fault_of(response)["faultType"] == "ClientIDAuthorisationEx"


def test_other_methods_are_405(base_url: str) -> None:
    response = requests.put(f"{base_url}/vend", data=b"x", auth=ATM.auth, timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


@pytest.fixture
def unchanged(e2e_db: TestDatabase) -> Iterator[None]:
    """The database has the same rows in every table after the test as before it."""
    before = row_counts(e2e_db.engine)
    yield
    assert row_counts(e2e_db.engine) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (XXE_BODY, "dtd-refused"),
        (ENTITY_BOMB, "dtd-refused"),
        (MALFORMED, "malformed-xml"),
        (b"not xml at all", "malformed-xml"),
        (envelope("<ConfirmCustomerReq><clientID>1</clientID></ConfirmCustomerReq>"), "schema"),
        (envelope("<NoSuchReq/>"), "schema"),
    ],
    ids=["xxe", "entity-bomb", "malformed", "not-xml", "schema", "unknown-operation"],
)
def test_hostile_and_broken_bodies(base_url: str, unchanged: None, body: bytes, code: str) -> None:
    response = requests.post(f"{base_url}/vend", data=body, headers=XML, auth=ATM.auth, timeout=10)
    assert response.status_code == 500
    got = fault_of(response)
    assert (got["faultcode"], got["faultType"]) == ("Client", "XMLVendSchemaEx")
    assert got["code"] == code
    assert b"root:" not in response.content  # /etc/passwd never comes back


def test_oversized_body_with_content_length(base_url: str, unchanged: None) -> None:
    response = requests.post(
        f"{base_url}/vend", data=oversized(LIMIT), headers=XML, auth=ATM.auth, timeout=10
    )
    assert response.status_code == 500  # a fault (R1126), not 413
    assert fault_of(response)["code"] == "body-too-large"


def test_oversized_chunked_body(base_url: str, unchanged: None) -> None:
    body = oversized(LIMIT)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = requests.post(
        f"{base_url}/vend", data=chunks(), headers=XML, auth=ATM.auth, timeout=10
    )
    assert response.status_code == 500
    assert fault_of(response)["code"] == "body-too-large"


def test_a_body_at_the_limit_is_read(base_url: str) -> None:
    body = envelope(confirm_customer_xml(ATM))
    padded = body.replace(
        b"<soapenv:Body>", b"<!--" + b"x" * (LIMIT - len(body) - 7) + b"--><soapenv:Body>"
    )
    assert len(padded) == LIMIT
    response = requests.post(
        f"{base_url}/vend", data=padded, headers=XML, auth=ATM.auth, timeout=10
    )
    assert response.status_code == 200, response.content[:300]
