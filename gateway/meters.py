"""Finding a meter for a request and describing its keys to the security module.

The number is checked (digits, length, Luhn check digit) before any lookup, so a mistyped number
costs no database work and gets MSNOCheckDigitEx rather than UnknownMeterEx.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gateway import errors
from gateway.models import Meter, SupplyGroup, VendingKey
from gateway.vend_types import MeterDetail
from sts import MeterKeyData, StsError, validate_drn


def check_meter_number(meter_number: str) -> str:
    """The number itself: 11 or 13 ASCII digits with a valid check digit."""
    if not (meter_number.isascii() and meter_number.isdigit() and len(meter_number) in (11, 13)):
        raise errors.SchemaError("meterNumber must be 11 or 13 digits", code="meter-number",
                                 value=meter_number[:20])
    try:
        validate_drn(meter_number)
    except StsError as exc:
        raise errors.MeterCheckDigit(f"meter number {meter_number} has a wrong check digit",
                                     detail=str(exc)) from None
    return meter_number


def find_meter(session: Session, meter_number: str, *, lock: bool = False) -> Meter:
    """The registered meter with its supply group, tariff and customer; UnknownMeterEx if none."""
    check_meter_number(meter_number)
    query = (
        select(Meter)
        .where(Meter.meter_number == meter_number)
        .options(joinedload(Meter.supply_group), joinedload(Meter.customer),
                 joinedload(Meter.tariff), joinedload(Meter.pending_supply_group))
    )
    meter = session.scalar(query)
    if meter is None:
        raise errors.UnknownMeter(f"meter {meter_number} is not registered with this utility")
    return meter


def require_active(meter: Meter) -> None:
    if meter.status != "active":
        raise errors.BlockedMeter(f"meter {meter.meter_number} is blocked; refer the customer "
                                  "to the utility")


def meter_detail(meter: Meter) -> MeterDetail:
    return MeterDetail(meter_number=meter.meter_number, sgc=meter.supply_group.sgc,
                       krn=meter.krn, ti=meter.ti, ea=meter.ea, kt=meter.kt, tct=meter.tct)


@dataclass(frozen=True)
class MeterKeys:
    """Everything the security module needs to issue tokens under one set of key data."""

    key_data: MeterKeyData
    wrapped_key: bytes
    key_id: str


def _keys(session: Session, meter: Meter, group: SupplyGroup, krn: int, ti: str, kt: int,
          base_date: int) -> MeterKeys:
    wrapped = session.scalar(
        select(VendingKey.wrapped_key).where(VendingKey.supply_group_id == group.id,
                                             VendingKey.krn == krn)
    )
    if wrapped is None:
        raise errors.SystemError_("no vending key for the meter's supply group and KRN",
                                  code="missing-vending-key")
    data = MeterKeyData(iin=meter.iin, drn=meter.meter_number, sgc=group.sgc, ti=ti, krn=krn,
                        kt=kt, ea=meter.ea,
                        base_date=base_date, dkga=group.dkga, ken=group.ken)
    return MeterKeys(data, bytes(wrapped), f"{group.sgc}/{krn}")


def current_keys(session: Session, meter: Meter) -> MeterKeys:
    return _keys(session, meter, meter.supply_group, meter.krn, meter.ti, meter.kt,
                 meter.base_date)


def pending_keys(session: Session, meter: Meter) -> MeterKeys | None:
    """The key data the meter moves to with its pending key change, if it has one."""
    if not meter.has_pending_key_change:
        return None
    group = meter.pending_supply_group or meter.supply_group
    return _keys(session, meter, group, meter.pending_krn or meter.krn,
                 meter.pending_ti or meter.ti, meter.kt if meter.pending_kt is None
                 else meter.pending_kt, meter.pending_base_date or meter.base_date)


def apply_key_change(meter: Meter, new: MeterKeys, group: SupplyGroup) -> None:
    """Record that the meter now holds the new key data (its key-change tokens were issued)."""
    meter.supply_group = group
    meter.krn = new.key_data.krn
    meter.ti = new.key_data.ti
    meter.kt = new.key_data.kt
    meter.base_date = new.key_data.base_date
    meter.pending_sgc_id = None
    meter.pending_krn = None
    meter.pending_ti = None
    meter.pending_kt = None
    meter.pending_base_date = None
