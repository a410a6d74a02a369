"""Writing XMLVend 2.1 responses: each element in the order its schema type lists it, in the
namespace of the type that declares it, with xsi:type on every element whose declared type is
abstract (and on the concrete ones real servers type anyway: creditTokenIssue, lastResponse,
reprint).

Pure functions: gateway.vend values in, lxml elements out. Money is written from integer cents
and energy from tenths of a kWh through core.money, so no float ever reaches the wire.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from lxml import etree

from core import money
from gateway.vend.types import MeterDetail, MsgID, ReceiptLine, VendReceipt
from gateway.xmlvend.names import BASE, METER, NSMAP, REVENUE, SOAP11_ENV, XSI_TYPE, b, r
from gateway.xmlvend.names import type_name as tn

_EAN = re.compile(r"\d{13}")
_DIGITS = re.compile(r"\d")
_OUTSTANDING = re.compile(r"(-?\d+\.\d{2}) outstanding")
MSG_MAX = 160


@dataclass(frozen=True)
class Utility:
    """What every vend response says about the utility and how it writes money."""

    name: str
    address: str
    tax_ref: str
    currency: str
    vat_rate_bp: int
    server_id: str


@dataclass(frozen=True)
class Echo:
    """The request's identifiers every response repeats."""

    client_id: str
    terminal_id: str
    msg_id: MsgID
    unique_number_text: str
    at: datetime


@dataclass(frozen=True)
class Batches:
    """BatchStatus: whether the terminal has a banking, sales and shift batch open."""

    banking: bool = False
    sales: bool = False
    shift: bool = False


@dataclass(frozen=True)
class Vendor:
    name: str
    address: str = ""


@dataclass(frozen=True)
class Customer:
    name: str
    address: str = ""
    account_no: str = ""
    days_last_purchase: int | None = None


def _clip(value: str, limit: int = MSG_MAX) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3] + "..."


def person_name(value: str) -> str:
    """PersonName is 1-40 characters without digits; customer names are printed as they fit."""
    cleaned = " ".join(_DIGITS.sub("", value).split())[:40].strip()
    return cleaned or "Customer"


def sub(
    parent: etree._Element,
    tag: str,
    attrs: dict[str, str] | None = None,
    *,
    text: str | None = None,
    xsi: str | None = None,
) -> etree._Element:
    """A child element; `xsi` is its xsi:type (a name NSMAP's prefixes resolve)."""
    element = etree.SubElement(parent, tag)
    if xsi is not None:
        element.set(XSI_TYPE, xsi)
    for key, value in (attrs or {}).items():
        element.set(key, value)
    if text is not None:
        element.text = text
    return element


def root(tag: str, xsi: str | None = None, attrs: dict[str, str] | None = None) -> etree._Element:
    element = etree.Element(tag, nsmap=NSMAP)
    if xsi is not None:
        element.set(XSI_TYPE, xsi)
    for key, value in (attrs or {}).items():
        element.set(key, value)
    return element


def envelope(body_element: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV})
    etree.SubElement(env, f"{{{SOAP11_ENV}}}Body").append(body_element)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Simple values ------------------------------------------------------------------------------


def device_id(parent: etree._Element, tag: str, value: str) -> None:
    if _EAN.fullmatch(value):
        sub(parent, b(tag), {"ean": value}, xsi=tn(BASE, "EANDeviceID"))
    else:
        sub(parent, b(tag), {"id": _clip(value)}, xsi=tn(BASE, "GenericDeviceID"))


def currency(parent: etree._Element, tag: str, cents: int, utility: Utility) -> None:
    sub(parent, tag, {"value": money.format_cents(cents), "symbol": utility.currency[:3]})


def units(parent: etree._Element, tenths: int) -> None:
    sub(parent, b("units"), {"value": money.format_tenths(tenths), "siUnit": "kWh"})


def vat_rate(utility: Utility) -> str:
    """The rate in percent (Percentage 0..100), from basis points: 1500 -> '15'."""
    whole, frac = divmod(utility.vat_rate_bp, 100)
    return str(whole) if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


