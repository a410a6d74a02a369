"""The names XMLVend 2.1 puts on the wire: its three schema namespaces, xsi, SOAP 1.1.

A child element takes the namespace of the schema that declares the type containing it (base
for the header and every base type's children, revenue or meter for the domain's own), so the
writer names each element with the namespace it needs here, once.
"""

from __future__ import annotations

from pathlib import Path

BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
METER = "http://www.nrs.eskom.co.za/xmlvend/meter/2.1/schema"
REVENUE = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
SERVICE = "http://www.nrs.eskom.co.za/xmlvend/service/2.1"  # the WSDL's, never on the wire
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"

XMLVEND_NAMESPACES = frozenset({BASE, METER, REVENUE})
XSI_TYPE = f"{{{XSI}}}type"

# The prefixes every response declares once, on its root (as Spring-WS and ASMX servers do).
NSMAP = {"b": BASE, "m": METER, "r": REVENUE, "xsi": XSI}
PREFIX = {BASE: "b", METER: "m", REVENUE: "r"}

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMA_FILES = ("base.xsd", "meter.xsd", "revenue.xsd")


def b(local: str) -> str:
    return f"{{{BASE}}}{local}"


def m(local: str) -> str:
    return f"{{{METER}}}{local}"


def r(local: str) -> str:
    return f"{{{REVENUE}}}{local}"


def type_name(namespace: str, local: str) -> str:
    """An xsi:type value with the prefix NSMAP declares: `b:EANDeviceID`."""
    return f"{PREFIX[namespace]}:{local}"
