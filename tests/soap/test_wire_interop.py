"""What real SOAP stacks need of /vend (issue 14, "Also:"), each found by calling it with one.

* every SOAP fault travels with HTTP 500 (WS-I Basic Profile R1126): suds, ASMX, JAX-WS and Axis
  throw a 403 or 413 away unread; only 401 keeps its status (clients need the challenge), with a
  SOAP fault as its body; no text/plain body anywhere on the SOAP path (node `soap`: "Invalid XML");
* xs:decimal amounts with trailing zeros (`50.500`, .NET's decimal arithmetic) are the amounts they
  say; fractions of a cent are still refused;
* a SOAP 1.2 envelope gets SOAP 1.1's VersionMismatch fault;
* faultcode is exactly soap:Client or soap:Server (a QName in the SOAP 1.1 envelope namespace):
  .NET and JAX-WS compare it whole; the XMLVend type is in the detail;
* times are UTC on the wire (statement movements like receipts); an FBE receipt shows its units.

In process, on the demo database (both backends), through the real /vend application.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests
from lxml import etree

from core.db import transaction
from gateway.soap.auth import LoginThrottle, TerminalAuthenticator
from gateway.soap.guard import SOAP11_ENV
from gateway.soap.types import TNS
from tests.support.soap import (
    ATM,
    BLOCKED_METER,
    FBE_METER,
    METER,
    OFFICE,
    confirm_customer_xml,
    credit_vend_xml,
    envelope,
    fault_of,
    header,
    oversized,
    row_counts,
    session_for,
    zeep_client,
    zeep_fault_detail,
)
from vendor_accounts import vendors
from vendor_accounts.credentials import Backoff
from vendor_accounts.exceptions import VerifierBusy

if TYPE_CHECKING:
    from gateway.soap.app import WsgiApp
    from tests.conftest import TestDatabase

BASE = "http://vendgw.test"
XML = {"Content-Type": "text/xml; charset=utf-8"}
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


def post(
    app: WsgiApp,
    body: bytes,
    *,
    auth: tuple[str, str] | None = ATM.auth,
    headers: dict[str, str] | None = None,
    remote_addr: str = "127.0.0.1",
) -> requests.Response:
    session = session_for(None, app, BASE, remote_addr=remote_addr)
    session.auth = auth
    return session.post(f"{BASE}/vend", data=body, headers=headers or XML)


def fault_element(response: requests.Response) -> etree._Element:
    """The response's soap11:Fault, after checking it is a SOAP 1.1 envelope in text/xml."""
    assert response.headers["Content-Type"].startswith("text/xml"), response.headers
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{SOAP11_ENV}}}Envelope", response.content[:300]
    fault = root.find(f"{{{SOAP11_ENV}}}Body/{{{SOAP11_ENV}}}Fault")
    assert fault is not None, response.content[:500]
    return fault


def faultcode_qname(response: requests.Response) -> tuple[str | None, str]:
    """The faultcode as a QName: (namespace its prefix is bound to, local part)."""
    code = fault_element(response).find("faultcode")
    assert code is not None and code.text
    prefix, _, local = code.text.strip().rpartition(":")
    return code.nsmap.get(prefix or None), local


# 1. HTTP 500 for every fault; 401 with a SOAP body ------------------------------------------


@pytest.mark.parametrize("change", ["suspend", "disable", "allowlist"])
def test_refused_terminals_get_their_fault_with_http_500(
    vend_app: WsgiApp, demo_db: TestDatabase, change: str
) -> None:
    with transaction(demo_db.sessions) as session:
        if change == "suspend":
            vendors.set_vendor_status(session, ATM.client_id, "suspended", actor="test")
        elif change == "disable":
            vendors.set_terminal_status(
                session,
                client_id=ATM.client_id,
                terminal_code=ATM.terminal_id,
                status="disabled",
                actor="test",
            )
        else:
            terminal = vendors.get_terminal(session, ATM.client_id, ATM.terminal_id)
            terminal.allowed_cidrs = "192.0.2.0/24"
            terminal.credential_version += 1
    response = post(vend_app, envelope(confirm_customer_xml(ATM)), remote_addr="10.9.9.9")
    assert response.status_code == 500
    assert faultcode_qname(response) == (SOAP11_ENV, "Client")
    assert fault_of(response)["faultType"] == "RequestAuthorisationEx"


