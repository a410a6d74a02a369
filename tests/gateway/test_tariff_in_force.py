"""One rule for the tariff version in force on a day (gateway.tariffs.version_in_force_id), the
same answer from each place that asks: `vendgw tariff list` (version_in_force) and the vend
path's meter lookup (meters.find_meter_in_month, which `vendgw quote` uses too)."""

from __future__ import annotations

from datetime import date

import pytest

from core.db import transaction
from gateway.models import Tariff
from gateway.tariffs import ensure_tariff_version, version_in_force
from gateway.vend import meters
from tests.conftest import TestDatabase

METER = "01234567897"  # a demo meter on DOMESTIC, whose demo version is from 2000-01-01
STEPS = ((None, 15000),)


@pytest.fixture
def versions(demo_db: TestDatabase) -> dict[date, int]:
    """DOMESTIC's versions by first day: the demo's, one from 2024-06-01, one from 2999-01-01."""
    with transaction(demo_db.sessions) as session:
        for first in (date(2024, 6, 1), date(2999, 1, 1)):
            ensure_tariff_version(session, "DOMESTIC", "", first, STEPS)
        tariff = session.query(Tariff).filter_by(code="DOMESTIC").one()
        return {v.effective_from: v.id for v in tariff.versions}


def in_force(db: TestDatabase, on: date) -> tuple[int | None, int | None]:
    """The version in force on `on` as the CLI finds it and as the vend path finds it."""
    with db.sessions() as session:
        tariff = session.query(Tariff).filter_by(code="DOMESTIC").one()
        version = version_in_force(session, tariff.id, on)
        found = meters.find_meter_in_month(session, METER, on.strftime("%Y-%m"), on)
    return (None if version is None else version.id), found.tariff_version_id


@pytest.mark.parametrize(
    ("on", "first"),
    [
        (date(1999, 12, 31), None),  # before the first version: nothing in force
        (date(2000, 1, 1), date(2000, 1, 1)),  # a version is in force from its own first day
        (date(2024, 5, 31), date(2000, 1, 1)),
        (date(2024, 6, 1), date(2024, 6, 1)),  # the latest effective one, not the first
        (date(2998, 12, 31), date(2024, 6, 1)),  # the future-dated one is not in force yet
        (date(2999, 1, 1), date(2999, 1, 1)),
    ],
)
def test_the_latest_effective_version_is_in_force_never_a_later_one(
    demo_db: TestDatabase, versions: dict[date, int], on: date, first: date | None
) -> None:
    expected = None if first is None else versions[first]
    assert in_force(demo_db, on) == (expected, expected)


def test_today_the_future_dated_version_is_not_in_force(
    demo_db: TestDatabase, versions: dict[date, int]
) -> None:
    assert in_force(demo_db, date.today()) == (versions[date(2024, 6, 1)],) * 2
