"""A structure-aware fuzzer of the SOAP edge (hypothesis): XMLVend requests built from the
schema's shapes, then mutated — wrong types, huge numbers, odd unicode, missing and duplicated
elements, wrong namespaces, extra attributes, mustUnderstand headers, DTDs and entities, deep
nesting, other encodings and Content-Types, hostile Basic credentials — sent in process to the
real /vend application on both databases.

For every request: the status is one the contract names; every 500 is a well-formed SOAP 1.1
fault with a known faultcode and our typed detail; no body carries a traceback or an internal
name; and a refused request leaves the database as it was (but for the one row that remembers a
business refusal for its msgID, and the audit row of a failed login).

Bounded (a few hundred examples in all) so that it stays a part of `make test`.
"""

from __future__ import annotations

import base64
import io
import itertools
import sys
import time
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine, inspect, text

from gateway.soap.app import WsgiApp
from gateway.soap.types import TNS
from tests.conftest import TestDatabase
from tests.support.soap import ATM, METER

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# The contract's statuses (gateway/soap/README.md): answers, and faults, which are all HTTP 500
# (WS-I BP R1126) but for the 401 challenge of a refused login (whose body is a fault too).
STATUSES = {200, 401, 500}
FAULT_TYPES = {
    "UnknownMeterEx",
    "BlockedMeterEx",
    "MSNOCheckDigitEx",
    "VendorCreditEx",
    "VendAmountEx",
    "FBEEx",
    "RequestAuthorisationEx",
    "ClientIDAuthorisationEx",
    "DuplicateMsgIDEx",
    "LastResponseEx",
    "ReversalEx",
    "ConfirmationEx",
    "XMLVendSchemaEx",
    "UseCaseSupportEx",
    "BusinessRuleEx",
}
# faultcode on the wire: exactly these QNames in the SOAP 1.1 envelope namespace, no dots.
KNOWN_FAULTCODES = {"Client", "Server", "MustUnderstand", "VersionMismatch"}
# A refusal that reached the vending service is remembered for its msgID (one vend_request row);
# one refused before it (schema, envelope, transport) writes nothing at all. Named here as
# "<faultcode>.<faultType>" (check_answer's label for a fault), e.g. Client.BlockedMeterEx.
REMEMBERED = {f"Client.{t}" for t in FAULT_TYPES} - {"Client.XMLVendSchemaEx"}
LEAKS = (
    "Traceback",
    'File "/',
    "site-packages",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "spyne.",
    "lxml.",
    "/work/",
    "Error(",
    "0x7f",
)

_unique = itertools.count(int(time.time() * 1000) % 10**9 * 1000)

# -- the shapes ---------------------------------------------------------------------------------

HEAD = ("clientID", "terminalID", "msgID")
SHAPES: dict[str, tuple[str, ...]] = {
    "CreditVendReq": (*HEAD, "meterNumber", "amount", "payType"),
    "TrialCreditVendReq": (*HEAD, "meterNumber", "amount", "payType"),
    "ConfirmCustomerReq": (*HEAD, "meterNumber"),
    "ReversalAdviceReq": (*HEAD, "originalMsgID"),
    "ConfirmationAdviceReq": (*HEAD, "originalMsgID"),
    "LastResponseAdviceReq": (*HEAD, "originalMsgID"),
    "ReprintReq": (*HEAD, "meterNumber"),
    "VendorStatementReq": HEAD,
}

odd_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
VALUES: dict[str, st.SearchStrategy[str]] = {
    "clientID": st.sampled_from([ATM.client_id, "6004000000026", "0", "60040000000190", ""]),
    "terminalID": st.sampled_from([ATM.terminal_id, "ATM 0001", "A" * 41, ""]),
    "meterNumber": st.sampled_from(
        [
            METER,
            "04000000994",
            "04000000011",
            "04000000010",
            "0123456789",
            "1" * 13,
            "-1234567897",
            "01234567897 ",
        ]
    ),
    "amount": st.sampled_from(
        [
            "20.00",
            "5.00",
            "0.00",
            "-20.00",
            "10.001",
            "1e3",
            "NaN",
            "Infinity",
            "9" * 40 + ".00",
            "5000.01",
            "20,00",
            "٢٠.٠٠",
        ]
    ),
    "payType": st.sampled_from(["cash", "card", "CASH", "", "cheque"]),
    "dateTime": st.sampled_from(
        [
            "20260101120000",
            "20261301120000",
            "2026010112000",
            "99999999999999",
            "２０２６０１０１１２００００",
        ]
    ),
    "uniqueNumber": st.sampled_from(["0", "-1", "1" * 19, "9" * 40, "1.5", "0x10", "1e5"]),
}


