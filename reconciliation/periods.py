"""Business days and months: which instants a reconciliation period covers.

A vendor's nightly file is about a business day in the utility's timezone, not a UTC day, and the
day ends at the configured cut-off (``settings.reconciliation.cutoff``, local time). The rule:

* business day D **ends at the first cut-off after noon of D**: ``00:00`` ends D at the midnight
  that closes it (the calendar day); ``22:00`` ends D at 22:00 on D (later sales belong to D+1);
  ``02:00`` ends D at 02:00 on D+1 (a late night still counts as D). D starts where D-1 ends.
* a business month is its first business day's start to its last business day's end.

Every window is half open, ``[start, end)``, in UTC: a sale at 23:59:59 belongs to D and one at
00:00:00 (cut-off 00:00) to D+1. ``zoneinfo`` resolves the wall times, so a daylight-saving zone
gets 23- or 25-hour days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reconciliation.exceptions import InvalidInput, InvalidPeriod

__all__ = ["DAILY", "MONTHLY", "Calendar", "Period", "Window", "parse_period"]

DAILY = "daily"
MONTHLY = "monthly"
_NOON = time(12, 0)
_DAY = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_MONTH = re.compile(r"(\d{4})-?(\d{2})")


@dataclass(frozen=True, order=True)
class Period:
    """A business day or month, named by its label (2026-11-20 or 2026-11)."""

    kind: str
    first: date
    last: date

    @classmethod
    def day(cls, on: date) -> Period:
        return cls(DAILY, on, on)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(MONTHLY, first, following - timedelta(days=1))

    @property
    def label(self) -> str:
        return self.first.isoformat() if self.kind == DAILY else self.first.strftime("%Y-%m")

    @property
    def compact(self) -> str:
        """The form vendor file names use: 20261120 or 202611."""
        return self.label.replace("-", "")

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def __str__(self) -> str:
        return self.label


def parse_period(text: str, kind: str | None = None) -> Period:
    """YYYYMMDD / YYYY-MM-DD is a day, YYYYMM / YYYY-MM a month (``kind`` may insist on one)."""
    text = text.strip()
    try:
        if kind in (None, DAILY) and (m := _DAY.fullmatch(text)):
            return Period.day(date(int(m[1]), int(m[2]), int(m[3])))
        if kind in (None, MONTHLY) and (m := _MONTH.fullmatch(text)):
            return Period.month(int(m[1]), int(m[2]))
    except ValueError:
        pass
    raise InvalidPeriod(text)


@dataclass(frozen=True)
class Window:
    """The UTC instants of a period: ``start <= t < end``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Calendar:
    """The utility's business calendar: its timezone and the local time a business day ends."""

    zone: ZoneInfo
    cutoff: time

    @classmethod
    def from_settings(cls, timezone: str, cutoff: str) -> Calendar:
        try:
            parsed = time.fromisoformat(cutoff)
        except ValueError:
            raise InvalidInput(
                f"the cut-off {cutoff!r} is not a local time HH:MM",
                field="reconciliation.cutoff",
                value=cutoff,
            ) from None
        return cls(ZoneInfo(timezone), parsed.replace(tzinfo=None))

    def day_end(self, day: date) -> datetime:
        """The UTC instant business day ``day`` ends (exclusive)."""
        end_date = day if self.cutoff >= _NOON else day + timedelta(days=1)
        return datetime.combine(end_date, self.cutoff, tzinfo=self.zone).astimezone(UTC)

    def window(self, period: Period) -> Window:
        return Window(self.day_end(period.first - timedelta(days=1)), self.day_end(period.last))

    def business_day(self, at: datetime) -> date:
        """The business day an aware instant belongs to."""
        local = at.astimezone(self.zone)
        day = local.date()
        if self.cutoff >= _NOON:
            return day + timedelta(days=1) if local.time() >= self.cutoff else day
        return day - timedelta(days=1) if local.time() < self.cutoff else day

    def last_closed_day(self, now: datetime) -> date:
        """The latest business day that has ended by ``now``: what the nightly run defaults to."""
        return self.business_day(now) - timedelta(days=1)
