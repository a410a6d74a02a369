"""The utility's calendar: business days (daily caps, statements) are local days, not UTC days.

Functions take an optional timezone name so the CLI and tests can pass their own settings; without
one they use the process settings (``settings.utility.timezone``), as the SOAP process does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.settings import get_settings

__all__ = ["day_bounds_utc", "local_day", "utility_zone"]


def utility_zone(timezone: str | None = None) -> ZoneInfo:
    return ZoneInfo(timezone or get_settings().utility.timezone)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The utility-local calendar day of an aware instant."""
    return at.astimezone(zone).date()


def day_bounds_utc(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of `first`, start of the day after `last`) in local time, as UTC instants."""
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
