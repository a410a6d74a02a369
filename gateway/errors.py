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
    │   └── ClientIDAuthorisation  ClientIDAuthorisationEx
    └── XMLVendError               -> Client.<subtype>
        ├── DuplicateMsgID         DuplicateMsgIDEx
        ├── LastResponseError      LastResponseEx
        ├── ReversalError          ReversalEx
        ├── ConfirmationError      ConfirmationEx
        ├── SchemaError            XMLVendSchemaEx
        └── UseCaseSupport         UseCaseSupportEx

The SOAP layer turns these into faults in exactly one function; nothing else knows about SOAP.
Every error carries a stable `code` for client code to branch on and a human `message`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from core.db import database_code, database_reason


class GatewayError(Exception):
    fault_type: ClassVar[str] = "SystemEx"
    client_fault: ClassVar[bool] = True
    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.detail = detail


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
    SystemError_, BusinessRuleError, UnknownMeter, BlockedMeter, MeterCheckDigit, VendorCredit,
    VendAmount, FBEError, RequestAuthorisation, ClientIDAuthorisation, XMLVendError,
    DuplicateMsgID, LastResponseError, ReversalError, ConfirmationError, SchemaError,
    UseCaseSupport,
)
