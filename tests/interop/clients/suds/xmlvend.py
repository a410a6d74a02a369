"""The interop scenario on /xmlvend/2.1 through suds-community: objects of the XMLVend 2.1 types
made with suds' factory from the served WSDL (attributes are suds' `_name` fields; a derived type's
object makes suds write its xsi:type), faults read as WebFault with the detail suds decodes as the
WSDL's xmlvendFaultResp, whose `fault` is an object of the fault's own XMLVend type."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scenario import env, run_step  # type: ignore[import-not-found]
from suds import WebFault
from suds.client import Client
from suds.transport import TransportError

B = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
R = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"


def typed(client: Client, ns: str, name: str, **attrs: Any) -> Any:
    obj = client.factory.create(f"{{{ns}}}{name}")
    for key, value in attrs.items():
        setattr(obj, key, value)
    return obj


def head(client: Client, n: int, terminal: str | None = None) -> dict[str, Any]:
    """BaseReq's fields: the clientID as an EANDeviceID, the terminal as a GenericDeviceID."""
    return {
        "clientID": typed(client, B, "EANDeviceID", _ean=env("CLIENT_ID")),
        "terminalID": typed(client, B, "GenericDeviceID", _id=terminal or env("TERMINAL_ID")),
        "msgID": msg_id(client, n),
    }


def msg_id(client: Client, n: int) -> Any:
    return typed(
        client,
        B,
        "MsgID",
        _dateTime=time.strftime("%Y%m%d%H%M%S", time.gmtime()),
        _uniqueNumber=int(env("MSG_BASE")) + n,
    )


def vend_id(client: Client, meter: str) -> Any:
    method = typed(client, B, "VendIDMethod")
    method.meterIdentifier = typed(client, B, "MeterNumber", _msno=meter)
    return method


def money(client: Client, amount: str) -> Any:
    return typed(client, B, "Currency", _value=amount, _symbol="ZAR")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def tokens_of(vend_resp: Any) -> list[str]:
    """The STS tokens of a creditVendResp (or of one it carries as lastResponse or reprint)."""
    receipt = vend_resp.creditVendReceipt
    return [
        str(tx.creditTokenIssue.token.stsCipher)
        for tx in as_list(receipt.transactions.tx)
        if getattr(tx, "creditTokenIssue", None) is not None
    ]


XSI = ("xsi", "http://www.w3.org/2001/XMLSchema-instance")


def fault_type(exc: WebFault) -> tuple[str, str]:
    """The XMLVend fault's type. suds decodes a fault's <detail> untyped (WebFault.fault.detail
    has the xmlvendFaultResp's fields, but its `fault` object is named after the element and the
    xsi:type is gone), so the type is read from the reply document suds keeps
    (WebFault.document)."""
    detail = exc.fault.detail.xmlvendFaultResp  # the decoded detail must be there
    assert detail.fault.desc, "the decoded fault has no desc"
    node = exc.document.getChild("Envelope").getChild("Body").getChild("Fault")
    node = node.getChild("detail").getChild("xmlvendFaultResp").getChild("fault")
    kind = node.get("type", XSI) or ""
    return kind.split(":")[-1], str(exc.fault.faultcode)