def meter_detail(parent: etree._Element, tag: str, meter: MeterDetail) -> None:
    detail = sub(
        parent,
        tag,
        {
            "msno": meter.meter_number,
            "sgc": meter.sgc,
            "krn": str(meter.krn)[-1:],
            "ti": meter.ti.zfill(2)[-2:],
        },
    )
    meter_type(detail, b("meterType"), meter)


def meter_type(parent: etree._Element, tag: str, meter: MeterDetail | None) -> None:
    at = meter.ea if meter is not None else "07"
    tt = meter.tct if meter is not None else "02"
    sub(parent, tag, {"at": at.zfill(2)[-2:], "tt": tt.zfill(2)[-2:]})


def sts_token(parent: etree._Element, tag: str, number: str) -> None:
    token = sub(parent, tag, xsi=tn(BASE, "STS1Token"))
    sub(token, b("stsCipher"), text=number)


# Headers ------------------------------------------------------------------------------------


def base_resp(
    element: etree._Element,
    echo: Echo,
    utility: Utility,
    disp_header: str,
    operator_msg: str | None = None,
    cust_msg: str | None = None,
) -> None:
    """BaseResp's fields, in order, on `element`."""
    device_id(element, "clientID", echo.client_id)
    device_id(element, "serverID", utility.server_id)
    device_id(element, "terminalID", echo.terminal_id)
    sub(
        element,
        b("reqMsgID"),
        {"dateTime": echo.msg_id.date_time, "uniqueNumber": echo.unique_number_text},
    )
    sub(element, b("respDateTime"), text=timestamp(echo.at))
    sub(element, b("dispHeader"), text=_clip(disp_header))
    if operator_msg:
        sub(element, b("operatorMsg"), text=_clip(operator_msg))
    if cust_msg:
        sub(element, b("custMsg"), text=_clip(cust_msg))


def vend_resp_fields(
    element: etree._Element,
    utility: Utility,
    avail_cents: int,
    batches: Batches,
    vendor: Vendor | None,
    customer: Customer | None,
) -> None:
    """BaseVendResp's fields after BaseResp: clientStatus, utility, vendor?, custVendDetail?."""
    status = sub(element, b("clientStatus"))
    currency(status, b("availCredit"), avail_cents, utility)
    sub(
        status,
        b("batchStatus"),
        {
            "banking": "open" if batches.banking else "closed",
            "sales": "open" if batches.sales else "closed",
            "shift": "open" if batches.shift else "closed",
        },
    )
    sub(
        element,
        b("utility"),
        {
            "name": _clip(utility.name, 80),
            "address": _clip(utility.address, 80),
            "taxRef": utility.tax_ref,
        },
    )
    if vendor is not None:
        sub(element, b("vendor"), {"name": _clip(vendor.name, 80), "address": vendor.address})
    if customer is not None:
        cust_detail(element, b("custVendDetail"), customer)


def cust_detail(parent: etree._Element, tag: str, customer: Customer) -> None:
    attrs = {"name": person_name(customer.name), "address": _clip(customer.address, 80)}
    if customer.account_no and len(customer.account_no) <= 20 and " " not in customer.account_no:
        attrs["accNo"] = customer.account_no
    if customer.days_last_purchase is not None:
        attrs["daysLastPurchase"] = str(customer.days_last_purchase)
    sub(parent, tag, attrs)


# Receipts -----------------------------------------------------------------------------------


def _tariff(receipt: VendReceipt) -> tuple[str, str]:
    name, _, steps = receipt.tariff_description.partition(":")
    return _clip(name.strip() or "Tariff"), _clip(steps.strip())


def _vat(parent: etree._Element, cents: int, utility: Utility, tag: str = "tax") -> None:
    tax = sub(parent, r(tag), {"rate": vat_rate(utility)}, xsi=tn(BASE, "VAT"))
    currency(tax, b("amt"), cents, utility)


