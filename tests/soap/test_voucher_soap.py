"""VoucherVend at the SOAP edge: declared in the WSDL beside the XMLVend operations, with its
request type, and wired to the same authenticated principal as every operation."""

from __future__ import annotations

from lxml import etree

from gateway.soap import service, voucher_service
from gateway.soap.types import TNS
from gateway.soap.wsdl_export import generate

XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"


def test_the_voucher_service_reads_the_principal_the_guard_stored() -> None:
    assert voucher_service.PRINCIPAL_KEY == service.PRINCIPAL_KEY
    assert "VoucherVend" in service.OPERATIONS


def test_the_wsdl_declares_voucher_vend_in_the_one_port() -> None:
    root = etree.fromstring(generate())
    ports = root.findall(f"{WSDL}service/{WSDL}port")
    assert len(ports) == 1  # the two service classes share the VendGateway port
    operation = root.find(f"{WSDL}portType/{WSDL}operation[@name='VoucherVend']")
    assert operation is not None
    assert operation.find(f"{WSDL}input").get("message") == "tns:VoucherVendReq"
    assert operation.find(f"{WSDL}output").get("message") == "tns:VoucherVendResp"
    assert operation.find(f"{WSDL}fault").get("name") == "XMLVendFault"
    request = root.find(f".//{XS}complexType[@name='VoucherVendReq']")
    assert request is not None
    names = [e.get("name") for e in request.iter(f"{XS}element")]
    assert names == ["pin", "meterNumber"]
    pin = root.find(f".//{XS}simpleType[@name='VoucherPin']/{XS}restriction/{XS}pattern")
    assert pin is not None and pin.get("value") == "[0-9]{20}"
    response = root.find(f".//{XS}element[@name='VoucherVendResp']")
    assert response is not None and response.get("type") == "tns:VendResp"
    assert TNS in etree.tostring(root).decode()
