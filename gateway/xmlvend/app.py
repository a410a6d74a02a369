"""The WSGI application behind `/xmlvend/2.1`: the order in which a request is let in.

    GET ?wsdl                 wsdl/xmlvend-2.1.wsdl with this request's address (no credentials)
    anything but POST         405
    Content-Type not text/xml 500 + XMLVendSchemaEx                      (gateway/soap/guard.py)
    Content-Length > limit    500 + XMLVendSchemaEx, nothing read, connection closed
    HTTP Basic                401 / 429 / 503 with a fault body, 500 + RequestAuthorisationEx
                              (gateway/soap/auth.py: the same credentials, terminal rules,
                              throttle and audit as /vend; mutual TLS is the server's, as there)
    bounded read, no DTD      500 + XMLVendSchemaEx                       (guard.py)
    SOAP 1.2 envelope         500 + soap:VersionMismatch
    mustUnderstand headers    500 + soap:MustUnderstand                   (guard.py)
    the Body's element        operations.route -> handler -> response, or a fault (faults.py)

Every fault is a SOAP 1.1 Fault whose detail echoes the request's header as far as it could be
read (BaseResp needs clientID, terminalID and a msgID; the credentials' IDs and the time stand
in for what the request did not say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from core.runtime import Runtime
from gateway.errors import RequestAuthorisation, SchemaError
from gateway.soap.app import request_location
from gateway.soap.auth import AuthRefusal, TerminalAuthenticator
from gateway.soap.guard import (
    BodyTooLarge,
    HeaderNotUnderstood,
    check_content_type,
    check_declared_length,
    check_must_understand,
    parse_envelope,
    read_body,
)
from gateway.vend import refusals
from gateway.vend.types import MsgID, Principal
from gateway.xmlvend import faults, operations, read, write
from gateway.xmlvend.names import SOAP11_ENV, SOAP12_ENV
from gateway.xmlvend.wsdl import DEFAULT_PATH, PLACEHOLDER

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Authenticator = Callable[[dict[str, Any]], Principal | AuthRefusal]

# The XMLVend fault type of the last answer, for vendgw.metrics (as /vend's spyne edge sets it).
FAULT_TYPE_KEY = "vendgw.soap.fault_type"
XML = "text/xml; charset=utf-8"


class WsdlDocument:
    """The checked-in WSDL, read once; each request gets it with its own address."""

    def __init__(self, path: str | None = None) -> None:
        with open(path or DEFAULT_PATH, "rb") as fh:
            self.template = fh.read()
        if self.template.count(PLACEHOLDER.encode()) != 1:
            raise RuntimeError("the XMLVend WSDL does not carry exactly one service address")

    def render(self, location: str) -> bytes:
        return self.template.replace(
            PLACEHOLDER.encode(), escape(location, {'"': "&quot;"}).encode()
        )


def _send(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> Iterable[bytes]:
    start_response(status, [("Content-Type", XML), ("Content-Length", str(len(body))), *headers])
    return [body]


def _fallback_echo(who: Principal | None, body_element: etree._Element | None) -> write.Echo:
    """As much of the request's header as can be read, for a fault's BaseResp."""
    now = datetime.now(UTC)
    client_id = who.client_id if who is not None else "0000000000000"
    terminal_id = who.terminal_id if who is not None else "unknown"
    msg = MsgID(now.strftime("%Y%m%d%H%M%S"), 1)
    written = "1"
    if body_element is not None:
        try:
            found = read.optional_child(body_element, "msgID")
            if found is not None:
                msg, written = read.msg_id(found)
        except SchemaError:
            pass
    return write.Echo(client_id, terminal_id, msg, written, now)


def create_xmlvend_app(
    service: Any, runtime: Runtime, *, authenticator: Authenticator | None = None
) -> WsgiApp:
    """The `/xmlvend/2.1` WSGI application calling `service` (DatabaseVendingService)."""
    limit = runtime.settings.server.max_body_bytes
    edge = operations.Edge(service, runtime)
    wsdl = WsdlDocument()
    authenticate: Authenticator = authenticator or TerminalAuthenticator(runtime)

    def fault(
        environ: dict[str, Any],
        start_response: StartResponse,
        exc: BaseException,
        who: Principal | None = None,
        body_element: etree._Element | None = None,
        status: str = "500 Internal Server Error",
        headers: Iterable[tuple[str, str]] = (),
        echo: write.Echo | None = None,
    ) -> Iterable[bytes]:
        mapped = faults.to_fault(exc)
        environ[FAULT_TYPE_KEY] = mapped.fault_type
        body = faults.fault_envelope(
            mapped, echo or _fallback_echo(who, body_element), edge.utility
        )
        return _send(start_response, status, body, headers)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if method == "GET" and str(environ.get("QUERY_STRING") or "").lower().startswith("wsdl"):
            return _send(start_response, "200 OK", wsdl.render(request_location(environ)))
        if method != "POST":
            body = b"POST a SOAP 1.1 envelope here, or GET ?wsdl\n"
            start_response(
                "405 Method Not Allowed",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Allow", "GET, POST"),
                ],
            )
            return [body]
        try:
            check_content_type(environ)
            check_declared_length(environ, limit)
        except BodyTooLarge as exc:
            return fault(environ, start_response, exc, headers=[("Connection", "close")])
        except Exception as exc:
            return fault(environ, start_response, exc)
        who = authenticate(environ)
        if isinstance(who, AuthRefusal):
            refusal = who.fault or RequestAuthorisation(
                f"HTTP Basic credentials refused ({who.status[4:].lower()})",
                code="not-authenticated",
            )
            status = "500 Internal Server Error" if who.fault is not None else who.status
            return fault(environ, start_response, refusal, status=status, headers=who.headers)
        try:
            body = read_body(environ, limit)
            if SOAP12_ENV.encode() in body[:2048] and SOAP11_ENV.encode() not in body[:2048]:
                environ[FAULT_TYPE_KEY] = "VersionMismatch"
                return _send(
                    start_response, "500 Internal Server Error", faults.version_mismatch_envelope()
                )
            document = parse_envelope(body)
            check_must_understand(document)
        except BodyTooLarge as exc:
            return fault(environ, start_response, exc, who, headers=[("Connection", "close")])
        except HeaderNotUnderstood:
            environ[FAULT_TYPE_KEY] = "MustUnderstand"
            env = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV})
            soap_fault = etree.SubElement(
                etree.SubElement(env, f"{{{SOAP11_ENV}}}Body"), f"{{{SOAP11_ENV}}}Fault"
            )
            etree.SubElement(soap_fault, "faultcode").text = "soap:MustUnderstand"
            etree.SubElement(soap_fault, "faultstring").text = "SOAP header not understood"
            return _send(
                start_response,
                "500 Internal Server Error",
                etree.tostring(env, xml_declaration=True, encoding="utf-8"),
            )
        except Exception as exc:
            return fault(environ, start_response, exc, who)
        element = next(c for c in document.find(f"{{{SOAP11_ENV}}}Body") if isinstance(c.tag, str))
        call = None
        try:
            with refusals.translated():
                handler = operations.route(element)
                call = operations.make_call(who, element)
                answer = handler(edge, call)
        except Exception as exc:
            return fault(
                environ,
                start_response,
                exc,
                who,
                element,
                echo=call.echo if call is not None else None,
            )
        return _send(start_response, "200 OK", write.envelope(answer))

    return app