def _token_issue(
    parent: etree._Element,
    tag: str,
    kind: str,
    description: str,
    meter: MeterDetail,
    token: str,
    tenths: int,
) -> None:
    issue = sub(parent, tag, xsi=tn(BASE, kind))
    sub(issue, b("desc"), text=_clip(description))
    meter_detail(issue, b("meterDetail"), meter)
    sts_token(issue, b("token"), token)
    units(issue, tenths)
    sub(issue, b("resource"), xsi=tn(BASE, "Electricity"))


def key_change_issue(
    parent: etree._Element,
    tag: str,
    description: str,
    meter: MeterDetail,
    tokens: Sequence[str],
    before: MeterDetail | None = None,
    after: MeterDetail | None = None,
) -> None:
    """A KCTokenIssue: the two set-meter-key tokens and the key data they move the meter from
    (`before`, when known) to (`after`, when known; else `meter`)."""
    issue = sub(parent, tag)
    sub(issue, b("desc"), text=_clip(description))
    meter_detail(issue, b("meterDetail"), meter)
    token = sub(issue, b("token"), xsi=tn(BASE, "KCToken"))
    first = sub(token, b("set1stMeterKey"))
    sub(first, b("stsCipher"), text=tokens[0])
    second = sub(token, b("set2ndMeterKey"))
    sub(second, b("stsCipher"), text=tokens[1] if len(tokens) > 1 else tokens[0])
    origin = before or meter
    target = after or meter
    sub(
        issue,
        b("kctData"),
        {
            "fromSGC": origin.sgc,
            "fromKRN": str(origin.krn)[-1:],
            "fromTI": origin.ti.zfill(2)[-2:],
            "toSGC": target.sgc,
            "toKRN": str(target.krn)[-1:],
            "toTI": target.ti.zfill(2)[-2:],
        },
    )


def _key_change_ends(receipt: VendReceipt) -> tuple[MeterDetail | None, MeterDetail | None]:
    """The meter as the receipt's key change found it and as it left it; (None, None) for a
    receipt stored before the key data was kept (gateway/vend/receipts.py), whose kctData then
    shows the meter it knows (after the change) at both ends."""
    change = receipt.key_change
    if change is None:
        return None, None
    m = receipt.meter
    return (
        replace(m, sgc=change.from_sgc, krn=change.from_krn, ti=change.from_ti, kt=change.from_kt),
        replace(m, sgc=change.to_sgc, krn=change.to_krn, ti=change.to_ti, kt=change.to_kt),
    )


def _credit_tx(
    transactions: etree._Element,
    receipt: VendReceipt,
    line: ReceiptLine,
    kind: str,
    key_change: ReceiptLine | None,
    utility: Utility,
) -> None:
    tx = sub(
        transactions, r("tx"), {"receiptNo": receipt.receipt_no}, xsi=tn(REVENUE, "CreditVendTx")
    )
    # tx/amt excludes the tax beside it (amt + tax = what the line cost, as XMLVend servers
    # print it); the gateway's receipt lines include their VAT.
    currency(tx, r("amt"), line.amount_cents - line.vat_cents, utility)
    if line.amount_cents or line.vat_cents:
        _vat(tx, line.vat_cents, utility)
    _token_issue(
        tx,
        r("creditTokenIssue"),
        kind,
        line.description,
        receipt.meter,
        line.tokens[0] if line.tokens else "0" * 20,
        line.units_tenths,
    )
    if key_change is not None and key_change.tokens:
        key_change_issue(
            tx,
            r("kcTokenIssue"),
            key_change.description,
            receipt.meter,
            key_change.tokens,
            *_key_change_ends(receipt),
        )
    if kind == "SaleCredTokenIssue" and receipt.tariff_description:
        name, steps = _tariff(receipt)
        tariff = sub(tx, r("tariff"))
        sub(tariff, b("name"), text=name)
        if steps:
            sub(tariff, b("desc"), text=steps)


