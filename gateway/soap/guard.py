"""The first thing a request body meets: a size limit and a hardened XML parser.

Why before spyne: spyne parses with its own parser and, for SOAP-encoded href/id, walks the
tree in ways we do not need. Here the body is read with a hard bound (never more than
`max_body_bytes` + 1 bytes are held, whether the client sent a Content-Length or chunks), any
DTD is refused outright (XXE, billion laughs and their relatives all need one), and the bytes are
parsed once by a parser that cannot resolve entities, load DTDs or touch the network. spyne is
then handed the parsed tree (see app.HardenedSoap11) and never sees the bytes.

Refusals are `SchemaError` (XMLVendSchemaEx); an oversized body is `BodyTooLarge` (the fault,
and the connection closed: the rest of the body is never read); a Content-Type other than text/xml
is `UnsupportedMediaType` (before anything else is looked at); SOAP 1.2 (its media type
application/soap+xml, or its envelope) is `EnvelopeVersionMismatch`, answered with SOAP 1.1's
VersionMismatch fault; a SOAP header entry that demands to be understood (mustUnderstand="1") is
`HeaderNotUnderstood`, answered with SOAP's own MustUnderstand fault. Every one of them is sent
with HTTP 500, as every fault is (app.py).
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from lxml import etree

from gateway.errors import SchemaError

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP12_MEDIA_TYPE = "application/soap+xml"  # RFC 3902: SOAP 1.2's, and only SOAP 1.2's
# SOAP 1.1 section 4.2.2: a header entry without an actor, or with this one, is meant for us.
SOAP11_NEXT_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"
READ_BLOCK = 8192
# A DTD in any form: the internal subset is where entity declarations live.
_DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class BodyTooLarge(SchemaError):
    """The body exceeds server.max_body_bytes."""

    default_code = "body-too-large"


class UnsupportedMediaType(SchemaError):
    """The request's Content-Type is not text/xml (SOAP 1.1)."""

    default_code = "unsupported-media-type"


class HeaderNotUnderstood(Exception):
    """SOAP header entries addressed to us with mustUnderstand="1", which we do not obey.

    XMLVend defines no SOAP headers, so every such entry is one we do not understand, and
    SOAP 1.1 (section 4.2.3) forbids processing the message as if it were absent."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class EnvelopeVersionMismatch(Exception):
    """The request is not SOAP 1.1: a SOAP 1.2 envelope (or its media type), or an Envelope in
    another namespace. SOAP 1.1 (section 4.4.1) answers it with a VersionMismatch fault."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.namespace = namespace


def check_content_type(environ: dict[str, Any]) -> None:
    """SOAP 1.1 bodies are text/xml; parameters (charset) are allowed, anything else refused.
    application/soap+xml says SOAP 1.2 whatever the body holds: VersionMismatch at once."""
    raw = str(environ.get("CONTENT_TYPE") or "")
    media_type = raw.split(";", 1)[0].strip().lower()
    if media_type == SOAP12_MEDIA_TYPE:
        raise EnvelopeVersionMismatch(SOAP12_ENV)
    if media_type != "text/xml":
        shown = "no Content-Type" if not raw.strip() else f"Content-Type {media_type[:60]!r}"
        raise UnsupportedMediaType(f"SOAP 1.1 requests are text/xml; this one has {shown}")


def check_must_understand(root: etree._Element) -> None:
    """Refuse the envelope when a header entry meant for us has mustUnderstand="1" (or "true")."""
    names = []
    for header in root.findall(f"{{{SOAP11_ENV}}}Header"):
        for entry in header:
            if not isinstance(entry.tag, str):
                continue
            must = (entry.get(f"{{{SOAP11_ENV}}}mustUnderstand") or "").strip()
            actor = (entry.get(f"{{{SOAP11_ENV}}}actor") or SOAP11_NEXT_ACTOR).strip()
            if must in ("1", "true") and actor == SOAP11_NEXT_ACTOR:
                names.append(entry.tag)
    if names:
        raise HeaderNotUnderstood(names)


def _parser() -> etree.XMLParser:
    # A parser per request: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        strip_cdata=True,
    )


def check_declared_length(environ: dict[str, Any], limit: int) -> int | None:
    """The Content-Length, refused when it is over the limit (before anything is read)."""
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise SchemaError("the Content-Length header is not a number", code="content-length")
    length = int(raw)
    if length > limit:
        raise BodyTooLarge(f"the request body is {length} bytes; the limit is {limit}")
    return length


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, read in blocks and never more than `limit` + 1 bytes of it.

    With a Content-Length, exactly that many bytes (already checked against the limit). Without
    one (chunked transfer), only when the server marks the input as terminated
    (`wsgi.input_terminated`, which gunicorn sets), up to the limit; one byte more is refused.
    """
    length = check_declared_length(environ, limit)
    stream: BinaryIO = environ["wsgi.input"]
    if length is None:
        if not environ.get("wsgi.input_terminated"):
            return b""  # PEP 3333: no Content-Length and no terminated input means no body
        want = limit + 1
    else:
        want = length
    parts: list[bytes] = []
    got = 0
    while got < want:
        block = stream.read(min(READ_BLOCK, want - got))
        if not block:
            break
        parts.append(block)
        got += len(block)
    if got > limit:
        raise BodyTooLarge(f"the request body is more than {limit} bytes")
    return b"".join(parts)


def parse_envelope(body: bytes) -> etree._Element:
    """The SOAP 1.1 envelope of `body`, parsed safely; EnvelopeVersionMismatch for an Envelope
    in another namespace, SchemaError for anything else."""
    if not body.strip():
        raise SchemaError("the request has no body", code="empty-body")
    if _DTD_MARKERS.search(body):
        raise SchemaError(
            "document type and entity declarations are not accepted", code="dtd-refused"
        )
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise SchemaError(
            f"the request is not well-formed XML: {exc.msg}", code="malformed-xml"
        ) from None
    tree = root.getroottree()
    # A second look, for encodings the byte scan cannot read (UTF-16, UTF-32, EBCDIC).
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise SchemaError(
            "document type and entity declarations are not accepted", code="dtd-refused"
        )
    if root.tag != f"{{{SOAP11_ENV}}}Envelope":
        name = etree.QName(root)
        if name.localname == "Envelope" and name.namespace:
            raise EnvelopeVersionMismatch(name.namespace)  # SOAP 1.2, or not SOAP at all
        raise SchemaError("the request is not a SOAP 1.1 envelope", code="not-soap")
    bodies = root.findall(f"{{{SOAP11_ENV}}}Body")
    if len(bodies) != 1:
        raise SchemaError("the envelope must have exactly one Body", code="not-soap")
    children = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(children) != 1:
        raise SchemaError("the SOAP Body must hold exactly one request element", code="not-soap")
    return root
