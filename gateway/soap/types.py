"""The spyne models of the gateway's SOAP contract: XMLVend 2.1 in our own namespace.

Why these shapes:

* Every request extends `BaseReq` (clientID, terminalID, msgID, optional authCred) and every
  response extends `BaseResp` (clientID, serverID, terminalID, reqMsgID, respDateTime), as the
  XMLVend 2.0 base schema does.
* Every type is concrete: a stock zeep client (as banks use it) cannot send an element whose
  declared type is abstract. Operations that take the same arguments share one concrete type
  under their own element name (CreditVendReq and TrialCreditVendReq are both `VendReq`).
* The schema does the first line of input checking: meter numbers are 11 or 13 digits, amounts
  positive xs:decimal with at most 2 decimals, msgID dateTime 14 digits, tokens 20 digits. The
  service layer still re-checks what it relies on (money.parse_cents, MsgID).
* Amounts are xs:decimal with 2 decimals (currency units, '100.50'); energy is xs:decimal kWh
  with 1 decimal ('67.3'); both are built from integer cents/tenths with money.format_*.
* Lists are repeated elements (`transactions`, `tokens`, `receipts`, `movements`) without a
  wrapper, so zeep hands them to the caller as plain Python lists.
"""

from __future__ import annotations

from typing import Any

from spyne import (
    Boolean,
    ComplexModel,
    DateTime,
    Decimal,
    Integer,
    Integer64,
    Unicode,
)

TNS = "urn:vendgw:xmlvend:2.1"
"""The target namespace of our WSDL: XMLVend 2.1 message model, owned by this gateway."""

SERVICE_NAME = "VendGateway"

# Values accepted in the enumerations. The service layer decides what it supports; the schema
# only keeps out what no version of the contract will ever mean.
PAY_TYPES = ("cash", "cheque", "creditCard", "debitCard", "unknown")
TRANSACTION_TYPES = ("credit", "fbe", "keychange", "debt", "fixed_charge")
METER_ENG_TYPES = ("KeyChange", "ClearTamper", "ClearCredit", "PowerLimit")
# XMLVend's NonMeterSpecificEng names for the class 1 test and display tokens.
NON_METER_ENG_TYPES = (
    "TestAll",
    "TestBreaker",
    "TestDisp",
    "DispPwrLmt",
    "DispTI",
    "DispKRN",
    "DispTamper",
    "DispInstPwr",
    "DispConsTot",
    "DispUnbalance",
    "DispVer",
)


def _occurs(model: Any, **occurs: Any) -> Any:
    # spyne mints an anonymous subtype ("Parent_fieldType") whenever a restricted type is
    # customized; naming it again keeps one named type in the schema for every use.
    if getattr(model.Attributes, "_explicit_type_name", False):
        occurs.update(type_name=model.get_type_name(), __namespace__=TNS)
    return model.customize(nillable=False, **occurs)


def required(model: Any) -> Any:
    """An element that must be present and not nil."""
    return _occurs(model, min_occurs=1)


def optional(model: Any) -> Any:
    """An element that may be left out (never sent as xsi:nil)."""
    return _occurs(model, min_occurs=0)


def repeated(model: Any) -> Any:
    """Zero or more elements of the same name, without a wrapper element."""
    return _occurs(model, min_occurs=0, max_occurs="unbounded")


# Simple types ------------------------------------------------------------------------------

EAN = Unicode(pattern=r"[0-9]{13}", type_name="EAN", __namespace__=TNS)
TerminalID = Unicode(
    min_len=1, max_len=40, pattern=r"\S+", type_name="TerminalID", __namespace__=TNS
)
MeterNumber = Unicode(pattern=r"[0-9]{11}|[0-9]{13}", type_name="MeterNumber", __namespace__=TNS)
MsgIDDateTime = Unicode(pattern=r"[0-9]{14}", type_name="MsgIDDateTime", __namespace__=TNS)
MsgIDUniqueNumber = Integer64(ge=1, le=10**18 - 1, type_name="MsgIDUniqueNumber", __namespace__=TNS)
Msg = Unicode(max_len=160, type_name="Msg", __namespace__=TNS)
OpName = Unicode(min_len=1, max_len=40, type_name="OpName", __namespace__=TNS)
Password = Unicode(max_len=128, type_name="Password", __namespace__=TNS)
# A tender: positive, at most 2 decimals, at most 12 whole digits (what money.parse_cents takes).
TenderAmount = Decimal(
    gt=0, fraction_digits=2, total_digits=14, type_name="TenderAmount", __namespace__=TNS
)
Money = Decimal(fraction_digits=2, type_name="Money", __namespace__=TNS)
KWh = Decimal(fraction_digits=1, type_name="KWh", __namespace__=TNS)
Token = Unicode(pattern=r"[0-9]{20}", type_name="Token", __namespace__=TNS)
PayType = Unicode(values=PAY_TYPES, type_name="PayType", __namespace__=TNS)
TransactionType = Unicode(values=TRANSACTION_TYPES, type_name="TransactionType", __namespace__=TNS)
MeterEngType = Unicode(values=METER_ENG_TYPES, type_name="MeterEngType", __namespace__=TNS)
NonMeterEngType = Unicode(
    values=NON_METER_ENG_TYPES, type_name="NonMeterEngType", __namespace__=TNS
)
MaxItems = Integer(ge=1, le=100, type_name="MaxItems", __namespace__=TNS)
EngValue = Integer(ge=0, le=999_999_999, type_name="EngValue", __namespace__=TNS)
MfrCode = Integer(ge=0, le=9999, type_name="MfrCode", __namespace__=TNS)


