"""TIDs: minutes since the base date, the reserved 00:01, uniqueness per meter, limits, KEN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from sts.tid import is_reserved_tid, last_issuable_datetime

SETTINGS = settings(max_examples=200, deadline=None)

base_dates = st.sampled_from(sts.BASE_DATES)


@st.composite
def moments(draw: st.DrawFn) -> tuple[int, datetime]:
    base = draw(base_dates)
    minutes = draw(st.integers(0, sts.MAX_TID))
    seconds = draw(st.integers(0, 59))
    return base, datetime(base, 1, 1) + timedelta(minutes=minutes, seconds=seconds)


@SETTINGS
@given(moments())
def test_tid_counts_minutes_and_never_uses_0001(case: tuple[int, datetime]) -> None:
    base, moment = case
    minutes = int((moment - datetime(base, 1, 1)).total_seconds() // 60)
    if (moment.hour, moment.minute) == (0, 1):
        assert sts.tid_for(moment, base) == minutes + 1
    else:
        assert sts.tid_for(moment, base) == minutes
        assert sts.datetime_for_tid(minutes, base) == moment.replace(second=0)
    assert not is_reserved_tid(sts.tid_for(moment, base))


@SETTINGS
@given(moments(), st.integers(1, 30))
def test_tokens_in_one_minute_get_successive_unique_tids(
    case: tuple[int, datetime], count: int
) -> None:
    base, moment = case
    last: int | None = None
    issued = []
    for _ in range(count):
        try:
            tid = sts.next_tid(moment, base, last)
        except sts.TidRangeError:
            # Only possible at the very end of the base date's range.
            assert last is not None and last + 2 >= sts.MAX_TID
            break
        assert last is None or tid > last
        assert not is_reserved_tid(tid)
        assert tid >= sts.tid_for(moment, base)
        issued.append(tid)
        last = tid
    assert len(set(issued)) == len(issued)
    if issued:
        assert issued[0] == sts.tid_for(moment, base)
        skipped_reserved = any(is_reserved_tid(t) for t in range(issued[0], issued[-1] + 1))
        assert issued[-1] - issued[0] == len(issued) - 1 + skipped_reserved


def test_a_token_due_at_0001_after_one_at_0000_goes_to_0002() -> None:
    midnight = datetime(2024, 5, 1, 0, 0)
    first = sts.next_tid(midnight, 2014, None)
    second = sts.next_tid(midnight, 2014, first)
    assert sts.datetime_for_tid(second, 2014) == datetime(2024, 5, 1, 0, 2)


def test_the_clock_wins_when_it_is_ahead_of_the_last_tid() -> None:
    moment = datetime(2024, 5, 1, 12, 0)
    assert sts.next_tid(moment, 2014, 5) == sts.tid_for(moment, 2014)


@pytest.mark.parametrize(
    ("base", "last_minute"),
    [
        (1993, datetime(2024, 11, 24, 20, 15)),
        (2014, datetime(2045, 11, 24, 20, 15)),
        (2035, datetime(2066, 11, 24, 20, 15)),
    ],
)
def test_base_date_limits(base: int, last_minute: datetime) -> None:
    assert last_issuable_datetime(base) == last_minute
    assert sts.tid_for(last_minute, base) == sts.MAX_TID
    with pytest.raises(sts.TidRangeError) as raised:
        sts.tid_for(last_minute + timedelta(minutes=1), base)
    assert "next base date" in str(raised.value)
    with pytest.raises(sts.TidRangeError):
        sts.next_tid(last_minute - timedelta(minutes=1), base, sts.MAX_TID)
    with pytest.raises(sts.TidRangeError):
        sts.tid_for(datetime(base, 1, 1) - timedelta(minutes=1), base)


@pytest.mark.parametrize("base", [1992, 2000, "2015", None])
def test_unknown_base_dates_are_refused(base: object) -> None:
    with pytest.raises(sts.InvalidFieldError):
        sts.tid_for(datetime(2020, 1, 1), base)  # type: ignore[arg-type]


def test_base_date_codes_are_accepted() -> None:
    moment = datetime(2020, 1, 1, 8, 0)
    assert sts.tid_for(moment, "14") == sts.tid_for(moment, 2014) == 3155520  # type: ignore[arg-type]


def test_aware_times_are_taken_in_utc() -> None:
    local = datetime(2020, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert sts.tid_for(local, 2014) == sts.tid_for(datetime(2020, 1, 1, 8, 0), 2014)
    assert sts.tid_for(datetime(2020, 1, 1, 8, 0, tzinfo=UTC), 2014) == 3155520


@SETTINGS
@given(st.integers(0, sts.MAX_TID), st.integers(0, 255))
def test_ken_refuses_exactly_the_tids_beyond_it(tid: int, ken: int) -> None:
    if tid >> 16 > ken:
        with pytest.raises(sts.KeyExpiredError) as raised:
            sts.check_ken(tid, ken)
        assert (raised.value.tid, raised.value.ken) == (tid, ken)
    else:
        sts.check_ken(tid, ken)


def test_next_tid_respects_the_ken() -> None:
    moment = datetime(2004, 3, 1, 13, 55)  # TID 5871715: key-expiry bits 89
    assert sts.next_tid(moment, 1993, None, ken=89) == 5871715
    with pytest.raises(sts.KeyExpiredError):
        sts.next_tid(moment, 1993, None, ken=88)


def test_a_last_tid_out_of_range_is_refused() -> None:
    with pytest.raises(sts.TidRangeError):
        sts.next_tid(datetime(2020, 1, 1), 2014, -1)
