"""Reading an XMLVend 2.1 request: lenient where real clients deviate, strict about money.

Pure functions over the parsed Body element, no I/O. What is accepted beyond the letter of the
schema, because certified Hexing and Conlog clients send it:

* any prefix style, and children in a namespace other than the one their type declares (a
  default `xmlns=` over everything): children are found by local name among the XMLVend
  namespaces (or none);
* `xsi:type` missing where the declared type is concrete, or where only one subtype fits the
  children (a purchaseValue holding `amt`); values written unprefixed (`type="MeterNumber"`);
* `resource` omitted from vend requests (only electricity is sold here);
* terminalID (and clientID) as EANDeviceID or GenericDeviceID;
* amounts without decimals (`100`) or with trailing zeros (`50.500`);
* uniqueNumber with a leading zero or more than six digits (keyed as a number, echoed as sent);
* the utility's currency in any spelling (`ZAR`, `zar`, `R`).

Refused with XMLVendSchemaEx, because the answer would be a guess: an amount with a fraction of
a cent, a foreign currency, units that are not kWh or finer than 0.1 kWh, and an unknown
element or type where a value is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.errors import SchemaError
from gateway.vend import meters
from gateway.vend.types import MsgID
from gateway.xmlvend.names import XMLVEND_NAMESPACES, XSI_TYPE

# xs:decimal's lexical form: no exponent, no spaces inside.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DIGITS = re.compile(r"\d{1,18}")
MAX_AMOUNT_CENTS = 10**14

# How the currencies the gateway is set up for are written by clients (ISO 4217 code first).
CURRENCY_SPELLINGS: dict[str, frozenset[str]] = {
    "ZAR": frozenset({"ZAR", "R", "ZA"}),
    "NGN": frozenset({"NGN", "N", "₦"}),
    "KES": frozenset({"KES", "KSH", "KSh"}),
    "UGX": frozenset({"UGX", "USH"}),
    "ZMW": frozenset({"ZMW", "K"}),
    "BWP": frozenset({"BWP", "P"}),
    "NAD": frozenset({"NAD", "N$"}),
    "GHS": frozenset({"GHS", "GH₵", "₵"}),
}

PAY_TYPES = {
    "Cash": "cash",
    "Cheque": "cheque",
    "CreditCard": "creditCard",
    "DebitCard": "debitCard",
    "Unknown": "unknown",
}


def local(tag: object) -> str:
    return str(etree.QName(tag).localname) if isinstance(tag, str) else ""


def _ours(element: etree._Element) -> bool:
    namespace = etree.QName(element).namespace
    return namespace is None or namespace in XMLVEND_NAMESPACES


def children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str) and local(c.tag) == name and _ours(c)]


def child(parent: etree._Element, name: str) -> etree._Element:
    """The child `name` a value is needed from: XMLVendSchemaEx when it is missing."""
    found = optional_child(parent, name)
    if found is None:
        raise SchemaError(
            f"{local(parent.tag)} needs a {name} element", code="missing-element", element=name
        )
    return found


def optional_child(parent: etree._Element, name: str) -> etree._Element | None:
    found = children(parent, name)
    return found[0] if found else None


def xsi_type(element: etree._Element) -> str | None:
    """The local part of the element's xsi:type (prefixed or not), or None."""
    value = element.get(XSI_TYPE)
    if value is None:
        return None
    return value.strip().rpartition(":")[2] or None


def attribute(element: etree._Element, name: str) -> str:
    value = element.get(name)
    if value is None or not value.strip():
        raise SchemaError(
            f"{local(element.tag)} needs the attribute {name}", code="missing-attribute"
        )
    return str(value).strip()


def text(element: etree._Element) -> str:
    return (element.text or "").strip()


# The header ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """BaseReq: who the request says it comes from, its msgID and the operator."""

    client_id: str
    terminal_id: str
    msg_id: MsgID
    unique_number_text: str  # as the client wrote it, for the echo
    operator: str


def device_id(element: etree._Element) -> str:
    """An EANDeviceID's @ean or a GenericDeviceID's @id, whichever the client sent."""
    kind = xsi_type(element)
    if kind == "EANDeviceID" or (kind is None and element.get("ean") is not None):
        return attribute(element, "ean")
    if kind in ("GenericDeviceID", None):
        return attribute(element, "id")
    raise SchemaError(f"{local(element.tag)} of unknown type {kind}", code="device-id")


