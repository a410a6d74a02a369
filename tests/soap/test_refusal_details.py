"""Refusals translated at the vend domain's entry (gateway/vend/refusals.py) reach a SOAP client
with their figures: the WSDL's XMLVendFault has no room for them, so the faultstring says them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway import errors
from gateway.vend import refusals
from tests.support.soap import POS, credit_vend_xml, envelope, fault_of, session_for

if TYPE_CHECKING:
    from gateway.soap.app import WsgiApp

BASE = "http://vendgw.test"


def post(app: WsgiApp, body: str) -> dict[str, str]:
    response = session_for(POS, app).post(
        f"{BASE}/vend", data=envelope(body), headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 500
    return fault_of(response)


@pytest.mark.parametrize("operation", ["CreditVend", "TrialCreditVend"])
def test_a_vendor_credit_fault_says_available_floor_and_cap(
    vend_app: WsgiApp, operation: str
) -> None:
    body = credit_vend_xml(POS, amount="60.00").replace("CreditVendReq", f"{operation}Req")
    fault = post(vend_app, body)
    assert (fault["faultcode"], fault["faultType"], fault["code"]) == (
        "Client",
        "VendorCreditEx",
        "insufficient-float",
    )
    assert "(available 50.00, floor 0.00, no daily cap)" in fault["faultstring"]


def test_a_vend_amount_fault_says_min_and_max(vend_app: WsgiApp) -> None:
    fault = post(vend_app, credit_vend_xml(POS, amount="0.50"))
    assert (fault["faultcode"], fault["faultType"], fault["code"]) == (
        "Client",
        "VendAmountEx",
        "vend-amount",
    )
    assert "outside 5.00..5000.00" in fault["faultstring"]


def test_the_table_maps_into_fault_types_with_kebab_codes() -> None:
    for source, target in refusals.LIBRARY_ERRORS.items():
        assert target in errors.FAULT_TYPES, source
        code = getattr(source, "default_code", getattr(source, "code", target.default_code))
        assert code == code.lower() and "_" not in code, source
