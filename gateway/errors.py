"""The gateway's exception tree, shaped like XMLVend's fault taxonomy.

    GatewayError
    ├── SystemError_               -> Server.SystemEx (never with internals in the message)
    │   └── DatabaseUnavailable    the database was busy, slow or unreachable: retry the msgID
    ├── BusinessRuleError          -> Client.<subtype>
    │   ├── UnknownMeter           UnknownMeterEx
    │   ├── BlockedMeter           BlockedMeterEx
    │   ├── MeterCheckDigit        MSNOCheckDigitEx
    │   ├── VendorCredit           VendorCreditEx
    │   ├── VendAmount             VendAmountEx
    │   ├── FBEError               FBEEx
    │   ├── RequestAuthorisation   RequestAuthorisationEx
    │   ├── ClientIDAuthorisation  ClientIDAuthorisationEx
    │   ├── ConfirmCustomer        ConfirmCustomerEx     (no meter for that account)
    │   ├── Debt                   DebtEx                (no debt, or more than it, to pay)
    │   ├── ServiceCharge          ServiceChrgEx         (no service charge, or more, to pay)
    │   ├── UpdateMeterKeySame     UpdateMtrKeySameEx    (the key asked for is the meter's)
    │   ├── StartBatch             StartBatchEx          (one of that kind is already open)
    │   ├── EndBatch               EndBatchEx            (none of that kind is open)
    │   └── ReprintEndBatch        ReprintEndBatchEx     (no such closed batch)
    └── XMLVendError               -> Client.<subtype>
        ├── DuplicateMsgID         DuplicateMsgIDEx
        ├── LastResponseError      LastResponseEx
        ├── ReversalError          ReversalEx
        ├── ConfirmationError      ConfirmationEx
        ├── SchemaError            XMLVendSchemaEx
        └── UseCaseSupport         UseCaseSupportEx

The SOAP layer turns these into faults in exactly one function; nothing else knows about SOAP.
Every error carries a stable `code` (kebab-case) for client code to branch on, a human
`message` and a `detail` dict. Errors of the libraries below (pricing, vendor_accounts, money)
become these in one place, gateway/vend/refusals.py, through `from_library`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from core import money
from core.db import database_code, database_reason

# Attributes of a library error that are not its details.
_NOT_DETAIL = frozenset({"message", "code", "args"})


def _details(exc: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(exc).items() if not k.startswith("_") and k not in _NOT_DETAIL}


class GatewayError(Exception):
    fault_type: ClassVar[str] = "SystemEx"
    client_fault: ClassVar[bool] = True
    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.detail = detail

    @classmethod
    def from_library(cls, exc: BaseException) -> GatewayError:
        """This error for a library's refusal: its message, its (kebab-case) code and its
        figures as `detail`."""
        code = getattr(exc, "code", None)
        return cls(
            str(getattr(exc, "message", exc)),
            code=code if isinstance(code, str) else None,
            **_details(exc),
        )


class SystemError_(GatewayError):
    fault_type = "SystemEx"
    client_fault = False
    default_code = "system"


class DatabaseUnavailable(SystemError_):
    """The database could not serve the request now: a lock wait or a statement ran out of
    time, or the connection was lost. An operational condition, not a bug: the transaction was
    rolled back (or, for a lost COMMIT, its record answers a retry), so the client retries with
    the same msgID. Codes: `database-busy` (a lock wait timed out, a deadlock was broken),
    `database-timeout` (a statement or an idle transaction ran out of time),
    `database-unavailable` (no connection)."""

    default_code = "database-unavailable"


class BusinessRuleError(GatewayError):
    fault_type = "BusinessRuleEx"
    default_code = "business-rule"


class UnknownMeter(BusinessRuleError):
    fault_type = "UnknownMeterEx"
    default_code = "unknown-meter"


class BlockedMeter(BusinessRuleError):
    fault_type = "BlockedMeterEx"
    default_code = "blocked-meter"


class MeterCheckDigit(BusinessRuleError):
    fault_type = "MSNOCheckDigitEx"
    default_code = "meter-check-digit"


class VendorCredit(BusinessRuleError):
    fault_type = "VendorCreditEx"
    default_code = "insufficient-float"

    @classmethod
    def from_library(cls, exc: BaseException) -> GatewayError:
        # The XMLVendFault detail has no room for figures (the WSDL stays as published), so the
        # message says them too: what the vendor may still sell, the floor and the day's cap.
        error = super().from_library(exc)
        figures = []
        for name, key in (("available", "available_cents"), ("floor", "floor_cents")):
            if error.detail.get(key) is not None:
                figures.append(f"{name} {money.format_cents(error.detail[key])}")
        if "daily_cap_cents" in error.detail:
            cap = error.detail["daily_cap_cents"]
            figures.append(
                "no daily cap"
                if cap is None
                else f"daily cap {money.format_cents(cap)}, used today "
                f"{money.format_cents(error.detail.get('used_today_cents') or 0)}"
            )
        if figures:
            error.message = f"{error.message} ({', '.join(figures)})"
            error.args = (error.message,)
        return error


class VendAmount(BusinessRuleError):
    fault_type = "VendAmountEx"
    default_code = "vend-amount"


class FBEError(BusinessRuleError):
    fault_type = "FBEEx"
    default_code = "fbe"


class RequestAuthorisation(BusinessRuleError):
    fault_type = "RequestAuthorisationEx"
    default_code = "not-authorised"


class ClientIDAuthorisation(BusinessRuleError):
    fault_type = "ClientIDAuthorisationEx"
    default_code = "client-id-mismatch"


class ConfirmCustomer(BusinessRuleError):
    fault_type = "ConfirmCustomerEx"
    default_code = "unknown-account"


class Debt(BusinessRuleError):
    fault_type = "DebtEx"
    default_code = "no-debt"


class ServiceCharge(BusinessRuleError):
    fault_type = "ServiceChrgEx"
    default_code = "no-service-charge"


class UpdateMeterKeySame(BusinessRuleError):
    fault_type = "UpdateMtrKeySameEx"
    default_code = "same-key"


class StartBatch(BusinessRuleError):
    fault_type = "StartBatchEx"
    default_code = "batch-already-open"


class EndBatch(BusinessRuleError):
    fault_type = "EndBatchEx"
    default_code = "no-open-batch"


class ReprintEndBatch(BusinessRuleError):
    fault_type = "ReprintEndBatchEx"
    default_code = "no-closed-batch"


class XMLVendError(GatewayError):
    fault_type = "XMLVendFaultEx"
    default_code = "xmlvend"


class DuplicateMsgID(XMLVendError):
    fault_type = "DuplicateMsgIDEx"
    default_code = "duplicate-msg-id"


class LastResponseError(XMLVendError):
    fault_type = "LastResponseEx"
    default_code = "no-such-request"


class ReversalError(XMLVendError):
    fault_type = "ReversalEx"
    default_code = "reversal-refused"


class ConfirmationError(XMLVendError):
    fault_type = "ConfirmationEx"
    default_code = "confirmation-refused"


class SchemaError(XMLVendError):
    fault_type = "XMLVendSchemaEx"
    default_code = "schema"

    @classmethod
    def from_library(cls, exc: BaseException) -> GatewayError:
        if isinstance(exc, money.AmountError):  # an amount the wire carried
            return cls(f"amount {exc.reason}", code="amount")
        return super().from_library(exc)


class UseCaseSupport(XMLVendError):
    fault_type = "UseCaseSupportEx"
    default_code = "not-supported"


DATABASE_MESSAGES = {
    "database-busy": "the database was busy (a lock wait timed out); nothing was stored: retry "
    "with the same msgID",
    "database-timeout": "the database took too long to answer; nothing was stored: retry with "
    "the same msgID",
    "database-unavailable": "the database could not be reached; retry with the same msgID (a "
    "request that was completed is answered from its record)",
}


def as_database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The retryable error an operational database failure means, or None for anything else
    (a constraint violation, a programming error: those stay bugs, with their traceback)."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    code = database_code(exc)
    if code is None:
        return None
    return DatabaseUnavailable(DATABASE_MESSAGES[code], code=code, reason=database_reason(exc))


FAULT_TYPES: tuple[type[GatewayError], ...] = (
    SystemError_,
    BusinessRuleError,
    UnknownMeter,
    BlockedMeter,
    MeterCheckDigit,
    VendorCredit,
    VendAmount,
    FBEError,
    RequestAuthorisation,
    ClientIDAuthorisation,
    ConfirmCustomer,
    Debt,
    ServiceCharge,
    UpdateMeterKeySame,
    StartBatch,
    EndBatch,
    ReprintEndBatch,
    XMLVendError,
    DuplicateMsgID,
    LastResponseError,
    ReversalError,
    ConfirmationError,
    SchemaError,
    UseCaseSupport,
)