class Model(ComplexModel):  # type: ignore[misc]  # spyne is untyped
    __namespace__ = TNS


# Header ------------------------------------------------------------------------------------


class MsgID(Model):
    """yyyyMMddHHmmss and a positive number; unique per clientID for ever."""

    dateTime = required(MsgIDDateTime)
    uniqueNumber = required(MsgIDUniqueNumber)


class AuthCred(Model):
    """The operator at the terminal; recorded with the request, not a second login."""

    opName = required(OpName)
    password = optional(Password)


class BaseReq(Model):
    clientID = required(EAN)
    terminalID = required(TerminalID)
    msgID = required(MsgID)
    authCred = optional(AuthCred)


class BaseResp(Model):
    clientID = required(EAN)
    serverID = required(Unicode)
    terminalID = required(TerminalID)
    reqMsgID = required(MsgID)
    respDateTime = required(DateTime)
    operatorMsg = optional(Msg)
    custMsg = optional(Msg)


# Requests ----------------------------------------------------------------------------------


class MeterReq(BaseReq):
    """ConfirmCustomerReq, FBEVendReq."""

    meterNumber = required(MeterNumber)


class VendReq(BaseReq):
    """CreditVendReq, TrialCreditVendReq."""

    meterNumber = required(MeterNumber)
    amount = required(TenderAmount)
    payType = required(PayType)


class ReprintReq(BaseReq):
    meterNumber = required(MeterNumber)
    originalMsgID = optional(MsgID)


class AdviceReq(BaseReq):
    """ConfirmationAdviceReq, ReversalAdviceReq, LastResponseAdviceReq."""

    originalMsgID = required(MsgID)


class VendorStatementReq(BaseReq):
    maxItems = optional(MaxItems)


class MeterSpecificEngReq(BaseReq):
    meterNumber = required(MeterNumber)
    engType = required(MeterEngType)
    value = optional(EngValue)


class NonMeterSpecificEngReq(BaseReq):
    engType = required(NonMeterEngType)
    mfrCode = optional(MfrCode)


# Response parts ----------------------------------------------------------------------------


class MeterDetail(Model):
    msno = required(Unicode)
    sgc = required(Unicode)
    krn = required(Integer)
    ti = required(Unicode)
    ea = required(Unicode)
    kt = required(Integer)
    tct = required(Unicode)


class CustomerDetail(Model):
    name = required(Unicode)
    address = required(Unicode)
    accountNo = required(Unicode)
    daysLastPurchase = optional(Integer)


class Transaction(Model):
    """One line of a receipt; credit and fbe lines carry a token, keychange lines two."""

    type = required(TransactionType)
    description = required(Unicode)
    amount = required(Money)
    vat = required(Money)
    units = required(KWh)
    tokens = repeated(Token)


# The fields of a receipt, shared by the vend responses (flat) and Reprint (one per receipt).
RECEIPT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("receiptNo", required(Unicode)),
    ("vendMsgID", required(MsgID)),
    ("issuedAt", required(DateTime)),
    ("meter", required(MeterDetail)),
    ("customerName", required(Unicode)),
    ("accountNo", required(Unicode)),
    ("tenderAmount", required(Money)),
    ("units", required(KWh)),
    ("availCredit", required(Money)),
    ("tariffDescription", required(Unicode)),
    ("reversed", required(Boolean)),
    ("transactions", repeated(Transaction)),
)


class Receipt(Model):
    _type_info = RECEIPT_FIELDS


class Movement(Model):
    at = required(DateTime)
    kind = required(Unicode)
    reference = required(Unicode)
    amount = required(Money)
    balanceAfter = required(Money)


# Responses ---------------------------------------------------------------------------------


class ConfirmCustomerResp(BaseResp):
    customer = required(CustomerDetail)
    meter = required(MeterDetail)
    canVend = required(Boolean)
    fbeDue = required(Boolean)
    minVendAmount = required(Money)
    maxVendAmount = required(Money)
    arrears = required(Money)


class VendResp(BaseResp):
    """CreditVendResp, TrialCreditVendResp, FBEVendResp, LastResponseAdviceResp."""

    _type_info = RECEIPT_FIELDS


class ReprintResp(BaseResp):
    receipts = repeated(Receipt)


class ConfirmationAdviceResp(BaseResp):
    originalMsgID = required(MsgID)
    receiptNo = required(Unicode)
    txConfirmed = required(Boolean)


class ReversalAdviceResp(BaseResp):
    originalMsgID = required(MsgID)
    receiptNo = required(Unicode)
    txReversed = required(Boolean)
    availCredit = optional(Money)


class VendorStatementResp(BaseResp):
    balance = required(Money)
    floor = required(Money)
    availCredit = required(Money)
    movements = repeated(Movement)


class EngResp(BaseResp):
    """MeterSpecificEngResp, NonMeterSpecificEngResp."""

    description = required(Unicode)
    tokens = repeated(Token)
    meter = optional(MeterDetail)
