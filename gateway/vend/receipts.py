"""Receipts to and from the JSON stored with each request, so a retry, a last-response advice
or a reprint answers with exactly what was first sent.

Two keys came later: `customer_address` (the customer's address at the vend) and `key_change`
(the key data a key change moved the meter from and to; null without one). A receipt stored
before them reads with an empty address and no key_change: for such an old row the writers show
what it knows, which for a key change is the meter after the change as both from and to. Every
receipt stored since has both keys, so from-values equal to the to-values mean an old row (or a
change of KT or base date alone), never a lost from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.vend.types import KeyChangeData, MeterDetail, MsgID, ReceiptLine, VendReceipt


def receipt_to_json(receipt: VendReceipt) -> dict[str, Any]:
    return {
        "receipt_no": receipt.receipt_no,
        "msg_id": [receipt.msg_id.date_time, receipt.msg_id.unique_number],
        "meter": {
            "meter_number": receipt.meter.meter_number,
            "sgc": receipt.meter.sgc,
            "krn": receipt.meter.krn,
            "ti": receipt.meter.ti,
            "ea": receipt.meter.ea,
            "kt": receipt.meter.kt,
            "tct": receipt.meter.tct,
        },
        "customer_name": receipt.customer_name,
        "customer_address": receipt.customer_address,
        "account_no": receipt.account_no,
        "tender_cents": receipt.tender_cents,
        "units_tenths": receipt.units_tenths,
        "avail_credit_cents": receipt.avail_credit_cents,
        "tariff_description": receipt.tariff_description,
        "issued_at": receipt.issued_at.isoformat(),
        "key_change": _key_change_to_json(receipt.key_change),
        "lines": [
            {
                "type": line.type,
                "description": line.description,
                "amount_cents": line.amount_cents,
                "vat_cents": line.vat_cents,
                "units_tenths": line.units_tenths,
                "tokens": list(line.tokens),
            }
            for line in receipt.lines
        ],
    }


def _key_change_to_json(change: KeyChangeData | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "from": {
            "sgc": change.from_sgc,
            "krn": change.from_krn,
            "ti": change.from_ti,
            "kt": change.from_kt,
        },
        "to": {"sgc": change.to_sgc, "krn": change.to_krn, "ti": change.to_ti, "kt": change.to_kt},
    }


def _key_change_from_json(data: dict[str, Any] | None) -> KeyChangeData | None:
    if data is None:
        return None
    old, new = data["from"], data["to"]
    return KeyChangeData(
        from_sgc=old["sgc"],
        from_krn=int(old["krn"]),
        from_ti=old["ti"],
        from_kt=int(old["kt"]),
        to_sgc=new["sgc"],
        to_krn=int(new["krn"]),
        to_ti=new["ti"],
        to_kt=int(new["kt"]),
    )


def receipt_units(lines: tuple[ReceiptLine, ...]) -> int:
    """The energy a receipt shows as its `units`, in 0.1 kWh: the credit it sold; for a receipt
    of free basic electricity alone (an FBE vend), the free units its token carries. (On a
    credit vend that also issues free units, those stay on their own fbe line.)"""
    credit = [line.units_tenths for line in lines if line.type == "credit"]
    if credit:
        return sum(credit)
    return sum(line.units_tenths for line in lines if line.type == "fbe")


def receipt_from_json(data: dict[str, Any], *, reversed_: bool = False) -> VendReceipt:
    lines = tuple(
        ReceiptLine(
            type=line["type"],
            description=line["description"],
            amount_cents=line["amount_cents"],
            vat_cents=line["vat_cents"],
            units_tenths=line["units_tenths"],
            tokens=tuple(line["tokens"]),
        )
        for line in data["lines"]
    )
    return VendReceipt(
        receipt_no=data["receipt_no"],
        msg_id=MsgID(data["msg_id"][0], int(data["msg_id"][1])),
        meter=MeterDetail(**data["meter"]),
        customer_name=data["customer_name"],
        account_no=data["account_no"],
        tender_cents=data["tender_cents"],
        # Recomputed from the lines, not read: FBE receipts stored before receipt_units was
        # used stored 0 here, and a retry, reprint or last-response advice of one must show its
        # token's units too. For every other receipt it is the figure that was stored.
        units_tenths=receipt_units(lines),
        avail_credit_cents=data["avail_credit_cents"],
        tariff_description=data["tariff_description"],
        issued_at=datetime.fromisoformat(data["issued_at"]),
        lines=lines,
        reversed=reversed_,
        # Absent from receipts stored before they were kept (see the module's docstring).
        customer_address=data.get("customer_address", ""),
        key_change=_key_change_from_json(data.get("key_change")),
    )
