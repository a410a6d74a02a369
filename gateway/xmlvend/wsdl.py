"""The XMLVend 2.1 WSDL: SOAP 1.1 document/literal bare, one operation per request element,
named as real servers name them, with the three domain schemas embedded so that wsimport,
wsdl.exe, suds, PHP and zeep generate their clients from this one document.

`generate()` builds it from operations.OPERATIONS and the schema copies; the checked-in
wsdl/xmlvend-2.1.wsdl is its output (a test keeps them equal; `vendgw wsdl export` writes both
WSDLs). The address is a placeholder each request's own location replaces.
"""

from __future__ import annotations

from pathlib import Path

import click
from lxml import etree

from gateway.xmlvend.names import BASE, METER, REVENUE, SCHEMA_DIR, SCHEMA_FILES, SERVICE, b
from gateway.xmlvend.operations import OPERATIONS

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
PLACEHOLDER = "https://vendgw.invalid/xmlvend/2.1"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "wsdl" / "xmlvend-2.1.wsdl"
SERVICE_NAME = "XMLVendService"
PORT_TYPE = "XMLVendServiceSoap"
FAULT_MESSAGE = "NRSFaultResponseSoapOut"

W = f"{{{WSDL_NS}}}"
S = f"{{{SOAP_BINDING_NS}}}"
_PREFIXES = {BASE: "b", METER: "m", REVENUE: "r"}


def _embedded_schema(name: str) -> etree._Element:
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True)
    schema = etree.parse(str(SCHEMA_DIR / name), parser).getroot()
    for imported in schema.findall(f"{{{XSD_NS}}}import"):
        imported.attrib.pop("schemaLocation", None)  # the sibling schema in wsdl:types
    return schema


def _qname(clark: str) -> str:
    q = etree.QName(clark)
    return f"{_PREFIXES[q.namespace or '']}:{q.localname}"


def generate() -> bytes:
    nsmap = {
        "wsdl": WSDL_NS,
        "soap": SOAP_BINDING_NS,
        "xs": XSD_NS,
        "tns": SERVICE,
        "b": BASE,
        "m": METER,
        "r": REVENUE,
    }
    root = etree.Element(f"{W}definitions", nsmap=nsmap)
    root.set("name", SERVICE_NAME)
    root.set("targetNamespace", SERVICE)
    etree.SubElement(root, f"{W}documentation").text = (
        "XMLVend 2.1 online vending service (NRS 009-6-10): SOAP 1.1, document/literal, the Body "
        "holding one XMLVend request element; routed by that element, any SOAPAction."
    )
    types = etree.SubElement(root, f"{W}types")
    for name in SCHEMA_FILES:
        types.append(_embedded_schema(name))
    for op in OPERATIONS:
        for suffix, element in (("SoapIn", op.request), ("SoapOut", op.response)):
            message = etree.SubElement(root, f"{W}message", name=f"{op.name}{suffix}")
            etree.SubElement(message, f"{W}part", name="messagePart", element=_qname(element))
    fault = etree.SubElement(root, f"{W}message", name=FAULT_MESSAGE)
    etree.SubElement(fault, f"{W}part", name="fault", element=_qname(b("xmlvendFaultResp")))
    port_type = etree.SubElement(root, f"{W}portType", name=PORT_TYPE)
    for op in OPERATIONS:
        operation = etree.SubElement(port_type, f"{W}operation", name=op.name)
        etree.SubElement(operation, f"{W}input", message=f"tns:{op.name}SoapIn")
        etree.SubElement(operation, f"{W}output", message=f"tns:{op.name}SoapOut")
        etree.SubElement(operation, f"{W}fault", name="NRSFault", message=f"tns:{FAULT_MESSAGE}")
    binding = etree.SubElement(root, f"{W}binding", name=PORT_TYPE, type=f"tns:{PORT_TYPE}")
    etree.SubElement(
        binding, f"{S}binding", style="document", transport="http://schemas.xmlsoap.org/soap/http"
    )
    for op in OPERATIONS:
        operation = etree.SubElement(binding, f"{W}operation", name=op.name)
        etree.SubElement(operation, f"{S}operation", soapAction="", style="document")
        for io in ("input", "output"):
            etree.SubElement(etree.SubElement(operation, f"{W}{io}"), f"{S}body", use="literal")
        fault_el = etree.SubElement(operation, f"{W}fault", name="NRSFault")
        etree.SubElement(fault_el, f"{S}fault", name="NRSFault", use="literal")
    service = etree.SubElement(root, f"{W}service", name=SERVICE_NAME)
    port = etree.SubElement(
        service, f"{W}port", name="XMLVendServicePort", binding=f"tns:{PORT_TYPE}"
    )
    etree.SubElement(port, f"{S}address", location=PLACEHOLDER)
    etree.indent(root, space="  ")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8")) + b"\n"


def export(path: Path = DEFAULT_PATH) -> Path:
    path.write_bytes(generate())
    return path


@click.group("xmlvend-wsdl")
def xmlvend_wsdl_group() -> None:
    """The XMLVend 2.1 WSDL (wsdl/xmlvend-2.1.wsdl), served at GET /xmlvend/2.1?wsdl."""


@xmlvend_wsdl_group.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
)
def export_command(output: Path) -> None:
    """Write the WSDL built from the operations and the schemas."""
    output.parent.mkdir(parents=True, exist_ok=True)
    export(output)
    click.echo(f"wrote {output}", err=True)


@xmlvend_wsdl_group.command("check")
def check_command() -> None:
    """Fail when the checked-in WSDL differs from what the operations and schemas give."""
    if DEFAULT_PATH.read_bytes() != generate():
        raise click.ClickException(
            f"{DEFAULT_PATH} is out of date: run `vendgw xmlvend-wsdl export`"
        )
    click.echo(f"{DEFAULT_PATH} matches", err=True)
