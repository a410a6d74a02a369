"""Token identifiers (TID) and key expiry (IEC 62055-41 6.3.5, 6.1.10).

The TID is the issue time in whole minutes since the base date (1993-01-01, 2014-01-01 or
2035-01-01, 00:00) in 24 bits, so each base date covers about 31.9 years and ends at 20:15 on
24 November of its 31st year. Meters remember recent TIDs and refuse a token whose TID they have
seen (or that is older than everything they remember), so TIDs must be unique per meter: when
several tokens for one meter are issued within the same minute they get successive minutes.
The minute 00:01 of every day is reserved and never issued (a token due at 00:01 carries 00:02).

The KEN (key expiry number) is compared with the TID's top 8 bits: a TID whose top byte exceeds
the KEN cannot be used with that key (KEN 255 never expires).

Times: naive datetimes are read as the vending system's civil clock; aware datetimes are first
converted to UTC. Seconds are ignored (a TID counts whole minutes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sts.exceptions import InvalidFieldError, KeyExpiredError, TidRangeError

__all__ = [
    "BASE_DATES",
    "MAX_TID",
    "base_date_code",
    "base_datetime",
    "check_ken",
    "datetime_for_tid",
    "is_reserved_tid",
    "ken_allows",
    "last_issuable_datetime",
    "next_tid",
    "parse_base_date",
    "tid_for",
]

BASE_DATES = (1993, 2014, 2035)
MAX_TID = (1 << 24) - 1
_MINUTES_PER_DAY = 1440
_RESERVED_MINUTE_OF_DAY = 1  # 00:01


def parse_base_date(value: object) -> int:
    """Accept a base-date year (1993, 2014, 2035), its 2-digit code ("93", "14", "35"), or an
    ISO date of the base day ("2014-01-01")."""
    text = str(value).strip()
    if len(text) == 10 and text.endswith("-01-01"):
        text = text[:4]
    if text.isdigit():
        number = int(text)
        if number < 100:
            number += 1900 if number >= 90 else 2000
        if number in BASE_DATES:
            return number
    raise InvalidFieldError("base_date", value, "must be 1993, 2014 or 2035")


def base_date_code(base_date: int) -> str:
    """The 2-digit code of a base date as used by DKGA04 ("93", "14", "35")."""
    return f"{parse_base_date(base_date) % 100:02d}"


def base_datetime(base_date: int) -> datetime:
    return datetime(parse_base_date(base_date), 1, 1)


def _civil(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidFieldError("issued_at", moment, "must be a datetime")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)


def _minutes_since_base(moment: datetime, base_date: int) -> int:
    delta = _civil(moment) - base_datetime(base_date)
    return delta.days * _MINUTES_PER_DAY + delta.seconds // 60


def is_reserved_tid(tid: int) -> bool:
    """True for the TID of 00:01 on any day (base dates start at midnight)."""
    return tid % _MINUTES_PER_DAY == _RESERVED_MINUTE_OF_DAY


def _check_tid_range(tid: int, base_date: int, moment: object) -> None:
    if tid < 0:
        raise TidRangeError("issued_at", moment, f"is before the base date {base_date}-01-01")
    if tid > MAX_TID:
        raise TidRangeError(
            "issued_at",
            moment,
            f"is past the last minute of base date {base_date} "
            f"({last_issuable_datetime(base_date):%Y-%m-%d %H:%M}); roll the meter over to the "
            "next base date",
        )


def tid_for(issued_at: datetime, base_date: int) -> int:
    """The TID for a token issued at ``issued_at`` (00:01 is issued as 00:02)."""
    base = parse_base_date(base_date)
    tid = _minutes_since_base(issued_at, base)
    if is_reserved_tid(tid):
        tid += 1
    _check_tid_range(tid, base, issued_at)
    return tid


def datetime_for_tid(tid: int, base_date: int) -> datetime:
    """The (naive, civil) issue minute a TID stands for."""
    if not isinstance(tid, int) or not 0 <= tid <= MAX_TID:
        raise TidRangeError("tid", tid, f"must be an integer 0..{MAX_TID}")
    return base_datetime(base_date) + timedelta(minutes=tid)


def last_issuable_datetime(base_date: int) -> datetime:
    """The last minute a base date can express (e.g. 2045-11-24 20:15 for 2014)."""
    return base_datetime(base_date) + timedelta(minutes=MAX_TID)


def ken_allows(tid: int, ken: int) -> bool:
    """Whether a key with expiry number ``ken`` may carry ``tid``."""
    return tid >> 16 <= ken


def check_ken(tid: int, ken: int) -> None:
    """Raise ``KeyExpiredError`` if the TID's top 8 bits exceed the KEN."""
    if not isinstance(ken, int) or not 0 <= ken <= 255:
        raise InvalidFieldError("ken", ken, "must be an integer 0..255")
    if not ken_allows(tid, ken):
        raise KeyExpiredError(tid, ken)


def next_tid(
    issued_at: datetime,
    base_date: int,
    last_tid: int | None,
    *,
    ken: int = 255,
) -> int:
    """A TID for a new token of one meter, strictly greater than ``last_tid``.

    ``last_tid`` is the highest TID already issued to the meter (None if none). If the clock
    minute is not past it, the token takes the next free minute, so tokens issued in one minute
    get successive minutes. The reserved 00:01 minute is skipped. Raises ``TidRangeError`` past
    the base date's last minute and ``KeyExpiredError`` if the TID is beyond the key's KEN.
    """
    base = parse_base_date(base_date)
    tid = _minutes_since_base(issued_at, base)
    if last_tid is not None:
        if not isinstance(last_tid, int) or not 0 <= last_tid <= MAX_TID:
            raise TidRangeError("last_tid", last_tid, f"must be an integer 0..{MAX_TID}")
        tid = max(tid, last_tid + 1)
    if is_reserved_tid(tid):
        tid += 1
    _check_tid_range(tid, base, issued_at)
    check_ken(tid, ken)
    return tid