def msg_id(element: etree._Element) -> tuple[MsgID, str]:
    """(MsgID, uniqueNumber as written): leading zeros and long numbers are taken."""
    date_time = attribute(element, "dateTime")
    number = attribute(element, "uniqueNumber").lstrip("+")
    if not _DIGITS.fullmatch(number) or int(number) == 0:
        raise SchemaError("msgID uniqueNumber must be a positive integer", code="msg-id")
    return MsgID(date_time, int(number)), number


def header(request: etree._Element) -> Header:
    msg, written = msg_id(child(request, "msgID"))
    cred = optional_child(request, "authCred")
    op = optional_child(cred, "opName") if cred is not None else None
    operator = text(op)[:100] if op is not None else ""
    return Header(
        client_id=device_id(child(request, "clientID")),
        terminal_id=device_id(child(request, "terminalID")),
        msg_id=msg,
        unique_number_text=written,
        operator=operator,
    )


# Meters and customers -----------------------------------------------------------------------

_METER_IDENTIFIERS = ("MeterNumber", "MeterDetail", "ExtMeterDetail")


def meter_identifier(element: etree._Element) -> str:
    """A meterIdentifier's meter number (MeterNumber, MeterDetail or ExtMeterDetail @msno)."""
    kind = xsi_type(element)
    if kind not in (*_METER_IDENTIFIERS, None):
        raise SchemaError(
            f"meterIdentifier of type {kind} is not supported; send a MeterNumber",
            code="meter-identifier",
        )
    number = attribute(element, "msno")
    return meters.check_meter_number(number, check_digit=False)


def vend_id_method(id_method: etree._Element) -> str:
    """VendIDMethod -> the meter number."""
    return meter_identifier(child(id_method, "meterIdentifier"))


@dataclass(frozen=True)
class IdentifiedBy:
    """An IDMethod: a meter number, or a customer account number."""

    meter_number: str | None = None
    account_no: str | None = None


def id_method(id_method_element: etree._Element) -> IdentifiedBy:
    """An abstract IDMethod: VendIDMethod (a meter) or CustIDMethod (an account number)."""
    kind = xsi_type(id_method_element)
    if kind is None:  # concrete subtypes are told apart by their one child
        if optional_child(id_method_element, "meterIdentifier") is not None:
            kind = "VendIDMethod"
        elif optional_child(id_method_element, "custIdentifier") is not None:
            kind = "CustIDMethod"
        elif id_method_element.get("msno") is not None:
            kind = "MeterNumber"
    if kind == "VendIDMethod":
        return IdentifiedBy(meter_number=vend_id_method(id_method_element))
    if kind in _METER_IDENTIFIERS:  # a MeterConfig written in place of the IDMethod
        return IdentifiedBy(meter_number=meter_identifier(id_method_element))
    if kind == "CustIDMethod":
        customer = child(id_method_element, "custIdentifier")
        cust_kind = xsi_type(customer)
        if cust_kind not in ("CustAccountNo", None):
            raise SchemaError(
                f"custIdentifier of type {cust_kind} is not supported; send a CustAccountNo",
                code="cust-identifier",
            )
        account = attribute(customer, "accNo")
        if len(account) > 20:
            raise SchemaError("accNo is at most 20 characters", code="account-no")
        return IdentifiedBy(account_no=account)
    raise SchemaError(f"idMethod of type {kind} is not supported", code="id-method")


# Money and energy ---------------------------------------------------------------------------


def check_currency(symbol: str | None, currency: str) -> None:
    """The utility's currency in any of its spellings; a foreign one is refused."""
    if symbol is None or not symbol.strip():
        return
    spellings = CURRENCY_SPELLINGS.get(currency.upper(), frozenset({currency.upper()}))
    wanted = {s.upper() for s in spellings} | {currency.upper()}
    if symbol.strip().upper() not in wanted:
        raise SchemaError(
            f"amounts are in {currency}; {symbol.strip()[:10]!r} is another currency",
            code="currency",
        )


def _decimal(raw: str, what: str) -> Decimal:
    raw = raw.strip()
    if not _DECIMAL.fullmatch(raw):
        raise SchemaError(f"{what} {raw[:20]!r} is not a decimal number", code="amount")
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise SchemaError(f"{what} is not a decimal number", code="amount") from None