def fresh_msg_id() -> str:
    return (
        f"<msgID><dateTime>{time.strftime('%Y%m%d%H%M%S')}</dateTime>"
        f"<uniqueNumber>{next(_unique)}</uniqueNumber></msgID>"
    )


@st.composite
def field_xml(draw: st.DrawFn, name: str) -> str:
    """One child element: the right value, a wrong one from the field's odd cases, or any
    text; msgIDs fresh (so valid requests are new requests) or broken."""
    if name in ("msgID", "originalMsgID"):
        if draw(st.integers(0, 4)):
            inner = fresh_msg_id()[len("<msgID>") : -len("</msgID>")]
        else:
            parts = [
                f"<dateTime>{escape(draw(VALUES['dateTime']))}</dateTime>",
                f"<uniqueNumber>{escape(draw(VALUES['uniqueNumber']))}</uniqueNumber>",
            ]
            inner = "".join(draw(st.permutations(parts))[: draw(st.integers(0, 2))])
        return f"<{name}>{inner}</{name}>"
    right = {
        "clientID": ATM.client_id,
        "terminalID": ATM.terminal_id,
        "meterNumber": METER,
        "amount": "20.00",
        "payType": "cash",
    }[name]
    # Mostly right, so that the cases get past the schema to the service and the database.
    wrong = draw(st.integers(0, 5)) == 0
    value = draw(st.one_of(VALUES[name], odd_text)) if wrong else right
    return f"<{name}>{escape(value)}</{name}>"


MUTATIONS = (
    "drop",
    "duplicate",
    "foreign-namespace",
    "attribute",
    "unknown-element",
    "nest",
    "raw-markup",
    "dtd",
    "entity-ref",
    "must-understand",
    "header",
    "wrong-envelope",
    "two-requests",
    "empty-body",
    "not-xml",
)


