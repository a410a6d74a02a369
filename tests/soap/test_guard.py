"""The body guard: bounded reads and a parser that refuses DTDs before anything expands."""

from __future__ import annotations

import io
import time

import pytest
from lxml import etree

from gateway.errors import SchemaError
from gateway.soap.guard import BodyTooLarge, check_declared_length, parse_envelope, read_body
from tests.soap.support import ENTITY_BOMB, MALFORMED, XXE_BODY, envelope

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
    assert read_body({"CONTENT_LENGTH": str(LIMIT), "wsgi.input": CountingStream(body)},
                     LIMIT) == body


def test_chunked_body_is_read_at_most_one_byte_past_the_limit() -> None:
    stream = CountingStream(endless=True)
    with pytest.raises(BodyTooLarge):
        read_body({"wsgi.input": stream, "wsgi.input_terminated": True}, LIMIT)
    assert stream.read_bytes == LIMIT + 1


def test_chunked_body_within_the_limit() -> None:
    body = b"<x/>" * 10
    assert read_body({"wsgi.input": CountingStream(body), "wsgi.input_terminated": True},
                     LIMIT) == body


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
    body = XXE_BODY.decode().replace('<?xml version="1.0"?>',
                                     '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(SchemaError) as caught:
        parse_envelope(body.encode("utf-16"))
    assert caught.value.code == "dtd-refused"


def test_undeclared_entities_are_malformed() -> None:
    with pytest.raises(SchemaError) as caught:
        parse_envelope(envelope("<ConfirmCustomerReq>&xxe;</ConfirmCustomerReq>"))
    assert caught.value.code == "malformed-xml"


def test_external_references_are_never_fetched() -> None:
    # Without a DTD there is nothing to resolve; XInclude is not processed either.
    body = envelope('<x xmlns:xi="http://www.w3.org/2001/XInclude">'
                    '<xi:include href="file:///etc/passwd" parse="text"/></x>')
    root = parse_envelope(body)
    assert b"root:" not in etree.tostring(root)


@pytest.mark.parametrize(("body", "code"), [
    (MALFORMED, "malformed-xml"),
    (b"", "empty-body"),
    (b"   ", "empty-body"),
    (b"<Envelope/>", "not-soap"),
    (envelope(""), "not-soap"),
    (envelope("<a/><b/>"), "not-soap"),
    (b"\xff\xfe\x00garbage", "malformed-xml"),
])
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