def cents(element: etree._Element, currency: str, *, allow_zero: bool = False) -> int:
    """A b:Currency element (@value, @symbol) -> cents; a fraction of a cent is refused."""
    check_currency(element.get("symbol"), currency)
    value = _decimal(attribute(element, "value"), "amount")
    scaled = value * 100
    if scaled != scaled.to_integral_value():
        raise SchemaError(
            f"amount {value} has a fraction of a cent", code="amount", value=str(value)
        )
    result = int(scaled)
    if result < 0 or (result == 0 and not allow_zero):
        raise SchemaError("the amount must be more than zero", code="amount")
    if result >= MAX_AMOUNT_CENTS:
        raise SchemaError("the amount is too large", code="amount")
    return result


def units_tenths(element: etree._Element) -> int:
    """A b:Units element in kWh -> tenths of a kWh (the STS resolution)."""
    unit = (element.get("siUnit") or "kWh").strip()
    if unit.lower() != "kwh":
        raise SchemaError(f"units are sold in kWh, not {unit[:8]!r}", code="units")
    value = _decimal(attribute(element, "value"), "units")
    scaled = value * 10
    if scaled != scaled.to_integral_value() or scaled <= 0 or scaled >= 10**9:
        raise SchemaError(f"units {value} must be positive and in steps of 0.1 kWh", code="units")
    return int(scaled)


@dataclass(frozen=True)
class PurchaseValue:
    """What a vend buys: an amount of money or an amount of energy."""

    cents: int | None = None
    units_tenths: int | None = None


def purchase_value(element: etree._Element, currency: str) -> PurchaseValue:
    kind = xsi_type(element)
    if kind is None:
        if optional_child(element, "amt") is not None:
            kind = "PurchaseValueCurrency"
        elif optional_child(element, "units") is not None:
            kind = "PurchaseValueUnits"
    if kind == "PurchaseValueCurrency":
        return PurchaseValue(cents=cents(child(element, "amt"), currency))
    if kind == "PurchaseValueUnits":
        return PurchaseValue(units_tenths=units_tenths(child(element, "units")))
    raise SchemaError(
        f"purchaseValue of type {kind} is not understood: PurchaseValueCurrency or "
        "PurchaseValueUnits",
        code="purchase-value",
    )


def pay_type(element: etree._Element | None, currency: str) -> str:
    """The gateway's pay type name; a Cash tender's amount is checked like any amount."""
    if element is None:
        return "unknown"
    kind = xsi_type(element)
    if kind is None:
        kind = "Cash" if optional_child(element, "tenderAmt") is not None else "Unknown"
    if kind not in PAY_TYPES:
        raise SchemaError(f"payType of type {kind} is not understood", code="pay-type")
    tender = optional_child(element, "tenderAmt")
    if tender is not None:
        cents(tender, currency)
    return PAY_TYPES[kind]


def resource(request: etree._Element) -> None:
    """Only electricity is sold: an omitted resource means it, another one is refused."""
    found = optional_child(request, "resource")
    if found is None:
        return
    kind = xsi_type(found)
    if kind not in ("Electricity", None):
        raise SchemaError(f"only electricity is sold here, not {kind}", code="resource")


# Engineering --------------------------------------------------------------------------------


def power_limit_watts(element: etree._Element) -> int:
    """A b:PwrLmt (@value @siUnit, kW or W) -> watts."""
    unit = (element.get("siUnit") or "kW").strip().lower()
    value = _decimal(attribute(element, "value"), "pwrLmt")
    factor = {"kw": 1000, "w": 1}.get(unit)
    if factor is None:
        raise SchemaError(f"pwrLmt is in kW or W, not {unit[:8]!r}", code="power-limit")
    watts = value * factor
    if watts != watts.to_integral_value() or watts <= 0:
        raise SchemaError("pwrLmt must be a positive whole number of watts", code="power-limit")
    return int(watts)


def manufacturer_code(request: etree._Element) -> int | None:
    """nonMeterSpecificEngReq/meterType@... carries no maker; an @mfrCode extension may."""
    found = optional_child(request, "meterType")
    raw = found.get("mfrCode") if found is not None else None
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise SchemaError("mfrCode must be digits", code="mfr-code")
    return int(raw)