def _account_tx(
    transactions: etree._Element,
    receipt: VendReceipt,
    line: ReceiptLine,
    utility: Utility,
) -> None:
    debt = line.type == "debt"
    kind = "DebtRecoveryTx" if debt else "ServiceChrgTx"
    tx = sub(transactions, r("tx"), {"receiptNo": receipt.receipt_no}, xsi=tn(REVENUE, kind))
    currency(tx, r("amt"), line.amount_cents - line.vat_cents, utility)
    if line.vat_cents:
        _vat(tx, line.vat_cents, utility)
    sub(tx, r("accDesc"), text=_clip(line.description))
    if receipt.account_no and len(receipt.account_no) <= 20:
        sub(tx, r("accNo"), text=receipt.account_no)
    if debt:
        remaining = _OUTSTANDING.search(line.description)
        if remaining is not None:
            currency(tx, r("balance"), money.parse_cents(remaining[1]), utility)


def receipt_transactions(parent: etree._Element, receipt: VendReceipt, utility: Utility) -> None:
    """r:transactions of a credit vend receipt: the sale (with the key change inside it), then
    free basic electricity, recovered debt and the fixed charge, then tender and change."""
    transactions = sub(parent, r("transactions"))
    key_change = next((x for x in receipt.lines if x.type == "keychange"), None)
    credits = [x for x in receipt.lines if x.type == "credit"]
    fbes = [x for x in receipt.lines if x.type == "fbe"]
    for index, line in enumerate(credits):
        _credit_tx(
            transactions,
            receipt,
            line,
            "SaleCredTokenIssue",
            key_change if index == 0 else None,
            utility,
        )
    for index, line in enumerate(fbes):
        _credit_tx(
            transactions,
            receipt,
            line,
            "FBECredTokenIssue",
            key_change if not credits and index == 0 else None,
            utility,
        )
    for line in receipt.lines:
        if line.type in ("debt", "fixed_charge"):
            _account_tx(transactions, receipt, line, utility)
    currency(transactions, r("tenderAmt"), receipt.tender_cents, utility)
    currency(transactions, r("change"), 0, utility)


def credit_vend_resp(
    element: etree._Element,
    echo: Echo,
    utility: Utility,
    receipt: VendReceipt,
    batches: Batches,
    vendor: Vendor | None,
    disp_header: str,
) -> etree._Element:
    """A CreditVendResp's content (or a subtype's: trial, FBE) on `element`."""
    operator_msg = "This transaction was reversed" if receipt.reversed else None
    base_resp(element, echo, utility, disp_header, operator_msg)
    vend_resp_fields(
        element,
        utility,
        receipt.avail_credit_cents,
        batches,
        vendor,
        Customer(receipt.customer_name, receipt.customer_address, receipt.account_no),
    )
    holder = sub(element, r("creditVendReceipt"), {"receiptNo": receipt.receipt_no})
    receipt_transactions(holder, receipt, utility)
    return element


def stored_echo(receipt: VendReceipt, client_id: str, terminal_id: str) -> Echo:
    """The identifiers of the original response a reprint or a last response repeats."""
    return Echo(
        client_id,
        terminal_id,
        receipt.msg_id,
        str(receipt.msg_id.unique_number),
        receipt.issued_at,
    )


def nested_credit_vend_resp(
    parent: etree._Element,
    tag: str,
    receipts: Iterable[VendReceipt],
    client_id: str,
    terminal_id: str,
    utility: Utility,
    batches: Batches,
    vendor: Vendor | None,
    disp_header: str = "CREDIT VEND - TAX INVOICE",
) -> None:
    """Stored vends inside another response, each typed r:CreditVendResp (lastResponse,
    reprint): their own reqMsgID, respDateTime, receipt and tokens."""
    for receipt in receipts:
        element = sub(parent, tag, xsi=tn(REVENUE, "CreditVendResp"))
        credit_vend_resp(
            element,
            stored_echo(receipt, client_id, terminal_id),
            utility,
            receipt,
            batches,
            vendor,
            disp_header,
        )


__all__ = [
    "METER",
    "Batches",
    "Customer",
    "Echo",
    "Utility",
    "Vendor",
    "base_resp",
    "credit_vend_resp",
    "envelope",
    "nested_credit_vend_resp",
    "root",
    "sub",
    "vend_resp_fields",
]
