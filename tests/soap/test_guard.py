"""The body guard: bounded reads and a parser that refuses DTDs before anything expands."""

from __future__ import annotations

import io
import threading
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from lxml import etree
from spyne.model.fault import Fault

from gateway.errors import SchemaError
from gateway.soap.guard import BodyTooLarge, check_declared_length, parse_envelope, read_body
from gateway.soap.service import build_application
from gateway.soap.types import TNS
from tests.support.soap import (
    ATM,
    ENTITY_BOMB,
    MALFORMED,
    XXE_BODY,
    confirm_customer_xml,
    credit_vend_xml,
    envelope,
    fault_of,
    row_counts,
    session_for,
)

if TYPE_CHECKING:
    from gateway.soap.app import WsgiApp
    from tests.conftest import TestDatabase

BASE = "http://vendgw.test"

LIMIT = 1024


class CountingStream:
    """A wsgi.input that records how much was read and can be endless."""

    def __init__(self, data: bytes = b"", endless: bool = False) -> None:
        self.data = io.BytesIO(data)
        self.endless = endless
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "the guard must never read without a bound"
        block = b"x" * size if self.endless else self.data.read(size)
        self.read_bytes += len(block)
        return block


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = CountingStream(endless=True)
    with pytest.raises(BodyTooLarge) as caught:
        read_body({"CONTENT_LENGTH": str(LIMIT + 1), "wsgi.input": stream}, LIMIT)
    assert caught.value.fault_type == "XMLVendSchemaEx"
    assert caught.value.code == "body-too-large"
    assert stream.read_bytes == 0


def test_declared_length_at_the_limit_is_read() -> None:
    body = b"a" * LIMIT
    assert (
        read_body({"CONTENT_LENGTH": str(LIMIT), "wsgi.input": CountingStream(body)}, LIMIT) == body
    )


def test_chunked_body_is_read_at_most_one_byte_past_the_limit() -> None:
    stream = CountingStream(endless=True)
    with pytest.raises(BodyTooLarge):
        read_body({"wsgi.input": stream, "wsgi.input_terminated": True}, LIMIT)
    assert stream.read_bytes == LIMIT + 1


def test_chunked_body_within_the_limit() -> None:
    body = b"<x/>" * 10
    assert (
        read_body({"wsgi.input": CountingStream(body), "wsgi.input_terminated": True}, LIMIT)
        == body
    )


def test_no_length_and_unterminated_input_means_no_body() -> None:
    stream = CountingStream(endless=True)
    assert read_body({"wsgi.input": stream}, LIMIT) == b""
    assert stream.read_bytes == 0


@pytest.mark.parametrize("value", ["abc", "-5", "1e3"])
def test_unreadable_content_length(value: str) -> None:
    with pytest.raises(SchemaError) as caught:
        check_declared_length({"CONTENT_LENGTH": value}, LIMIT)
    assert caught.value.code == "content-length"


@pytest.mark.parametrize("body", [XXE_BODY, ENTITY_BOMB], ids=["xxe", "entity-bomb"])
def test_dtds_are_refused_at_once(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(SchemaError) as caught:
        parse_envelope(body)
    assert caught.value.code == "dtd-refused"
    # Refused on sight: expanding the bomb would take seconds and gigabytes.
    assert time.perf_counter() - started < 0.5


def test_a_dtd_in_utf16_is_refused_too() -> None:
    body = XXE_BODY.decode().replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    with pytest.raises(SchemaError) as caught:
        parse_envelope(body.encode("utf-16"))
    assert caught.value.code == "dtd-refused"


def test_undeclared_entities_are_malformed() -> None:
    with pytest.raises(SchemaError) as caught:
        parse_envelope(envelope("<ConfirmCustomerReq>&xxe;</ConfirmCustomerReq>"))
    assert caught.value.code == "malformed-xml"


def test_external_references_are_never_fetched() -> None:
    # Without a DTD there is nothing to resolve; XInclude is not processed either.
    body = envelope(
        '<x xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<xi:include href="file:///etc/passwd" parse="text"/></x>'
    )
    root = parse_envelope(body)
    assert b"root:" not in etree.tostring(root)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (MALFORMED, "malformed-xml"),
        (b"", "empty-body"),
        (b"   ", "empty-body"),
        (b"<Envelope/>", "not-soap"),
        (envelope(""), "not-soap"),
        (envelope("<a/><b/>"), "not-soap"),
        (b"\xff\xfe\x00garbage", "malformed-xml"),
    ],
)
def test_refusals(body: bytes, code: str) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_envelope(body)
    assert caught.value.code == code
    assert caught.value.fault_type == "XMLVendSchemaEx"


def test_deep_nesting_is_refused_by_the_parser_limits() -> None:
    body = envelope("<a>" * 5000 + "</a>" * 5000)
    with pytest.raises(SchemaError) as caught:
        parse_envelope(body)
    assert caught.value.code == "malformed-xml"


def test_a_good_envelope_parses() -> None:
    root = parse_envelope(envelope("<ConfirmCustomerReq/>"))
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"


# Content-Type and mustUnderstand, through the /vend WSGI application on the demo database -------

