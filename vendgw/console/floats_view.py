"""Which vendors' floats the dashboard calls low: those below the alert level finance set for
them (vendor_accounts.alerts, the same rule `vendgw float alerts` mails about)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from vendor_accounts.alerts import LowFloat, below_alert_level

__all__ = ["LowFloat", "low_floats"]


def low_floats(db: Session) -> list[LowFloat]:
    return below_alert_level(db)