def xmlvend_scenario(make: Callable[..., Client]) -> dict[str, Any]:
    client = make(env("SECRET"))
    meter = env("METER")
    steps: dict[str, Any] = {}
    sold: dict[str, Any] = {}

    def credit_vend(fields: dict[str, Any], amount: str, on_meter: str = meter) -> Any:
        return client.service.CreditVendRequest(
            resource=typed(client, B, "Electricity"),
            idMethod=vend_id(client, on_meter),
            purchaseValue=typed(client, R, "PurchaseValueCurrency", amt=money(client, amount)),
            payType=typed(client, B, "Cash", tenderAmt=money(client, amount)),
            **fields,
        )

    def confirm() -> dict[str, Any]:
        resp = client.service.ConfirmCustomerRequest(
            idMethod=vend_id(client, meter), **head(client, 1)
        )
        result = as_list(resp.confirmCustResult)[0]
        return {
            "customerName": str(result.custVendDetail._name),
            "msno": str(result.meterDetail._msno),
        }

    def vend() -> dict[str, Any]:
        sold["head"] = head(client, 2)
        resp = credit_vend(sold["head"], "50.00")
        return {"receiptNo": str(resp.creditVendReceipt._receiptNo), "tokens": tokens_of(resp)}

    def replay() -> dict[str, Any]:
        resp = credit_vend(sold["head"], "50.00")
        return {"receiptNo": str(resp.creditVendReceipt._receiptNo), "tokens": tokens_of(resp)}

    def last_response() -> dict[str, Any]:
        # adviceReq's declared type is abstract: the request is a LastRespAdviceReq object, sent
        # as the whole message part (a client with unwrap off; the option is read when the client
        # is built) so suds writes its xsi:type on the element.
        advice = typed(client, B, "LastRespAdviceReq", **head(client, 3))
        advice.adviceReqMsgID = sold["head"]["msgID"]
        resp = make(env("SECRET"), unwrap=False).service.AdviceRequest(advice)
        last = resp.lastResponse
        return {
            "receiptNo": str(last.creditVendReceipt._receiptNo),
            "tokens": tokens_of(last),
            "typedBy": f"{resp.__class__.__name__}/{last.__class__.__name__}",
        }

    def reprint() -> dict[str, Any]:
        resp = client.service.ReprintRequest(idMethod=vend_id(client, meter), **head(client, 4))
        copies = as_list(resp.reprint)
        return {
            "receiptNos": [str(c.creditVendReceipt._receiptNo) for c in copies],
            "tokens": tokens_of(copies[0]) if copies else [],
        }

    def statement() -> dict[str, Any]:
        resp = client.service.VendorStatementRequest(**head(client, 5))
        return {
            "availCredit": str(resp.statement.availCredit._value),
            "movements": len(as_list(getattr(resp.statement, "lineItem", None))),
        }

    def blocked_fault() -> dict[str, Any]:
        try:
            credit_vend(head(client, 6), "50.00", env("BLOCKED_METER"))
        except WebFault as exc:
            kind, code = fault_type(exc)
            return {"faultType": kind, "faultcode": code, "typedBy": "WebFault.document xsi:type"}
        raise AssertionError("a vend for the blocked meter succeeded")

    def wrong_password() -> dict[str, Any]:
        wrong = make("not-the-" + env("SECRET"))
        try:
            wrong.service.VendorStatementRequest(**head(wrong, 7))
        except WebFault as exc:
            kind, code = fault_type(exc)
            return {"refused": "fault", "faultType": kind, "faultcode": code}
        except TransportError as exc:
            return {"refused": "http", "httpStatus": exc.httpcode, "message": str(exc)}
        except Exception as exc:
            if exc.args and isinstance(exc.args[0], tuple) and len(exc.args[0]) == 2:
                status, reason = exc.args[0]
                return {"refused": "http", "httpStatus": int(status), "message": str(reason)}
            raise
        raise AssertionError("a wrong password was accepted")

    def not_authorised() -> dict[str, Any]:
        fenced = make(env("FENCED_SECRET"), env("FENCED_TERMINAL"))
        try:
            fenced.service.VendorStatementRequest(**head(fenced, 8, env("FENCED_TERMINAL")))
        except WebFault as exc:
            kind, code = fault_type(exc)
            return {"faultType": kind, "faultcode": code}
        raise AssertionError("a terminal was served from an address its allowlist leaves out")

    def trailing_zeros() -> dict[str, Any]:
        resp = credit_vend(head(client, 9), "50.500")
        receipt = resp.creditVendReceipt
        return {
            "receiptNo": str(receipt._receiptNo),
            "tenderAmount": str(receipt.transactions.tenderAmt._value),
        }

    run_step(steps, "confirm", confirm)
    run_step(steps, "vend", vend)
    run_step(steps, "replay", replay)
    run_step(steps, "lastResponse", last_response)
    run_step(steps, "reprint", reprint)
    run_step(steps, "statement", statement)
    run_step(steps, "blockedFault", blocked_fault)
    run_step(steps, "wrongPassword", wrong_password)
    run_step(steps, "notAuthorised", not_authorised)
    run_step(steps, "trailingZeros", trailing_zeros)
    return steps
