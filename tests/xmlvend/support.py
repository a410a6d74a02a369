"""Talking XMLVend 2.1 to the gateway the way certified clients do: envelopes shaped like the
reference samples (tests/xmlvend/data/samples) and like the deviations real Hexing and Conlog
clients make, posted with HTTP Basic; and the one check every answer gets: validation against
the project's copy of the XMLVend 2.1 schemas inside a strict SOAP 1.1 envelope schema."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from lxml import etree

from tests.support.soap import Terminal

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = DATA / "samples"
B = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
M = "http://www.nrs.eskom.co.za/xmlvend/meter/2.1/schema"
R = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"b": B, "m": M, "r": R, "xsi": XSI, "soap": SOAP}
PATH = "/xmlvend/2.1"

_schema: etree.XMLSchema | None = None
_schema_lock = threading.Lock()


def strict_schema() -> etree.XMLSchema:
    global _schema
    with _schema_lock:
        if _schema is None:
            _schema = etree.XMLSchema(etree.parse(str(DATA / "soap11-envelope-strict.xsd")))
        return _schema


def validate(body: bytes) -> etree._Element:
    """The envelope, parsed, after asserting it is valid: Body content and Fault detail strictly
    against the XMLVend 2.1 schemas."""
    document = etree.fromstring(body)
    schema = strict_schema()
    with _schema_lock:
        valid = schema.validate(document)
        errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    assert valid, "response is not valid XMLVend 2.1:\n" + "\n".join(errors) + "\n" + body.decode()
    return document


_numbers = itertools.count(random.randint(100000, 800000))


@dataclass(frozen=True)
class Msg:
    date_time: str
    unique_number: str

    def xml(self, tag: str = "b:msgID") -> str:
        return f'<{tag} dateTime="{self.date_time}" uniqueNumber="{self.unique_number}"/>'


def new_msg() -> Msg:
    """A msgID no other request of this test run uses: six digits, as the schema has it."""
    number = next(_numbers) % 900000 + 100000
    return Msg(time.strftime("%Y%m%d%H%M%S"), str(number))


def head(
    terminal: Terminal, msg: Msg, *, op: str = "CLERK1", terminal_type: str = "Generic"
) -> str:
    """BaseReq in the prefixed style of the samples."""
    if terminal_type == "EAN":
        term = f'<b:terminalID xsi:type="b:EANDeviceID" ean="{terminal.terminal_id}"/>'
    else:
        term = f'<b:terminalID xsi:type="b:GenericDeviceID" id="{terminal.terminal_id}"/>'
    return (
        f'<b:clientID xsi:type="b:EANDeviceID" ean="{terminal.client_id}"/>{term}{msg.xml()}'
        f"<b:authCred><b:opName>{op}</b:opName><b:password>PASSWORD</b:password></b:authCred>"
    )


def body(root: str, content: str, *, xsi_type: str | None = None) -> str:
    """A request element in the samples' style (b: r: m: prefixes declared on it)."""
    typed = f' xsi:type="{xsi_type}"' if xsi_type else ""
    return (
        f'<{root} xmlns:b="{B}" xmlns:r="{R}" xmlns:m="{M}" xmlns:xsi="{XSI}"{typed}>'
        f"{content}</{root}>"
    )


def envelope(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    ).encode()


def meter_id(meter: str) -> str:
    return f'<b:idMethod><b:meterIdentifier xsi:type="b:MeterNumber" msno="{meter}"/></b:idMethod>'


def credit_vend(
    terminal: Terminal,
    msg: Msg,
    meter: str,
    amount: str,
    *,
    root: str = "r:creditVendReq",
    symbol: str = "ZAR",
    cash: bool = True,
) -> bytes:
    pay = (
        f'<r:payType xsi:type="b:Cash"><b:tenderAmt value="{amount}" symbol="{symbol}"/>'
        "</r:payType>"
        if cash
        else ""
    )
    return envelope(
        body(
            root,
            head(terminal, msg)
            + '<b:resource xsi:type="b:Electricity"/>'
            + meter_id(meter)
            + f'<r:purchaseValue xsi:type="r:PurchaseValueCurrency"><r:amt value="{amount}" '
            f'symbol="{symbol}"/></r:purchaseValue>' + pay,
        )
    )