@st.composite
def request_body(draw: st.DrawFn) -> tuple[bytes, str]:
    """An envelope around one request element of a schema shape, with one or two mutations;
    returns the bytes and a label of what was done (hypothesis shows it on failure)."""
    element = draw(st.sampled_from(sorted(SHAPES)))
    children = [draw(field_xml(name)) for name in SHAPES[element]]
    mutations = draw(st.lists(st.sampled_from(MUTATIONS), max_size=2))
    header = ""
    env_ns = SOAP_NS
    prolog = '<?xml version="1.0" encoding="UTF-8"?>'
    attrs = ""
    for mutation in mutations:
        i = draw(st.integers(0, max(0, len(children) - 1)))
        if mutation == "drop" and children:
            children.pop(i)
        elif mutation == "duplicate" and children:
            children.insert(i, children[i])
        elif mutation == "foreign-namespace" and children:
            children[i] = (
                children[i].replace("<", "<x:", 1).replace("</", "</x:").replace("<x:", "<x:", 1)
            )
            children[i] = children[i].replace(">", ' xmlns:x="urn:elsewhere">', 1)
        elif mutation == "attribute":
            name = draw(
                st.sampled_from(["id", "href", "xsi:nil", "xml:lang", "soapenv:actor", "foo"])
            )
            attrs += f" {name}={quoteattr(draw(odd_text))}"
        elif mutation == "unknown-element":
            children.insert(i, f"<extra>{escape(draw(odd_text))}</extra>")
        elif mutation == "nest":
            depth = draw(st.sampled_from([5, 100, 300, 3000]))
            children.insert(i, "<n>" * depth + "x" + "</n>" * depth)
        elif mutation == "raw-markup":
            children.insert(
                i,
                draw(
                    st.sampled_from(
                        ["<", "&", "]]>", "<![CDATA[x]]>", "\x00", "\x1b", "<?pi x?>", "<!-- c -->"]
                    )
                ),
            )
        elif mutation == "dtd":
            prolog += draw(
                st.sampled_from(
                    [
                        '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                        '<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
                        '<!DOCTYPE e SYSTEM "http://127.0.0.1:9/x.dtd">',
                        "<!doctype e>",
                    ]
                )
            )
        elif mutation == "entity-ref" and children:
            children[i] = children[i].replace(">", ">&x;", 1)
        elif mutation == "must-understand":
            header = (
                '<soapenv:Header><s:Security xmlns:s="urn:security" '
                'soapenv:mustUnderstand="1"/></soapenv:Header>'
            )
        elif mutation == "header":
            header = f"<soapenv:Header><h>{escape(draw(odd_text))}</h></soapenv:Header>"
        elif mutation == "wrong-envelope":
            env_ns = draw(
                st.sampled_from(["http://www.w3.org/2003/05/soap-envelope", "urn:not-soap", ""])
            )
        elif mutation == "two-requests":
            children.append(f"</{element}><{element}>")
        elif mutation == "empty-body":
            element = ""
        elif mutation == "not-xml":
            raw = draw(st.binary(max_size=200))
            return raw, "not-xml"
    body = "".join(children)
    request = f"<{element}{attrs}>{body}</{element}>" if element else ""
    ns_decl = f' xmlns:soapenv="{env_ns}"' if env_ns else ' xmlns:soapenv="urn:x"'
    text_ = (
        f'{prolog}<soapenv:Envelope{ns_decl} xmlns="{TNS}" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{header}'
        f"<soapenv:Body>{request}</soapenv:Body></soapenv:Envelope>"
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"]))
    if encoding != "utf-8":
        text_ = text_.replace('encoding="UTF-8"', f'encoding="{encoding}"', 1)
    data = text_.encode(encoding, errors="replace")
    return data, f"{element or 'no element'} {'+'.join(mutations) or 'as is'} {encoding}"


CONTENT_TYPES = st.sampled_from(
    [
        "text/xml; charset=utf-8",
        "text/xml",
        "text/xml; charset=utf-8",
        None,
        "application/soap+xml",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "text/xml; charset=utf-16",
        "text/xml; charset=bogus",
        "text/xml; charset=utf-8; a=\x7f",
    ]
)

# -- calling the app ------------------------------------------------------------------------------


def call(
    app: WsgiApp,
    body: bytes,
    *,
    content_type: str | None,
    authorization: str | None,
    remote_addr: str = "127.0.0.1",
) -> tuple[int, bytes]:
    """One request, built as a WSGI server would (header values are latin-1 strings), so that
    any header bytes can be sent; returns the status and the whole body."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/vend",
        "QUERY_STRING": "",
        "SERVER_NAME": "vendgw.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr,
        "HTTP_HOST": "vendgw.test",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    captured: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        captured["status"] = status
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(captured["status"].split()[0]), content


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class Fingerprint:
    """Every table's row count and the money and energy figures, in one statement."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tables = sorted(inspect(engine).get_table_names())
        counts = ", ".join(f'(SELECT count(*) FROM "{t}") AS "{t}"' for t in self.tables)
        self.sql = text(
            f"SELECT {counts}, "
            "(SELECT coalesce(sum(balance_cents), 0) FROM float_account) AS float_cents, "
            "(SELECT coalesce(sum(debt_cents), 0) FROM customer) AS debt_cents, "
            "(SELECT coalesce(sum(units_tenths), 0) FROM meter_month) AS month_units, "
            "(SELECT coalesce(sum(last_tid), 0) FROM meter) AS tids, "
            "(SELECT count(*) FROM vend_request WHERE outcome <> 'refused') AS not_refused"
        )

    def take(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(self.sql).one()._mapping)


def check_answer(status: int, content: bytes, label: str) -> str:
    """The contract for any answer; returns '' for an answer, else the fault as
    "<faultcode>.<faultType>" for Client/Server faults (Client.BlockedMeterEx) or SOAP's own
    faultcode (MustUnderstand, VersionMismatch)."""
    assert status in STATUSES, f"{label}: HTTP {status}: {content[:300]!r}"
    for leak in LEAKS:
        assert leak.encode() not in content, f"{label}: {leak!r} in the body: {content[:600]!r}"
    if status == 200:
        return ""
    root = etree.fromstring(content)  # well-formed, or this raises and the example fails
    assert etree.QName(root) == etree.QName(SOAP_NS, "Envelope"), f"{label}: {content[:300]!r}"
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault is not None, f"{label}: a 500 without a SOAP fault: {content[:300]!r}"
    faultcode = fault.find("faultcode")
    assert faultcode is not None and faultcode.text, f"{label}: a fault without a faultcode"
    prefix, _, code = faultcode.text.strip().rpartition(":")
    assert faultcode.nsmap.get(prefix or None) == SOAP_NS, f"{label}: {faultcode.text!r}"
    assert code in KNOWN_FAULTCODES, f"{label}: unknown faultcode {faultcode.text!r}"
    assert fault.findtext("faultstring"), f"{label}: a fault without a faultstring"
    if code in ("Client", "Server"):
        detail = fault.find(f"detail/{{{TNS}}}XMLVendFault")
        assert detail is not None, f"{label}: {code} without XMLVendFault detail"
        fault_type = detail.findtext(f"{{{TNS}}}faultType") or ""
        assert fault_type in FAULT_TYPES | {"SystemEx"}, f"{label}: {fault_type!r}"
        assert (code == "Server") == (fault_type == "SystemEx"), label
        if code == "Server":
            assert detail.findtext(f"{{{TNS}}}correlationID"), f"{label}: no correlationID"
        return f"{code}.{fault_type}"
    return code


def assert_unchanged_if_refused(
    before: dict[str, int], after: dict[str, int], status: int, code: str, label: str
) -> None:
    if status == 200:
        return
    allowed = dict(before)
    if code in REMEMBERED:
        allowed["vend_request"] = after["vend_request"]  # the refusal, remembered
        assert after["vend_request"] - before["vend_request"] in (0, 1), label
    if status == 401 or code == "Client.RequestAuthorisationEx":
        allowed["audit_event"] = after["audit_event"]  # the failed login, audited
        allowed["login_failure"] = after["login_failure"]  # and counted by the throttle
    assert after == allowed, (
        f"{label}: refused ({status} {code}) but the database changed: "
        f"{ {k: (before[k], after[k]) for k in before if before[k] != after[k]} }"
    )


FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@FUZZ
@given(case=request_body(), content_type=CONTENT_TYPES)
def test_fuzzed_requests_get_contract_answers_and_refusals_change_nothing(
    vend_app: WsgiApp, demo_db: TestDatabase, case: tuple[bytes, str], content_type: str | None
) -> None:
    body, label = case
    label = f"[{demo_db.backend}] {label} Content-Type={content_type!r}"
    fingerprint = Fingerprint(demo_db.engine)
    before = fingerprint.take()
    status, content = call(
        vend_app,
        body,
        content_type=content_type,
        authorization=basic(f"{ATM.client_id}/{ATM.terminal_id}", ATM.secret),
    )
    code = check_answer(status, content, label)
    event(f"HTTP {status} {code}")  # --hypothesis-show-statistics: how deep the cases went
    assert_unchanged_if_refused(before, fingerprint.take(), status, code, label)


_addresses = itertools.count(1)


@st.composite
def authorization(draw: st.DrawFn) -> str:
    """Hostile Basic credentials: NUL and control bytes, non-ASCII (as latin-1 header bytes),
    broken base64, no colon, other schemes, enormous values."""
    kind = draw(
        st.sampled_from(["bytes", "text", "no-colon", "bad-base64", "scheme", "huge", "raw-header"])
    )
    if kind == "bytes":
        raw = draw(st.binary(max_size=60))
        return "Basic " + base64.b64encode(raw).decode()
    if kind == "text":
        user = draw(
            st.sampled_from(
                [
                    f"{ATM.client_id}/",
                    f"{ATM.client_id}/ATM-0001",
                    "6004000000019/ATM\x00-0001",
                    "6004000000019/AT\nM",
                    "",
                ]
            )
        )
        user += draw(odd_text)
        secret = draw(st.one_of(odd_text, st.just("demo-pass-1\x00"), st.just("démo")))
        raw = f"{user}:{secret}".encode("utf-8", errors="replace")
        if draw(st.booleans()):
            raw = f"{user}:{secret}".encode("latin-1", errors="replace")
        return "Basic " + base64.b64encode(raw).decode()
    if kind == "no-colon":
        return "Basic " + base64.b64encode(b"6004000000019/ATM-0001").decode()
    if kind == "bad-base64":
        return "Basic " + draw(st.sampled_from(["%%%", "YWJj=", "====", "Zm9v\x00", "é"]))
    if kind == "scheme":
        return draw(st.sampled_from(["Bearer abc", "Digest x", "basic", "Basic", ""]))
    if kind == "huge":
        return "Basic " + "A" * draw(st.sampled_from([1025, 9000]))
    # Bytes a client can put in a header that are not ASCII, as the WSGI server decodes them.
    return draw(st.binary(min_size=1, max_size=40)).decode("latin-1")


CREDS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@CREDS
@given(auth=authorization())
def test_fuzzed_credentials_are_refused_with_401_and_no_trace(
    vend_app: WsgiApp, demo_db: TestDatabase, auth: str
) -> None:
    """Whatever the Authorization header holds, a wrong login is a 401 (or a throttle's 429),
    never a SystemEx (defect 10), and writes nothing but its audit row. Each example comes from
    an address of its own, so the per-address throttle is not what answers."""
    n = next(_addresses)
    label = f"[{demo_db.backend}] Authorization={auth[:80]!r}"
    fingerprint = Fingerprint(demo_db.engine)
    before = fingerprint.take()
    body = (
        f'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns="{TNS}">'
        f"<soapenv:Body><VendorStatementReq><clientID>{ATM.client_id}</clientID>"
        f"<terminalID>{ATM.terminal_id}</terminalID>{fresh_msg_id()}"
        "</VendorStatementReq></soapenv:Body></soapenv:Envelope>"
    ).encode()
    status, content = call(
        vend_app,
        body,
        content_type="text/xml; charset=utf-8",
        authorization=auth,
        remote_addr=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
    )
    code = check_answer(status, content, label)
    assert status in (401, 429), f"{label}: HTTP {status} {code}: {content[:300]!r}"
    assert_unchanged_if_refused(before, fingerprint.take(), status, code, label)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_valid_vend_under_another_content_type_is_refused(
    vend_app: WsgiApp, demo_db: TestDatabase, content_type: str
) -> None:
    """A correct CreditVend sent as something other than text/xml is refused with a fault and
    sells nothing."""
    fingerprint = Fingerprint(demo_db.engine)
    before = fingerprint.take()
    body = (
        f'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns="{TNS}">'
        f"<soapenv:Body><CreditVendReq><clientID>{ATM.client_id}</clientID>"
        f"<terminalID>{ATM.terminal_id}</terminalID>{fresh_msg_id()}"
        f"<meterNumber>{METER}</meterNumber><amount>20.00</amount><payType>cash</payType>"
        "</CreditVendReq></soapenv:Body></soapenv:Envelope>"
    ).encode()
    status, content = call(
        vend_app,
        body,
        content_type=content_type,
        authorization=basic(f"{ATM.client_id}/{ATM.terminal_id}", ATM.secret),
    )
    assert status == 500, f"{content_type}: HTTP {status}: {content[:200]!r}"
    assert b"unsupported-media-type" in content
    assert_unchanged_if_refused(before, fingerprint.take(), status, "", content_type)