def test_an_oversized_body_gets_its_fault_with_http_500(
    vend_app: WsgiApp, demo_db: TestDatabase
) -> None:
    limit = demo_db.runtime.settings.server.max_body_bytes
    response = post(vend_app, oversized(limit))
    assert response.status_code == 500
    assert response.headers.get("Connection") == "close"  # the rest of the body is not read
    fault = fault_of(response)
    assert (fault["faultType"], fault["code"]) == ("XMLVendSchemaEx", "body-too-large")


def test_a_body_that_is_not_text_xml_gets_its_fault_with_http_500(vend_app: WsgiApp) -> None:
    response = post(
        vend_app, envelope(confirm_customer_xml(ATM)), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 500
    fault = fault_of(response)
    assert (fault["faultType"], fault["code"]) == ("XMLVendSchemaEx", "unsupported-media-type")


@pytest.mark.parametrize(
    "auth", [None, (f"{ATM.client_id}/{ATM.terminal_id}", "wrong"), ("6004000000999/X", "y")]
)
def test_401_keeps_its_challenge_and_carries_a_soap_fault(
    vend_app: WsgiApp, auth: tuple[str, str] | None
) -> None:
    response = post(vend_app, envelope(confirm_customer_xml(ATM)), auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="vendgw"')
    assert faultcode_qname(response) == (SOAP11_ENV, "Client")
    fault = fault_of(response)
    assert (fault["faultType"], fault["code"]) == ("RequestAuthorisationEx", "auth-failed")


def test_the_401_bodies_cannot_tell_unknown_ids_from_a_wrong_secret(vend_app: WsgiApp) -> None:
    wrong_secret = post(vend_app, envelope(confirm_customer_xml(ATM)), auth=(ATM.auth[0], "x"))
    unknown_ids = post(vend_app, envelope(confirm_customer_xml(ATM)), auth=("6004000000999/X", "x"))
    assert wrong_secret.content == unknown_ids.content


def test_the_login_throttle_is_a_typed_fault_with_http_500_and_retry_after(
    demo_db: TestDatabase,
) -> None:
    from gateway.soap import create_soap_app
    from gateway.vend.service import DatabaseVendingService

    # The throttle's clock stands still: its first wait (1 s) cannot run out between the last
    # refused login and the next request, however slow a loaded machine makes them.
    stopped = time.time()
    authenticator = TerminalAuthenticator(
        demo_db.runtime, throttle=LoginThrottle(clock=lambda: stopped)
    )
    vend_app = create_soap_app(
        DatabaseVendingService(demo_db.runtime), demo_db.runtime, authenticator=authenticator
    )
    wrong = (ATM.auth[0], "not-the-secret")
    statuses = [post(vend_app, envelope(confirm_customer_xml(ATM)), auth=wrong).status_code]
    while statuses[-1] == 401 and len(statuses) < 30:
        statuses.append(post(vend_app, envelope(confirm_customer_xml(ATM)), auth=wrong).status_code)
    before = row_counts(demo_db.engine)
    throttled = post(vend_app, envelope(confirm_customer_xml(ATM)))  # even the right secret waits
    assert statuses[-1] == 500 and statuses[:-1] == [401] * (len(statuses) - 1)
    assert throttled.status_code == 500
    assert int(throttled.headers["Retry-After"]) >= 1
    assert faultcode_qname(throttled) == (SOAP11_ENV, "Client")
    fault = fault_of(throttled)
    assert (fault["faultType"], fault["code"]) == ("RequestAuthorisationEx", "auth-throttled")
    assert "retry" in fault["faultstring"].lower()
    counts = row_counts(demo_db.engine)
    # Only the throttle's own bookkeeping may move (its at-most-once-a-minute audit row).
    changed = {name for name in counts if counts[name] != before[name]}
    assert changed <= {"audit_event", "login_failure"}


def test_a_busy_verifier_is_a_server_fault_with_http_500_and_retry_after(
    demo_db: TestDatabase,
) -> None:
    from gateway.soap import create_soap_app
    from gateway.vend.service import DatabaseVendingService

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise VerifierBusy("busy", client_id=ATM.client_id, terminal_code="ATM-0001", retry_after=2)

    authenticator = TerminalAuthenticator(
        demo_db.runtime, throttle=LoginThrottle(backoff=Backoff()), authenticate=busy
    )
    app = create_soap_app(
        DatabaseVendingService(demo_db.runtime), demo_db.runtime, authenticator=authenticator
    )
    response = post(app, envelope(confirm_customer_xml(ATM)))
    assert response.status_code == 500
    assert response.headers["Retry-After"] == "2"
    assert faultcode_qname(response) == (SOAP11_ENV, "Server")
    fault = fault_of(response)
    assert (fault["faultType"], fault["code"]) == ("SystemEx", "auth-verifier-busy")


def test_no_answer_to_a_soap_post_is_text_plain(vend_app: WsgiApp, demo_db: TestDatabase) -> None:
    limit = demo_db.runtime.settings.server.max_body_bytes
    answers = [
        post(vend_app, envelope(confirm_customer_xml(ATM)), auth=None),
        post(vend_app, envelope(confirm_customer_xml(ATM)), auth=(ATM.auth[0], "x")),
        post(vend_app, oversized(limit)),
        post(vend_app, b"<not-xml"),
        post(vend_app, envelope(credit_vend_xml(ATM, BLOCKED_METER))),
    ]
    for answer in answers:
        assert answer.headers["Content-Type"].startswith("text/xml"), answer.content[:200]
        fault_element(answer)


# 2. Amounts with trailing zeros --------------------------------------------------------------


@pytest.mark.parametrize("amount", ["50.500", "50.5000", "50.50000000", "050.50"])
def test_amounts_with_trailing_zeros_are_the_amount_they_say(
    vend_app: WsgiApp, amount: str
) -> None:
    response = post(vend_app, envelope(credit_vend_xml(ATM, METER, amount)))
    assert response.status_code == 200, response.content[:600]
    root = etree.fromstring(response.content)
    assert root.findtext(f".//{{{TNS}}}tenderAmount") == "50.50"


@pytest.mark.parametrize("amount", ["50.505", "50.5050", "0.001"])
def test_fractions_of_a_cent_are_still_refused(
    vend_app: WsgiApp, demo_db: TestDatabase, amount: str
) -> None:
    before = row_counts(demo_db.engine)
    response = post(vend_app, envelope(credit_vend_xml(ATM, METER, amount)))
    assert response.status_code == 500
    assert fault_of(response)["faultType"] == "XMLVendSchemaEx"
    after = row_counts(demo_db.engine)
    # The refusal is remembered for its msgID (vend_request) when it reached the service.
    assert {k for k in after if after[k] != before[k]} <= {"vend_request"}


def test_zeep_sends_a_decimal_with_trailing_zeros(vend_app: WsgiApp) -> None:
    client = zeep_client(BASE, ATM, vend_app)
    answer = client.service.CreditVend(
        **header(ATM), meterNumber=METER, amount=Decimal("50.5000"), payType="cash"
    )
    assert answer.tenderAmount == Decimal("50.50")


# 4. SOAP 1.2 ---------------------------------------------------------------------------------


def soap12(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP12_ENV}"'
        f' xmlns="{TNS}"><env:Body>{body}</env:Body></env:Envelope>'
    ).encode()


@pytest.mark.parametrize(
    "content_type", ["text/xml; charset=utf-8", 'application/soap+xml; charset=utf-8; action=""']
)
def test_a_soap12_envelope_gets_the_soap11_version_mismatch_fault(
    vend_app: WsgiApp, demo_db: TestDatabase, content_type: str
) -> None:
    before = row_counts(demo_db.engine)
    response = post(vend_app, soap12(credit_vend_xml(ATM)), headers={"Content-Type": content_type})
    assert response.status_code == 500
    assert faultcode_qname(response) == (SOAP11_ENV, "VersionMismatch")
    assert b"XMLVendSchemaEx" not in response.content
    assert row_counts(demo_db.engine) == before


def test_an_envelope_in_another_namespace_is_a_version_mismatch_too(vend_app: WsgiApp) -> None:
    body = envelope(confirm_customer_xml(ATM)).replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"urn:not-soap"
    )
    response = post(vend_app, body)
    assert response.status_code == 500
    assert faultcode_qname(response) == (SOAP11_ENV, "VersionMismatch")