def credit_vend_default_namespace(terminal: Terminal, msg: Msg, meter: str, amount: str) -> bytes:
    """A Conlog-style client: everything under one default namespace (revenue), no resource,
    no xsi:type on the concrete idMethod, terminalID as an EANDeviceID, an amount without
    decimals and the currency spelled `R`."""
    return envelope(
        f'<creditVendReq xmlns="{R}" xmlns:xsi="{XSI}">'
        f'<clientID xsi:type="EANDeviceID" ean="{terminal.client_id}"/>'
        f'<terminalID xsi:type="EANDeviceID" ean="{terminal.terminal_id}"/>'
        f'<msgID dateTime="{msg.date_time}" uniqueNumber="{msg.unique_number}"/>'
        f'<idMethod><meterIdentifier xsi:type="MeterNumber" msno="{meter}"/></idMethod>'
        f'<purchaseValue xsi:type="PurchaseValueCurrency"><amt value="{amount}" symbol="R"/>'
        "</purchaseValue></creditVendReq>"
    )


def simple(terminal: Terminal, msg: Msg, root: str, content: str = "", **kw: str) -> bytes:
    return envelope(body(root, head(terminal, msg) + content, **kw))


def advice(terminal: Terminal, msg: Msg, kind: str, original: Msg) -> bytes:
    return envelope(
        body(
            "b:adviceReq",
            head(terminal, msg) + original.xml("b:adviceReqMsgID"),
            xsi_type=f"b:{kind}",
        )
    )


def post(
    base_url: str,
    terminal: Terminal | None,
    payload: bytes,
    *,
    soap_action: str | None = None,
    timeout: float = 30,
    valid: bool = True,
) -> requests.Response:
    """POST to /xmlvend/2.1. Whatever comes back is validated (an answer, a fault, any status),
    so no test can read a response the schemas refuse without saying so (`valid=False`, for a
    test that shows what it expects instead)."""
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if soap_action is not None:
        headers["SOAPAction"] = soap_action
    response = requests.post(
        base_url + PATH,
        data=payload,
        headers=headers,
        auth=terminal.auth if terminal is not None else None,
        timeout=timeout,
    )
    if valid:
        assert response.headers.get("Content-Type", "").startswith("text/xml"), response.text
        validate(response.content)
    return response


def answer(response: requests.Response) -> etree._Element:
    """The validated Body element of a 200 answer."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    document = validate(response.content)
    found = document.find(f"{{{SOAP}}}Body")
    assert found is not None
    return found[0]


@dataclass(frozen=True)
class Fault:
    faultcode: str
    fault_type: str
    desc: str
    code: str
    detail: etree._Element


def fault(response: requests.Response, status: int = 500) -> Fault:
    """The validated XMLVend fault of an answer."""
    assert response.status_code == status, response.text
    document = validate(response.content)
    soap_fault = document.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert soap_fault is not None, response.text
    detail = soap_fault.find(f"detail/{{{B}}}xmlvendFaultResp")
    assert detail is not None, response.text
    typed = detail.find(f"{{{B}}}fault")
    assert typed is not None
    return Fault(
        soap_fault.findtext("faultcode") or "",
        (typed.get(f"{{{XSI}}}type") or "").partition(":")[2],
        typed.findtext(f"{{{B}}}desc") or "",
        typed.findtext(f"{{{B}}}faultCode") or "",
        detail,
    )


def tokens(element: etree._Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{{{B}}}stsCipher")]


def xsi_type(element: etree._Element | None) -> str:
    assert element is not None
    return (element.get(f"{{{XSI}}}type") or "").partition(":")[2]
