"""Errors become SOAP faults here, and only here.

`to_fault` is the one mapping. The service layer raises `GatewayError` subtypes (the XMLVend
fault taxonomy, see gateway/errors.py); the edge raises `SchemaError` for input it refuses; spyne
raises its own `Fault`s for documents it cannot take. Every one of them reaches a client as

    HTTP status  500 (WS-I Basic Profile R1126), whatever the fault; only a refused login keeps
                 401 with its WWW-Authenticate challenge (app.py, auth.py)
    faultcode    soap11env:Client    or    soap11env:Server
    faultstring  a sentence for people
    detail       <XMLVendFault xmlns="urn:vendgw:xmlvend:2.1">
                   <faultType>UnknownMeterEx</faultType>     the XMLVend fault type
                   <code>unknown-meter</code>                stable, for client code to branch on
                   <desc>...</desc>                          the faultstring again
                   <correlationID>...</correlationID>        SystemEx only
                 </XMLVendFault>

Why the faultcode is exactly Client or Server: it is an xs:QName, and .NET (SoapException.
ClientFaultCode) and JAX-WS compare it whole with {SOAP 1.1 envelope}Client / Server to tell a
client's mistake from a server's; SOAP 1.1's dotted refinements (`Client.BlockedMeterEx`) fail
those checks. The XMLVend type, which is what a client branches on, is in the detail, typed by
the WSDL: every stack (zeep, suds, JAX-WS's fault bean, .NET's SoapException.Detail) reads it.

Two faults are SOAP's rather than XMLVend's, without a detail (SOAP keeps it for errors in the
Body, section 4.4): a header entry marked mustUnderstand="1" that we do not obey gets
`soap11env:MustUnderstand`, and an envelope that is not SOAP 1.1's (a SOAP 1.2 envelope, or an
Envelope in any other namespace) gets `soap11env:VersionMismatch` (SOAP 1.1 section 4.4.1; SOAP
1.2 part 1, appendix A, says a SOAP 1.1 node answers a SOAP 1.2 message so).

Anything that is not ours becomes Server.SystemEx with a generic message; the exception and its
traceback go to the server log under a correlation id that the fault carries, never to the
client. A database that is busy, slow or gone (a lock or statement time-out, a lost connection:
core/db.py `database_code`, gateway/errors.py `as_database_unavailable`) is no bug:
Server.SystemEx with code `database-busy`, `database-timeout` or `database-unavailable`, a
message saying to retry with the same msgID, and one line in the log instead of a traceback.

The WSDL declares that detail element as the wsdl:fault of every operation (`XMLVendFault`,
given to spyne's `@rpc(_throws=...)`), so client tooling maps faults to a typed exception.
"""

from __future__ import annotations

import logging
import uuid

from lxml import etree
from spyne import Unicode
from spyne.model.fault import Fault

from core.db import database_reason
from gateway.errors import GatewayError, SchemaError, SystemError_, as_database_unavailable
from gateway.soap.guard import (
    SOAP11_ENV,
    SOAP12_ENV,
    EnvelopeVersionMismatch,
    HeaderNotUnderstood,
)
from gateway.soap.types import TNS, optional, required

log = logging.getLogger("gateway.soap")

GENERIC_SYSTEM_MESSAGE = "the gateway could not process the request; quote the correlation ID"
MAX_FAULTSTRING = 300


class XMLVendFault(Fault):  # type: ignore[misc]  # spyne is untyped
    """The detail element of every fault, as the WSDL declares it; declared, never raised.

    spyne makes a `_throws` class the wsdl:fault of an operation, whose message part is this
    class's element. But when it serialises a raised Fault it writes the class's members as
    children of soap11env:Fault itself, without a <detail> (spyne/protocol/xml.py,
    `_fault_to_parent_impl` calls `gen_members_parent`), which is neither what the WSDL says
    nor our wire format. So VendFault stays an untyped Fault that carries this element, built by
    `_detail`, as its `detail`; a test checks the element against this type.
    """

    __namespace__ = TNS
    __type_name__ = "XMLVendFault"
    _type_info = (
        ("faultType", required(Unicode)),
        ("code", required(Unicode)),
        ("desc", required(Unicode)),
        ("correlationID", optional(Unicode)),
    )