XML = {"Content-Type": "text/xml; charset=utf-8"}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def with_header(body: str, header_entries: str) -> bytes:
    """An envelope around `body` with a SOAP Header holding `header_entries`."""
    return envelope(body).replace(
        b"<soapenv:Body>",
        f"<soapenv:Header>{header_entries}</soapenv:Header><soapenv:Body>".encode(),
    )


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/xml",
        "application/json",
        "text/plain",
        "text/xmlx",
        "multipart/related; type=text/xml",
    ],
)
def test_a_post_that_is_not_text_xml_is_refused(
    vend_app: WsgiApp, demo_db: TestDatabase, content_type: str | None
) -> None:
    session = session_for(ATM, vend_app)
    headers = {} if content_type is None else {"Content-Type": content_type}
    before = row_counts(demo_db.engine)
    response = session.post(f"{BASE}/vend", data=envelope(credit_vend_xml(ATM)), headers=headers)
    # A fault, so HTTP 500 (R1126); application/soap+xml is SOAP 1.2: test_wire_interop.py.
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    fault = fault_of(response)
    assert (fault["faultType"], fault["code"]) == ("XMLVendSchemaEx", "unsupported-media-type")
    assert row_counts(demo_db.engine) == before


@pytest.mark.parametrize(
    "content_type",
    ["text/xml", "TEXT/XML; charset=UTF-8", 'text/xml;charset="utf-8"', "text/xml ; charset=utf-8"],
)
def test_text_xml_with_or_without_charset_is_served(vend_app: WsgiApp, content_type: str) -> None:
    response = session_for(ATM, vend_app).post(
        f"{BASE}/vend",
        data=envelope(confirm_customer_xml(ATM)),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.content[:300]
    assert b"ConfirmCustomerResp" in response.content


@pytest.mark.parametrize("must", ["1", "true", " 1 "])
def test_a_must_understand_header_gets_the_must_understand_fault(
    vend_app: WsgiApp, demo_db: TestDatabase, must: str
) -> None:
    body = with_header(
        credit_vend_xml(ATM),
        f'<sec:Security xmlns:sec="urn:example:security" '
        f'soapenv:mustUnderstand="{must}"><sec:Token>t</sec:Token></sec:Security>',
    )
    before = row_counts(demo_db.engine)
    response = session_for(ATM, vend_app).post(f"{BASE}/vend", data=body, headers=XML)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    fault = root.find(f".//{{{SOAP_ENV}}}Fault")
    assert fault is not None
    code = fault.findtext("faultcode") or ""
    prefix, _, local = code.partition(":")
    assert local == "MustUnderstand"
    assert fault.nsmap[prefix] == SOAP_ENV  # a QName in the envelope's namespace
    assert "urn:example:security" in (fault.findtext("faultstring") or "")
    assert fault.find("detail") is None  # SOAP 1.1 4.4: detail is for errors in the Body
    assert row_counts(demo_db.engine) == before  # the vend was not made


@pytest.mark.parametrize(
    "entry",
    [
        '<sec:Trace xmlns:sec="urn:example:trace">t</sec:Trace>',
        '<sec:Trace xmlns:sec="urn:example:trace" soapenv:mustUnderstand="0">t</sec:Trace>',
        '<sec:Trace xmlns:sec="urn:example:trace" soapenv:mustUnderstand="false">t</sec:Trace>',
        # addressed to another node on the path, not to us (SOAP 1.1 4.2.2)
        '<sec:Trace xmlns:sec="urn:example:trace" soapenv:mustUnderstand="1" '
        'soapenv:actor="urn:example:some-other-node">t</sec:Trace>',
    ],
)
def test_headers_we_may_ignore_are_ignored(vend_app: WsgiApp, entry: str) -> None:
    response = session_for(ATM, vend_app).post(
        f"{BASE}/vend", data=with_header(confirm_customer_xml(ATM), entry), headers=XML
    )
    assert response.status_code == 200, response.content[:300]


def test_schema_errors_stay_with_their_own_request_across_threads() -> None:
    """Threads of one worker share the spyne protocol and its lxml schema, whose error_log is
    one per schema: each refusal must quote its own request, never another thread's."""
    protocol = build_application(None, "vendgw-test").in_protocol
    threads, rounds = 8, 300
    wrong: list[str] = []

    def run(n: int) -> None:
        doc = etree.fromstring(
            f'<ConfirmCustomerReq xmlns="{TNS}"><clientID>6004000000019</clientID>'
            f"<terminalID>ATM-0001</terminalID><msgID><dateTime>20260101000000</dateTime>"
            f"<uniqueNumber>1</uniqueNumber></msgID><meterNumber>bad-{n}-meter</meterNumber>"
            f"</ConfirmCustomerReq>".encode()
        )
        ctx = SimpleNamespace(in_body_doc=doc)
        for _ in range(rounds):
            try:
                protocol.validate_body(ctx, None)
                wrong.append(f"{n}: accepted")
            except Fault as fault:
                if f"bad-{n}-meter" not in fault.faultstring:
                    wrong.append(f"{n}: {fault.faultstring}")

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert wrong == [], f"{len(wrong)} of {threads * rounds} refusals quoted another request"
