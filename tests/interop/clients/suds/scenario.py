"""The interop scenario through suds-community, as a Python bank integration would write it: the
client is built at run time from the served WSDL, HTTP Basic through suds' HttpAuthenticated
transport, faults read as suds.WebFault with the detail object suds builds from the WSDL.

Run by tests/interop/test_matrix.py; the arguments arrive as environment variables (see
tests/interop/scenario.py) and the outcome of each step is printed as one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from suds import WebFault
from suds.client import Client
from suds.transport import TransportError


def env(name: str) -> str:
    return os.environ[f"INTEROP_{name}"]


def msg_id(client: Client, n: int) -> Any:
    mid = client.factory.create("ns0:MsgID")
    mid.dateTime = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    mid.uniqueNumber = int(env("MSG_BASE")) + n
    return mid


def tokens_of(transactions: Any) -> list[str]:
    return [
        str(token) for tx in (transactions or []) for token in (getattr(tx, "tokens", None) or [])
    ]


def run_step(steps: dict[str, Any], name: str, body: Callable[[], dict[str, Any]]) -> None:
    try:
        steps[name] = {"ok": True, **body()}
    except WebFault as exc:
        steps[name] = {
            "ok": False,
            "error": f"WebFault: {exc.fault.faultcode}: {exc.fault.faultstring}",
        }
    except Exception as exc:
        # suds raises Exception((status, reason)) for an HTTP status other than 200/202/500: a
        # fault sent with another status is not read at all.
        steps[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def vend_scenario(make: Callable[..., Client]) -> dict[str, Any]:
    client = make(env("SECRET"))
    meter, blocked = env("METER"), env("BLOCKED_METER")
    base = {"clientID": env("CLIENT_ID"), "terminalID": env("TERMINAL_ID")}
    steps: dict[str, Any] = {}
    sold: dict[str, Any] = {}

    def confirm() -> dict[str, Any]:
        resp = client.service.ConfirmCustomer(msgID=msg_id(client, 1), meterNumber=meter, **base)
        return {"customerName": str(resp.customer.name), "msno": str(resp.meter.msno)}

    def vend() -> dict[str, Any]:
        sold["msgID"] = msg_id(client, 2)
        resp = client.service.CreditVend(
            msgID=sold["msgID"], meterNumber=meter, amount="50.00", payType="cash", **base
        )
        return {"receiptNo": str(resp.receiptNo), "tokens": tokens_of(resp.transactions)}

    def replay() -> dict[str, Any]:
        resp = client.service.CreditVend(
            msgID=sold["msgID"], meterNumber=meter, amount="50.00", payType="cash", **base
        )
        return {"receiptNo": str(resp.receiptNo), "tokens": tokens_of(resp.transactions)}

    def last_response() -> dict[str, Any]:
        resp = client.service.LastResponseAdvice(
            msgID=msg_id(client, 3), originalMsgID=sold["msgID"], **base
        )
        return {"receiptNo": str(resp.receiptNo), "tokens": tokens_of(resp.transactions)}

    def reprint() -> dict[str, Any]:
        resp = client.service.Reprint(msgID=msg_id(client, 4), meterNumber=meter, **base)
        receipts = resp.receipts or []
        return {
            "receiptNos": [str(r.receiptNo) for r in receipts],
            "tokens": tokens_of(receipts[0].transactions) if receipts else [],
        }

    def statement() -> dict[str, Any]:
        resp = client.service.VendorStatement(msgID=msg_id(client, 5), maxItems=5, **base)
        return {"availCredit": str(resp.availCredit), "movements": len(resp.movements or [])}

    def blocked_fault() -> dict[str, Any]:
        try:
            client.service.CreditVend(
                msgID=msg_id(client, 6), meterNumber=blocked, amount="50.00", payType="cash", **base
            )
        except WebFault as exc:
            # suds parses <detail> with the fault element the WSDL declares for the operation.
            detail = exc.fault.detail.XMLVendFault
            return {
                "faultType": str(detail.faultType),
                "faultcode": str(exc.fault.faultcode),
                "typedBy": type(detail).__name__,
            }
        raise AssertionError("a vend for the blocked meter succeeded")

    def wrong_password() -> dict[str, Any]:
        wrong = make("not-the-" + env("SECRET"))
        try:
            wrong.service.VendorStatement(msgID=msg_id(client, 7), **base)
        except WebFault as exc:
            detail = getattr(exc.fault, "detail", None)
            kind = getattr(getattr(detail, "XMLVendFault", None), "faultType", None)
            return {
                "refused": "fault",
                "faultType": str(kind),
                "faultcode": str(exc.fault.faultcode),
            }
        except TransportError as exc:
            return {"refused": "http", "httpStatus": exc.httpcode, "message": str(exc)}
        except Exception as exc:
            # suds' answer to an HTTP status other than 200/202/500: Exception((status, reason)).
            if exc.args and isinstance(exc.args[0], tuple) and len(exc.args[0]) == 2:
                status, reason = exc.args[0]
                return {"refused": "http", "httpStatus": int(status), "message": str(reason)}
            raise
        raise AssertionError("a wrong password was accepted")

    def not_authorised() -> dict[str, Any]:
        # A terminal of the vendor whose allowlist leaves this address out: RequestAuthorisationEx.
        fenced = make(env("FENCED_SECRET"), env("FENCED_TERMINAL"))
        try:
            fenced.service.VendorStatement(
                msgID=msg_id(client, 8),
                clientID=env("CLIENT_ID"),
                terminalID=env("FENCED_TERMINAL"),
            )
        except WebFault as exc:
            detail = exc.fault.detail.XMLVendFault
            return {"faultType": str(detail.faultType), "faultcode": str(exc.fault.faultcode)}
        raise AssertionError("a terminal was served from an address its allowlist leaves out")

    def trailing_zeros() -> dict[str, Any]:
        # 50.500: schema-valid for a 2-fraction-digit decimal, what decimal arithmetic produces.
        resp = client.service.CreditVend(
            msgID=msg_id(client, 9), meterNumber=meter, amount="50.500", payType="cash", **base
        )
        return {"receiptNo": str(resp.receiptNo), "tenderAmount": str(resp.tenderAmount)}

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


def main() -> int:
    def make(secret: str, terminal: str | None = None, **options: Any) -> Client:
        user = f"{env('CLIENT_ID')}/{terminal or env('TERMINAL_ID')}"
        # faults=True: a SOAP fault raises WebFault (suds' typed fault API).
        return Client(
            env("WSDL"), username=user, password=secret, faults=True, cache=None, **options
        )

    result: dict[str, Any] = {"stack": "suds-community", "endpoint": env("ENDPOINT")}
    try:
        if env("ENDPOINT") == "vend":
            result["steps"] = vend_scenario(make)
        else:
            from xmlvend import xmlvend_scenario  # type: ignore[import-not-found]

            result["steps"] = xmlvend_scenario(make)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