# 5. faultcode soap:Client / soap:Server, the XMLVend type in the detail -----------------------


@pytest.mark.parametrize(
    ("body", "code", "fault_type"),
    [
        (lambda: credit_vend_xml(ATM, BLOCKED_METER), "Client", "BlockedMeterEx"),
        (lambda: "<CreditVendReq><nonsense/></CreditVendReq>", "Client", "XMLVendSchemaEx"),
        (lambda: confirm_customer_xml(OFFICE), "Client", "ClientIDAuthorisationEx"),
    ],
)
def test_faultcodes_are_plain_client_or_server_qnames(
    vend_app: WsgiApp, body: Any, code: str, fault_type: str
) -> None:
    response = post(vend_app, envelope(body()))
    assert response.status_code == 500
    assert faultcode_qname(response) == (SOAP11_ENV, code)
    assert fault_of(response)["faultType"] == fault_type


def test_zeep_reads_the_typed_fault_from_the_detail(vend_app: WsgiApp) -> None:
    import zeep

    client = zeep_client(BASE, ATM, vend_app)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.CreditVend(
            **header(ATM), meterNumber=BLOCKED_METER, amount=Decimal("20"), payType="cash"
        )
    assert caught.value.code.rpartition(":")[2] == "Client"
    detail = zeep_fault_detail(caught.value)
    assert (detail["faultType"], detail["code"]) == ("BlockedMeterEx", "blocked-meter")


