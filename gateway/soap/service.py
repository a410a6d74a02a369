"""The XMLVend operations as a spyne service: thin on purpose.

Each operation does the same four things: check that the body speaks for the authenticated
terminal (ClientIDAuthorisationEx otherwise), build the RequestHeader, call the VendingService,
and convert its answer. No business rule lives here; every error goes through faults.to_fault.

Operations are document/literal "bare": the SOAP Body holds the request element itself
(`<CreditVendReq>`), named after the operation, whose type extends BaseReq. Each declares the
one fault detail, XMLVendFault (faults.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from spyne import Application, ServiceBase, rpc
from spyne.protocol.soap import Soap11

from gateway.errors import ClientIDAuthorisation, SchemaError, SystemError_
from gateway.soap import convert
from gateway.soap import types as t
from gateway.soap.faults import XMLVendFault, to_fault
from gateway.vend import refusals
from gateway.vend.types import Principal, RequestHeader, VendingService

PRINCIPAL_KEY = "vendgw.soap.principal"
DOCUMENT_KEY = "vendgw.soap.document"
# The XMLVend type of the fault a request got, for vendgw.metrics (which reads the same string).
FAULT_TYPE_KEY = "vendgw.soap.fault_type"
# What a refused login counts as in vendgw.metrics ("401", "403", "429"; auth.AuthRefusal.kind).
AUTH_REFUSAL_KEY = "vendgw.soap.auth_refusal"


class VendApplication(Application):  # type: ignore[misc]  # spyne is untyped
    """The spyne application plus what the operations need: the service and our serverID."""

    def __init__(
        self,
        vending: VendingService | None,
        server_id: str,
        in_protocol: Soap11,
        out_protocol: Soap11,
    ) -> None:
        super().__init__(
            [VendGateway],
            tns=t.TNS,
            name=t.SERVICE_NAME,
            in_protocol=in_protocol,
            out_protocol=out_protocol,
        )
        self.vending = vending
        self.server_id = server_id


class Call:
    """One request, authenticated and checked: who, the header, and where to send it."""

    def __init__(self, ctx: Any, req: Any) -> None:
        app: VendApplication = ctx.app
        who: Principal | None = ctx.transport.req_env.get(PRINCIPAL_KEY)
        if who is None or app.vending is None:
            raise SystemError_("the request reached the service unauthenticated", code="wiring")
        if req.clientID != who.client_id or req.terminalID != who.terminal_id:
            raise ClientIDAuthorisation(
                "clientID and terminalID in the request must be those of the HTTP credentials"
            )
        operator = req.authCred.opName if req.authCred is not None else ""
        self.who = who
        self.header = RequestHeader(
            client_id=who.client_id,
            terminal_id=who.terminal_id,
            msg_id=convert.msg_id(req.msgID),
            operator=operator or "",
        )
        self.service: VendingService = app.vending
        self.server_id = app.server_id

    def base(self) -> dict[str, Any]:
        return convert.base_fields(
            self.who.client_id, self.who.terminal_id, self.header.msg_id, self.server_id
        )


F = TypeVar("F", bound=Callable[..., Any])


def operation(request: Any, response: Any) -> Callable[[F], F]:
    """spyne's @rpc for one XMLVend operation: document/literal bare, the request element
    `<Name>Req` and the response element `<Name>Resp`, Name being the function's name, and the
    XMLVendFault detail declared as its wsdl:fault."""

    def decorate(function: F) -> F:
        name = function.__name__
        # Every operation can refuse (at least XMLVendSchemaEx, SystemEx), and client tooling
        # only maps a fault to a typed exception when the operation declares it.
        wrapped: F = rpc(
            request,
            _returns=response,
            _throws=[XMLVendFault],
            _body_style="bare",
            _in_message_name=f"{name}Req",
            _out_message_name=f"{name}Resp",
        )(function)
        return wrapped

    return decorate


class VendGateway(ServiceBase):  # type: ignore[misc]  # spyne is untyped
    __service_name__ = t.SERVICE_NAME

    @classmethod
    def call_wrapper(cls, ctx: Any, args: Any = None) -> Any:
        try:
            with refusals.translated():
                return super().call_wrapper(ctx, args)
        except Exception as exc:
            raise to_fault(exc) from exc

    # Revenue domain ------------------------------------------------------------------------

    @operation(t.MeterReq, t.ConfirmCustomerResp)
    def ConfirmCustomer(ctx: Any, req: Any) -> t.ConfirmCustomerResp:
        call = Call(ctx, req)
        info = call.service.confirm_customer(
            call.who, call.header, convert.meter_number(req.meterNumber)
        )
        return convert.confirm_customer_resp(call.base(), info)

    @operation(t.VendReq, t.VendResp)
    def CreditVend(ctx: Any, req: Any) -> t.VendResp:
        call = Call(ctx, req)
        receipt = call.service.credit_vend(
            call.who,
            call.header,
            convert.meter_number(req.meterNumber),
            convert.amount_cents(req.amount),
            req.payType,
        )
        return convert.vend_resp(call.base(), receipt)

    @operation(t.VendReq, t.VendResp)
    def TrialCreditVend(ctx: Any, req: Any) -> t.VendResp:
        call = Call(ctx, req)
        receipt = call.service.trial_credit_vend(
            call.who,
            call.header,
            convert.meter_number(req.meterNumber),
            convert.amount_cents(req.amount),
            req.payType,
        )
        return convert.vend_resp(call.base(), receipt)

    @operation(t.MeterReq, t.VendResp)
    def FBEVend(ctx: Any, req: Any) -> t.VendResp:
        call = Call(ctx, req)
        receipt = call.service.fbe_vend(
            call.who, call.header, convert.meter_number(req.meterNumber)
        )
        return convert.vend_resp(call.base(), receipt)

    @operation(t.ReprintReq, t.ReprintResp)
    def Reprint(ctx: Any, req: Any) -> t.ReprintResp:
        call = Call(ctx, req)
        original = None if req.originalMsgID is None else convert.msg_id(req.originalMsgID)
        receipts = call.service.reprint(
            call.who, call.header, convert.meter_number(req.meterNumber), original
        )
        return convert.reprint_resp(call.base(), receipts)

    # Advice --------------------------------------------------------------------------------

    @operation(t.AdviceReq, t.ConfirmationAdviceResp)
    def ConfirmationAdvice(ctx: Any, req: Any) -> t.ConfirmationAdviceResp:
        call = Call(ctx, req)
        result = call.service.confirmation_advice(
            call.who, call.header, convert.msg_id(req.originalMsgID)
        )
        return convert.confirmation_resp(call.base(), result)

    @operation(t.AdviceReq, t.ReversalAdviceResp)
    def ReversalAdvice(ctx: Any, req: Any) -> t.ReversalAdviceResp:
        call = Call(ctx, req)
        result = call.service.reversal_advice(
            call.who, call.header, convert.msg_id(req.originalMsgID)
        )
        return convert.reversal_resp(call.base(), result)

    @operation(t.AdviceReq, t.VendResp)
    def LastResponseAdvice(ctx: Any, req: Any) -> t.VendResp:
        call = Call(ctx, req)
        receipt = call.service.last_response_advice(
            call.who, call.header, convert.msg_id(req.originalMsgID)
        )
        return convert.vend_resp(call.base(), receipt)

    # Vendor --------------------------------------------------------------------------------

    @operation(t.VendorStatementReq, t.VendorStatementResp)
    def VendorStatement(ctx: Any, req: Any) -> t.VendorStatementResp:
        call = Call(ctx, req)
        max_items = convert.DEFAULT_MAX_ITEMS if req.maxItems is None else int(req.maxItems)
        statement = call.service.vendor_statement(call.who, call.header, max_items)
        return convert.statement_resp(call.base(), statement)

    # Meter domain (engineering) --------------------------------------------------------------

    @operation(t.MeterSpecificEngReq, t.EngResp)
    def MeterSpecificEng(ctx: Any, req: Any) -> t.EngResp:
        call = Call(ctx, req)
        value = None if req.value is None else int(req.value)
        result = call.service.meter_specific_eng(
            call.who, call.header, convert.meter_number(req.meterNumber), req.engType, value
        )
        return convert.eng_resp(call.base(), result)

    @operation(t.NonMeterSpecificEngReq, t.EngResp)
    def NonMeterSpecificEng(ctx: Any, req: Any) -> t.EngResp:
        call = Call(ctx, req)
        mfr_code = None if req.mfrCode is None else int(req.mfrCode)
        result = call.service.non_meter_specific_eng(call.who, call.header, req.engType, mfr_code)
        return convert.eng_resp(call.base(), result)


OPERATIONS: tuple[str, ...] = (
    "ConfirmCustomer",
    "CreditVend",
    "TrialCreditVend",
    "FBEVend",
    "Reprint",
    "ConfirmationAdvice",
    "ReversalAdvice",
    "LastResponseAdvice",
    "VendorStatement",
    "MeterSpecificEng",
    "NonMeterSpecificEng",
)


class HardenedSoap11(Soap11):  # type: ignore[misc]  # spyne is untyped
    """SOAP 1.1 input that never parses bytes: it takes the tree guard.parse_envelope made.

    Schema validation is spyne's lxml validator (the XSD generated from types.py), with its
    refusals turned into XMLVendSchemaEx faults carrying lxml's own sentence.
    """

    def __init__(self) -> None:
        super().__init__(validator="lxml")
        # One lxml XMLSchema serves every thread of a worker, and its error_log is shared: read
        # after another thread's validation, it gave one request the error message (and the
        # values quoted in it) of another request. Validation and reading the log go together.
        self._validation_lock = threading.Lock()

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        document = ctx.transport.req_env.get(DOCUMENT_KEY)
        if document is None:
            raise to_fault(SystemError_("the request body was not checked", code="wiring"))
        ctx.in_document = (document, None)  # (root, xmlids): no SOAP-encoding href resolution

    def validate_body(self, ctx: Any, message: Any) -> None:
        schema = self.validation_schema
        with self._validation_lock:
            valid = schema.validate(ctx.in_body_doc)
            error = None if valid else schema.error_log.last_error
            message = error.message if error else "invalid"
        if not valid:
            raise to_fault(
                SchemaError(f"the request does not follow the schema: {message}", code="schema")
            )


def build_application(vending: VendingService | None, server_id: str) -> VendApplication:
    """The spyne application; with `vending=None` it can only describe itself (WSDL export)."""
    return VendApplication(vending, server_id, HardenedSoap11(), Soap11())
