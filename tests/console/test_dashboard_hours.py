"""The dashboard's vends per hour, bucketed by the database in the utility's local hours: the
local hours' boundaries (DST days, half-hour offsets) against the plain per-row answer."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.localtime import day_bounds_utc
from gateway.vend.activity import local_hour_spans


@pytest.mark.parametrize(
    ("zone", "day", "spans"),
    [
        ("Africa/Johannesburg", date(2026, 12, 1), 24),
        ("Europe/Paris", date(2026, 3, 29), 23),  # spring forward: no 02:00 hour
        ("Europe/Paris", date(2026, 10, 25), 24),  # fall back: 02:00 twice, one span of 2 h
        ("Asia/Kolkata", date(2026, 12, 1), 24),  # +05:30: hours begin at :30 UTC
    ],
)
def test_local_hour_spans_name_each_instants_local_hour(zone: str, day: date, spans: int) -> None:
    tz = ZoneInfo(zone)
    start, end = day_bounds_utc(day, day, tz)
    found = local_hour_spans(start, end, tz)
    assert len(found) == spans and found[0] == (start, 0)
    # every minute of the day falls in the span whose local hour is its own
    at = start
    while at < end:
        span = max(i for i, (begins, _h) in enumerate(found) if begins <= at)
        assert found[span][1] == at.astimezone(tz).hour, at
        at += timedelta(minutes=7)


def test_a_window_not_on_an_hour_starts_with_its_own_hour() -> None:
    tz = ZoneInfo("Africa/Johannesburg")
    start = datetime(2026, 12, 1, 8, 41, 13, tzinfo=UTC)
    found = local_hour_spans(start, start + timedelta(hours=3), tz)
    assert [h for _at, h in found] == [10, 11, 12, 13]
    assert found[1][0] == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_dashboards_hours_count_what_the_rows_say(console) -> None:
    """Real vends through the vend path, counted by the SQL buckets and by the rows."""
    from sqlalchemy import select

    from core.db import utcnow
    from core.localtime import local_day, utility_zone
    from gateway.vend import activity
    from gateway.vend.models import VendTransaction
    from tests.console.test_pages import METER, vend

    for cents in (2000, 3000, 4000):
        vend(console, METER, cents)
    tz = utility_zone("Africa/Johannesburg")
    today = local_day(utcnow(), tz)
    start, end = day_bounds_utc(today, today, tz)
    with console.db.sessions() as s:
        hours = activity.vends_per_hour(s, start, end, tz)
        rows = Counter(
            at.astimezone(tz).hour
            for at in s.scalars(
                select(VendTransaction.created_at).where(
                    VendTransaction.created_at >= start, VendTransaction.created_at < end
                )
            )
        )
    assert sum(n for _h, n in hours) == 3
    assert dict((h, n) for h, n in hours if n) == dict(rows)
