"""Which vendors' floats the dashboard calls low.

Until each vendor has an alert level of its own, a float is low when its balance is below the
vendor's low-float threshold or at or below zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_accounts import list_vendors


@dataclass(frozen=True)
class LowFloat:
    client_id: str
    name: str
    balance_cents: int
    level_cents: int


def low_floats(db: Session) -> list[LowFloat]:
    from vendor_accounts.models import FloatAccount

    thresholds = dict(
        db.execute(select(FloatAccount.vendor_id, FloatAccount.low_float_threshold_cents)).all()
    )
    found = []
    for vendor in list_vendors(db):
        level = max(int(thresholds.get(vendor.vendor_id, 0)), 0)
        if vendor.balance_cents < level or vendor.balance_cents <= 0:
            found.append(LowFloat(vendor.client_id, vendor.name, vendor.balance_cents, level))
    return found
