"""Business days and months: the cut-off and the timezone decide which sales a period holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from reconciliation.exceptions import InvalidInput, InvalidPeriod
from reconciliation.periods import Calendar, Period, parse_period
from tests.support.reconciliation import local

MIDNIGHT = Calendar.from_settings("Africa/Johannesburg", "00:00")


def test_midnight_cutoff_makes_the_business_day_the_local_calendar_day() -> None:
    window = MIDNIGHT.window(Period.day(date(2026, 11, 20)))
    assert window.start == datetime(2026, 11, 19, 22, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    assert MIDNIGHT.business_day(local(2026, 11, 20, 23, 59, 59)) == date(2026, 11, 20)
    assert MIDNIGHT.business_day(local(2026, 11, 21, 0, 0, 0)) == date(2026, 11, 21)
    assert window.start <= local(2026, 11, 20, 23, 59, 59) < window.end
    assert not local(2026, 11, 21, 0, 0, 0) < window.end


def test_an_evening_cutoff_moves_late_sales_to_the_next_day() -> None:
    evening = Calendar.from_settings("Africa/Johannesburg", "22:00")
    assert evening.business_day(local(2026, 11, 20, 21, 59, 59)) == date(2026, 11, 20)
    assert evening.business_day(local(2026, 11, 20, 22, 0)) == date(2026, 11, 21)
    window = evening.window(Period.day(date(2026, 11, 21)))
    assert window.start == local(2026, 11, 20, 22, 0)
    assert window.end == local(2026, 11, 21, 22, 0)


def test_an_early_morning_cutoff_keeps_the_late_night_in_the_day_before() -> None:
    late = Calendar.from_settings("Africa/Johannesburg", "02:00")
    assert late.business_day(local(2026, 11, 21, 1, 59)) == date(2026, 11, 20)
    assert late.business_day(local(2026, 11, 21, 2, 0)) == date(2026, 11, 21)
    assert late.window(Period.day(date(2026, 11, 20))).end == local(2026, 11, 21, 2, 0)


def test_a_month_runs_from_its_first_business_day_to_its_last() -> None:
    november = parse_period("2026-11")
    assert (november.kind, november.first, november.last) == (
        "monthly",
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    window = MIDNIGHT.window(november)
    assert window.start == local(2026, 11, 1)
    assert window.end == local(2026, 12, 1)
    assert len(november.days()) == 30
    assert parse_period("202612").last == date(2026, 12, 31)
    assert parse_period("20261120") == parse_period("2026-11-20") == Period.day(date(2026, 11, 20))


def test_a_daylight_saving_zone_gets_a_23_hour_day() -> None:
    london = Calendar.from_settings("Europe/London", "00:00")
    window = london.window(Period.day(date(2026, 3, 29)))  # clocks go forward at 01:00
    assert window.end - window.start == timedelta(hours=23)


def test_the_nightly_default_is_the_last_day_that_has_ended() -> None:
    assert MIDNIGHT.last_closed_day(local(2026, 11, 21, 2, 0)) == date(2026, 11, 20)


@pytest.mark.parametrize("text", ["2026-13", "20261131", "26-11-20", "", "2026/11"])
def test_a_bad_period_is_refused(text: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse_period(text)


def test_a_bad_cutoff_setting_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        Calendar.from_settings("Africa/Johannesburg", "midnight")
    assert refused.value.field == "reconciliation.cutoff"
