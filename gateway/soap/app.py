"""The WSGI application behind `/vend`: the order in which a request is let in.

    GET ?wsdl                 the WSDL, its address taken from this request (no credentials)
    anything but POST         405 (not a SOAP request: SOAP 1.1 over HTTP is POST only)
    application/soap+xml      VersionMismatch (SOAP 1.2)                 (guard.py)
    Content-Type not text/xml XMLVendSchemaEx unsupported-media-type     (guard.py)
    Content-Length > limit    XMLVendSchemaEx body-too-large, nothing read, connection closed
    HTTP Basic                401 + WWW-Authenticate + RequestAuthorisationEx; or
                              RequestAuthorisationEx (refused, throttled: + Retry-After)
                                                                          (auth.py)
    bounded read, hardened
    parse, no DTD             XMLVendSchemaEx; VersionMismatch for a SOAP 1.2 envelope
    mustUnderstand headers    soap11env:MustUnderstand                    (guard.py)
    schema validation,
    operation                 spyne (service.py); faults via faults.to_fault

Every answer to a POST is a SOAP 1.1 envelope in text/xml, and every fault is sent with HTTP 500
(WS-I Basic Profile R1126: suds, .NET ASMX, JAX-WS and Axis throw away the body of a 403 or 413
unread). The one exception is 401, which keeps its status and its WWW-Authenticate challenge
(clients need it to send credentials) and carries the fault as its body.

Authentication comes before the body is read or parsed, so an unauthenticated client costs a
header check, one statement and one HMAC check (argon2 only for an operator-chosen secret, at
most two at once per worker), throttled per terminal and address; only the declared length is
looked at before that.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from spyne import const as spyne_const
from spyne.server.wsgi import WsgiApplication, WsgiMethodContext

from core.runtime import Runtime
from gateway.soap.auth import FAULT_STATUS, AuthRefusal, TerminalAuthenticator
from gateway.soap.faults import to_fault
from gateway.soap.guard import (
    BodyTooLarge,
    check_content_type,
    check_declared_length,
    check_must_understand,
    parse_envelope,
    read_body,
)
from gateway.soap.service import (
    AUTH_REFUSAL_KEY,
    DOCUMENT_KEY,
    FAULT_TYPE_KEY,
    PRINCIPAL_KEY,
    build_application,
)
from gateway.soap.wsdl_export import canonical
from gateway.vend.types import Principal, VendingService

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Authenticator = Callable[[dict[str, Any]], Principal | AuthRefusal]

WSDL_PLACEHOLDER = "https://vendgw.invalid/vend"
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?")

# spyne logs every Client fault raised by an operation with a traceback; to_fault already logs
# each refusal in one line, and Server faults still reach spyne's other loggers.
logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL)

# spyne runs a full gc.collect() up to once a second per worker when a request closes, to return
# the file descriptors of uploaded files promptly. We take no file uploads, and a full collection
# stalls the request that triggers it by tens of milliseconds: the p99 of every operation.
spyne_const.MIN_GC_INTERVAL = float("inf")


class VendWsgiApplication(WsgiApplication):  # type: ignore[misc]  # spyne is untyped
    """spyne's WSGI server with every fault passed through faults.to_fault."""

    def handle_error(
        self, p_ctx: Any, others: Any, error: BaseException, start_response: StartResponse
    ) -> Iterable[bytes]:
        fault = to_fault(error)
        p_ctx.out_error = fault
        p_ctx.transport.req_env[FAULT_TYPE_KEY] = fault.fault_type
        body: Iterable[bytes] = super().handle_error(p_ctx, others, fault, start_response)
        return body

    def fault_response(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        error: BaseException,
        status: str = FAULT_STATUS,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        """A SOAP fault for a request refused before spyne took it (guard, auth): HTTP 500 as
        every fault, unless `status` says otherwise (only a 401 challenge does)."""
        ctx = WsgiMethodContext(self, environ, self.app.out_protocol.mime_type)
        ctx.transport.resp_code = status
        ctx.transport.resp_headers.update(dict(headers))
        return self.handle_error(ctx, [], error, start_response)


def request_location(environ: dict[str, Any]) -> str:
    """This endpoint's URL as the client reached it; the Host header only when it is sane."""
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    host = str(environ.get("HTTP_HOST") or "")
    if not _HOST.fullmatch(host):
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}" or "/vend"
    return f"{scheme}://{host}{path}"


class WsdlDocument:
    """The WSDL, built once; each request gets it with its own address filled in (so one
    client's Host header never ends up in another client's WSDL)."""

    def __init__(self, soap: WsgiApplication) -> None:
        soap.doc.wsdl11.build_interface_document(WSDL_PLACEHOLDER)
        self.template: bytes = canonical(soap.doc.wsdl11.get_interface_document(), WSDL_PLACEHOLDER)
        if self.template.count(WSDL_PLACEHOLDER.encode()) != 1:
            raise RuntimeError("the WSDL does not carry exactly one service address")

    def render(self, location: str) -> bytes:
        return self.template.replace(
            WSDL_PLACEHOLDER.encode(), escape(location, {'"': "&quot;"}).encode()
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = self.render(request_location(environ))
        start_response(
            "200 OK",
            [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _plain(
    start_response: StartResponse, status: str, text: str, headers: Iterable[tuple[str, str]] = ()
) -> Iterable[bytes]:
    body = text.encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
    )
    return [body]


def _wants_wsdl(environ: dict[str, Any]) -> bool:
    query = str(environ.get("QUERY_STRING") or "").lower()
    return query.split("&")[0].split("=")[0] == "wsdl"


def create_soap_app(
    service: VendingService, runtime: Runtime, *, authenticator: Authenticator | None = None
) -> WsgiApp:
    """The `/vend` WSGI application calling `service` for every authenticated request."""
    limit = runtime.settings.server.max_body_bytes
    soap = VendWsgiApplication(build_application(service, runtime.settings.server.server_id))
    wsdl = WsdlDocument(soap)
    authenticate: Authenticator = authenticator or TerminalAuthenticator(runtime)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if method == "GET" and _wants_wsdl(environ):
            return wsdl(environ, start_response)
        if method != "POST":
            return _plain(
                start_response,
                "405 Method Not Allowed",
                "POST a SOAP 1.1 envelope here, or GET ?wsdl\n",
                [("Allow", "GET, POST")],
            )
        try:
            check_content_type(environ)
            check_declared_length(environ, limit)
            who = authenticate(environ)
            if isinstance(who, AuthRefusal):
                if who.kind is not None:
                    environ[AUTH_REFUSAL_KEY] = who.kind
                return soap.fault_response(
                    environ, start_response, who.fault, who.status, who.headers
                )
            body = read_body(environ, limit)
            document = parse_envelope(body)
            check_must_understand(document)
        except BodyTooLarge as exc:
            # The rest of the body stays unread: the connection cannot carry another request.
            return soap.fault_response(
                environ, start_response, exc, headers=[("Connection", "close")]
            )
        except Exception as exc:
            return soap.fault_response(environ, start_response, exc)
        environ[PRINCIPAL_KEY] = who
        environ[DOCUMENT_KEY] = document
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        started: list[bool] = []

        def tracking_start_response(*args: Any) -> Any:
            started.append(True)
            return start_response(*args)

        try:
            answer: Iterable[bytes] = soap.handle_rpc(environ, tracking_start_response)
            return answer
        except Exception as exc:  # spyne lets non-Fault errors of its input stages through
            if started:
                raise
            return soap.fault_response(environ, start_response, exc)

    return app
