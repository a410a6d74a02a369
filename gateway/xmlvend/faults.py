"""Errors become XMLVend 2.1 faults here, and only here.

Every refusal reaches the client as a SOAP 1.1 Fault with HTTP 500 (WS-I Basic Profile R1126;
401, 429 and 503 keep their status, which HTTP clients act on, with the same fault as body):

    faultcode    soap:Client (the request can be fixed) or soap:Server (SystemEx)
    faultstring  a sentence for people
    detail       b:xmlvendFaultResp: the full BaseResp echo (clientID, serverID, terminalID,
                 reqMsgID, respDateTime, dispHeader), then
                 b:fault xsi:type="b:<XMLVend exception>" with desc and faultCode (our code)

The gateway's fault types (gateway/errors.py) are XMLVend's where XMLVend has one; the few it
lacks (VendAmountEx, DuplicateMsgIDEx) become their XMLVend parent, BusinessRuleEx. Anything not
ours is SystemEx with a generic sentence and a correlation id; its traceback goes to the log.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from lxml import etree

from core.db import database_reason
from gateway.errors import GatewayError, SystemError_, XMLVendError, as_database_unavailable
from gateway.xmlvend import write
from gateway.xmlvend.names import BASE, SOAP11_ENV, b
from gateway.xmlvend.names import type_name as tn

log = logging.getLogger("gateway.xmlvend")

GENERIC_SYSTEM_MESSAGE = "the gateway could not process the request; quote the correlation ID"

# The concrete fault types base.xsd declares (Fault, BusinessRuleEx's and XMLVendFaultEx's).
XMLVEND_FAULTS = frozenset(
    {
        "SystemEx",
        "BusinessRuleEx",
        "BlockedMeterEx",
        "VendorCreditEx",
        "MSNOCheckDigitEx",
        "STSDataEx",
        "LatestKRNEx",
        "SGCAuthorisationEx",
        "RequestAuthorisationEx",
        "FBEEx",
        "UnknownMeterEx",
        "UnknownMeterUpdateMtrKeyEx",
        "InsufficientMeterDataEx",
        "RequireMeterCardEx",
        "ClientIDAuthorisationEx",
        "ConfirmCustomerEx",
        "DebtEx",
        "ServiceChrgEx",
        "CancelEx",
        "ReprintEx",
        "VerifyTokenEx",
        "UpdateMtrKeySameEx",
        "StartBatchEx",
        "EndBatchEx",
        "CheckBatchTotalEx",
        "ReprintEndBatchEx",
        "ReprintDepositSlipEx",
        "XMLVendSchemaEx",
        "UseCaseSupportEx",
        "ClientIDSSLEx",
        "LastResponseEx",
        "ReversalEx",
        "ConfirmationEx",
    }
)
# Gateway refusals whose code says more than their class.
BY_CODE = {"nothing-to-reprint": "ReprintEx"}


@dataclass(frozen=True)
class XMLVendFault:
    """A fault ready to send: its XMLVend type, whether the client is at fault, the sentence
    and the stable code."""

    fault_type: str
    client: bool
    message: str
    code: str
    status: str = "500 Internal Server Error"


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def xmlvend_type(exc: GatewayError) -> str:
    if exc.code in BY_CODE:
        return BY_CODE[exc.code]
    if exc.fault_type in XMLVEND_FAULTS:
        return exc.fault_type
    if not exc.client_fault:
        return "SystemEx"
    # XMLVendFaultEx is abstract: its unnamed children are schema-level refusals.
    return "BusinessRuleEx" if not isinstance(exc, XMLVendError) else "XMLVendSchemaEx"


def to_fault(exc: BaseException) -> XMLVendFault:
    """Map any exception to the fault a client sees (the one place that does this)."""
    if isinstance(exc, GatewayError) and exc.client_fault:
        kind = xmlvend_type(exc)
        log.info("refused %s (%s): %s", kind, exc.code, exc.message)
        return XMLVendFault(kind, True, _clip(exc.message), exc.code)
    correlation_id = uuid.uuid4().hex[:16]
    unavailable = as_database_unavailable(exc)
    if unavailable is not None:
        log.warning(
            "SystemEx correlation=%s code=%s: %s",
            correlation_id,
            unavailable.code,
            unavailable.detail.get("reason") or database_reason(exc),
        )
        return XMLVendFault(
            "SystemEx", False, _clip(f"{unavailable.message} ({correlation_id})"), unavailable.code
        )
    message = exc.message if isinstance(exc, SystemError_) else GENERIC_SYSTEM_MESSAGE
    code = exc.code if isinstance(exc, SystemError_) else "system"
    log.error("SystemEx correlation=%s: %r", correlation_id, exc, exc_info=exc)
    return XMLVendFault("SystemEx", False, _clip(f"{message} ({correlation_id})"), code)


def fault_envelope(fault: XMLVendFault, echo: write.Echo, utility: write.Utility) -> bytes:
    """The SOAP 1.1 Fault envelope with its xmlvendFaultResp detail."""
    env = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV})
    body = etree.SubElement(env, f"{{{SOAP11_ENV}}}Body")
    soap_fault = etree.SubElement(body, f"{{{SOAP11_ENV}}}Fault")
    etree.SubElement(soap_fault, "faultcode").text = (
        "soap:Client" if fault.client else "soap:Server"
    )
    etree.SubElement(soap_fault, "faultstring").text = fault.message
    detail = etree.SubElement(soap_fault, "detail")
    resp = write.root(b("xmlvendFaultResp"))
    write.base_resp(resp, echo, utility, "ONLINE ERROR", _clip(fault.message))
    typed = write.sub(resp, b("fault"), xsi=tn(BASE, fault.fault_type))
    write.sub(typed, b("desc"), text=fault.message)
    write.sub(typed, b("faultCode"), text=fault.code)
    detail.append(resp)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def version_mismatch_envelope() -> bytes:
    """SOAP 1.1's VersionMismatch fault, for an envelope in another SOAP version's namespace
    (SOAP 1.1 section 4.4.1): no detail, which SOAP keeps for errors in the Body."""
    env = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV})
    body = etree.SubElement(env, f"{{{SOAP11_ENV}}}Body")
    soap_fault = etree.SubElement(body, f"{{{SOAP11_ENV}}}Fault")
    etree.SubElement(soap_fault, "faultcode").text = "soap:VersionMismatch"
    etree.SubElement(
        soap_fault, "faultstring"
    ).text = "this endpoint speaks SOAP 1.1 (http://schemas.xmlsoap.org/soap/envelope/)"
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))
