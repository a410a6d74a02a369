"""VoucherVend as a spyne service of its own, beside VendGateway (gateway/soap/service.py),
in the same application and WSDL: thin on purpose, like the XMLVend operations.

It checks that the body speaks for the authenticated terminal, calls the service's
`voucher_vend` (gateway/vend/service.py: the VoucherVend plan of the one vend pipeline) and
answers a VendResp. Errors go through faults.to_fault like every operation's. The PIN goes no
further than the service call: it is never logged, stored or answered.

This module does not import service.py (which lists this class in the application): the
environment key of the authenticated principal is spelled here too, and a test holds the two
spellings together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from spyne import ServiceBase, rpc

from gateway.errors import ClientIDAuthorisation, SystemError_
from gateway.soap import convert
from gateway.soap import types as t
from gateway.soap.faults import XMLVendFault, to_fault
from gateway.soap.voucher_types import VoucherVendReq
from gateway.vend import refusals
from gateway.vend.types import Principal, RequestHeader, VoucherRedemption

__all__ = ["PRINCIPAL_KEY", "VoucherGateway"]

PRINCIPAL_KEY = "vendgw.soap.principal"  # = gateway.soap.service.PRINCIPAL_KEY


F = TypeVar("F", bound=Callable[..., Any])


def _operation(function: F) -> F:
    # As service.operation does for the XMLVend operations: document/literal bare, the
    # XMLVendFault detail declared.
    wrapped: F = rpc(
        VoucherVendReq,
        _returns=t.VendResp,
        _throws=[XMLVendFault],
        _body_style="bare",
        _in_message_name="VoucherVendReq",
        _out_message_name="VoucherVendResp",
    )(function)
    return wrapped


class VoucherGateway(ServiceBase):  # type: ignore[misc]  # spyne is untyped
    __service_name__ = t.SERVICE_NAME

    @classmethod
    def call_wrapper(cls, ctx: Any, args: Any = None) -> Any:
        try:
            with refusals.translated():
                return super().call_wrapper(ctx, args)
        except Exception as exc:
            raise to_fault(exc) from exc

    @_operation
    def VoucherVend(ctx: Any, req: Any) -> t.VendResp:
        app = ctx.app
        who: Principal | None = ctx.transport.req_env.get(PRINCIPAL_KEY)
        if who is None or app.vending is None:
            raise SystemError_("the request reached the service unauthenticated", code="wiring")
        if req.clientID != who.client_id or req.terminalID != who.terminal_id:
            raise ClientIDAuthorisation(
                "clientID and terminalID in the request must be those of the HTTP credentials"
            )
        operator = req.authCred.opName if req.authCred is not None else ""
        header = RequestHeader(
            client_id=who.client_id,
            terminal_id=who.terminal_id,
            msg_id=convert.msg_id(req.msgID),
            operator=operator or "",
        )
        service = cast(VoucherRedemption, app.vending)
        receipt = service.voucher_vend(
            who, header, convert.meter_number(req.meterNumber), str(req.pin)
        )
        base = convert.base_fields(who.client_id, who.terminal_id, header.msg_id, app.server_id)
        return convert.vend_resp(base, receipt)