# 6. UTC on the wire; the units of an FBE receipt --------------------------------------------


def _utc_offset_zero(text: str) -> bool:
    return text.endswith("Z") or text.endswith("+00:00")


def test_statement_times_are_utc_like_receipts(vend_app: WsgiApp, demo_db: TestDatabase) -> None:
    # The utility is not on UTC, or this test could not tell local times from UTC ones.
    assert demo_db.runtime.settings.utility.timezone not in ("UTC", "Etc/UTC")
    client = zeep_client(BASE, ATM, vend_app)
    receipt = client.service.CreditVend(
        **header(ATM), meterNumber=METER, amount=Decimal("20.00"), payType="cash"
    )
    raw = post(
        vend_app,
        envelope(
            f"<VendorStatementReq><clientID>{ATM.client_id}</clientID>"
            f"<terminalID>{ATM.terminal_id}</terminalID><msgID><dateTime>20260101120000"
            f"</dateTime><uniqueNumber>{header(ATM)['msgID']['uniqueNumber']}</uniqueNumber>"
            "</msgID><maxItems>3</maxItems></VendorStatementReq>"
        ),
    )
    assert raw.status_code == 200, raw.content[:500]
    root = etree.fromstring(raw.content)
    times = [node.text or "" for node in root.iter(f"{{{TNS}}}at")]
    assert times, raw.content[:800]
    assert all(_utc_offset_zero(text) for text in times), times
    newest = client.service.VendorStatement(**header(ATM), maxItems=1).movements[0]
    assert newest.reference.endswith(receipt.receiptNo)
    assert newest.at.utcoffset() == timedelta(0)
    assert abs(newest.at - receipt.issuedAt) < timedelta(seconds=5)


def test_an_fbe_receipt_shows_the_units_of_its_token(vend_app: WsgiApp) -> None:
    client = zeep_client(BASE, ATM, vend_app)
    receipt = client.service.FBEVend(**header(ATM), meterNumber=FBE_METER)
    [line] = receipt.transactions
    assert line.type == "fbe" and line.units > 0
    assert receipt.units == line.units
    again = client.service.Reprint(**header(ATM), meterNumber=FBE_METER)
    assert again.receipts[0].units == line.units


def test_a_credit_receipt_still_shows_the_credit_it_sold(vend_app: WsgiApp) -> None:
    client = zeep_client(BASE, ATM, vend_app)
    receipt = client.service.CreditVend(
        **header(ATM), meterNumber=FBE_METER, amount=Decimal("30.00"), payType="cash"
    )
    credit = [line for line in receipt.transactions if line.type == "credit"]
    assert receipt.units == sum(line.units for line in credit)