class VendFault(Fault):  # type: ignore[misc]  # spyne is untyped
    """A fault already mapped by `to_fault`: carries the XMLVend type and code as attributes."""

    def __init__(
        self,
        fault_type: str,
        client: bool,
        message: str,
        code: str,
        correlation_id: str | None = None,
    ) -> None:
        self.fault_type = fault_type
        self.code = code
        self.correlation_id = correlation_id
        super().__init__(
            # spyne writes it as "<envelope prefix>:<faultcode>": soap11env:Client.
            faultcode="Client" if client else "Server",
            faultstring=message,
            detail=_detail(fault_type, code, message, correlation_id),
        )


class MustUnderstandFault(VendFault):
    """SOAP 1.1's MustUnderstand fault: faultcode MustUnderstand in the envelope's namespace."""

    def __init__(self, names: list[str]) -> None:
        self.fault_type = "MustUnderstand"
        self.code = "must-understand"
        self.correlation_id = None
        shown = ", ".join(names)
        Fault.__init__(
            self,
            faultcode="MustUnderstand",
            faultstring=_clip(f"SOAP header not understood: {shown}"),
        )


class VersionMismatchFault(VendFault):
    """SOAP 1.1's VersionMismatch fault: the envelope is not in the SOAP 1.1 namespace."""

    def __init__(self, namespace: str) -> None:
        self.fault_type = "VersionMismatch"
        self.code = "version-mismatch"
        self.correlation_id = None
        seen = "SOAP 1.2" if namespace == SOAP12_ENV else f"namespace {namespace[:80]!r}"
        Fault.__init__(
            self,
            faultcode="VersionMismatch",
            faultstring=_clip(
                f"this endpoint speaks SOAP 1.1 (envelope namespace {SOAP11_ENV}); the request"
                f" is {seen}"
            ),
        )


def _detail(fault_type: str, code: str, message: str, correlation_id: str | None) -> etree._Element:
    root = etree.Element(f"{{{TNS}}}{XMLVendFault.get_type_name()}", nsmap={None: TNS})
    for name, value in (
        ("faultType", fault_type),
        ("code", code),
        ("desc", message),
        ("correlationID", correlation_id),
    ):
        if value is not None:
            etree.SubElement(root, f"{{{TNS}}}{name}").text = value
    return root


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_FAULTSTRING else text[: MAX_FAULTSTRING - 3] + "..."


def to_fault(exc: BaseException) -> VendFault:
    """Map any exception to the fault a client sees (the one place that does this)."""
    if isinstance(exc, VendFault):
        return exc
    if isinstance(exc, HeaderNotUnderstood):
        log.info("refused MustUnderstand: %s", _clip(", ".join(exc.names)))
        return MustUnderstandFault(exc.names)
    if isinstance(exc, EnvelopeVersionMismatch):
        log.info("refused VersionMismatch: %s", _clip(exc.namespace))
        return VersionMismatchFault(exc.namespace)
    if isinstance(exc, GatewayError) and exc.client_fault:
        log.info("refused %s (%s): %s", exc.fault_type, exc.code, exc.message)
        return VendFault(exc.fault_type, True, _clip(exc.message), exc.code)
    if isinstance(exc, Fault) and str(exc.faultcode).startswith("Client"):
        # spyne's own refusals: schema validation, XML syntax, unknown operation, wrong verb.
        return to_fault(
            SchemaError(
                f"the request does not follow the XMLVend schema: {exc.faultstring}", code="schema"
            )
        )
    correlation_id = uuid.uuid4().hex[:16]
    unavailable = as_database_unavailable(exc)
    if unavailable is not None:
        # Expected in operation, and retried by the client: one line, no traceback.
        log.warning(
            "Server.SystemEx correlation=%s code=%s: %s",
            correlation_id,
            unavailable.code,
            unavailable.detail.get("reason") or database_reason(exc),
        )
        return VendFault(
            "SystemEx",
            False,
            f"{unavailable.message} ({correlation_id})",
            unavailable.code,
            correlation_id,
        )
    if isinstance(exc, SystemError_) and "retry_after_seconds" in exc.detail:
        # Busy, and saying when to come back (the login verifier): operational, one line.
        log.warning("Server.SystemEx correlation=%s code=%s", correlation_id, exc.code)
        return VendFault(
            "SystemEx", False, f"{exc.message} ({correlation_id})", exc.code, correlation_id
        )
    message = exc.message if isinstance(exc, SystemError_) else GENERIC_SYSTEM_MESSAGE
    code = exc.code if isinstance(exc, SystemError_) else "system"
    log.error("Server.SystemEx correlation=%s: %r", correlation_id, exc, exc_info=exc)
    return VendFault("SystemEx", False, f"{message} ({correlation_id})", code, correlation_id)
