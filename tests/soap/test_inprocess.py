"""The /vend application in this process, on the demo database (SQLite and PostgreSQL) with the
real DatabaseVendingService: a zeep client through a WSGI adapter, no server, no mocks."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import zeep

from gateway.soap.wsdl_export import DEFAULT_PATH, canonical
from tests.support.soap import (
    ATM,
    ENTITY_BOMB,
    METER,
    POS,
    XXE_BODY,
    confirm_customer_xml,
    envelope,
    fault_of,
    header,
    oversized,
    row_counts,
    session_for,
    zeep_client,
    zeep_fault_detail,
)

if TYPE_CHECKING:
    from gateway.soap.app import WsgiApp
    from tests.conftest import TestDatabase

BASE = "http://vendgw.test"


def test_confirm_customer_then_vend(vend_app: WsgiApp) -> None:
    client = zeep_client(BASE, ATM, vend_app)
    customer = client.service.ConfirmCustomer(**header(ATM), meterNumber=METER)
    assert customer.customer.name == "Thandi Mokoena"
    resp = client.service.CreditVend(
        **header(ATM), meterNumber=METER, amount="50.00", payType="cash"
    )
    assert resp.tenderAmount == Decimal("50.00")
    assert len(resp.transactions[0].tokens[0]) == 20


def test_served_wsdl_is_the_checked_in_one(vend_app: WsgiApp) -> None:
    served = session_for(None, vend_app).get(f"{BASE}/vend?wsdl")
    assert b'location="http://vendgw.test/vend"' in served.content
    assert canonical(served.content) == DEFAULT_PATH.read_bytes()


def test_missing_credentials(vend_app: WsgiApp) -> None:
    response = session_for(None, vend_app).post(
        f"{BASE}/vend",
        data=envelope(confirm_customer_xml(ATM)),
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_body_of_another_vendor(vend_app: WsgiApp) -> None:
    client = zeep_client(BASE, ATM, vend_app)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.ConfirmCustomer(**header(POS), meterNumber=METER)
    assert caught.value.code.endswith(":Client")
    assert zeep_fault_detail(caught.value)["faultType"] == "ClientIDAuthorisationEx"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (XXE_BODY, 500, "dtd-refused"),
        (ENTITY_BOMB, 500, "dtd-refused"),
        (b"<soapenv:Envelope", 500, "malformed-xml"),
        (oversized(65536), 500, "body-too-large"),
    ],
    ids=["xxe", "entity-bomb", "malformed", "oversized"],
)
def test_refused_bodies_change_nothing(
    vend_app: WsgiApp, demo_db: TestDatabase, body: bytes, status: int, code: str
) -> None:
    before = row_counts(demo_db.engine)
    response = session_for(ATM, vend_app).post(
        f"{BASE}/vend", data=body, headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == status
    assert fault_of(response)["code"] == code
    assert row_counts(demo_db.engine) == before
