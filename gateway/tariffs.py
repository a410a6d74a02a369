"""Tariffs in the database: adding dated versions, finding the one in force on a day, and the
vend path's book of versions already read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.orm import Session, joinedload

from gateway import pricing
from gateway.models import Tariff, TariffStep, TariffVersion


def ensure_tariff_version(
    session: Session,
    code: str,
    description: str,
    effective_from: date,
    steps: Sequence[tuple[int | None, int]],
    monthly_fixed_charge_cents: int = 0,
) -> TariffVersion:
    """Create the tariff and its version from `effective_from` unless that version exists.

    `steps` are (upto_tenths, price_e4) pairs, the last with upto None. An existing version is
    left as it is: past receipts were priced with it, so it is never edited in place.
    """
    tariff = session.scalar(select(Tariff).where(Tariff.code == code))
    if tariff is None:
        tariff = Tariff(code=code, description=description)
        session.add(tariff)
        session.flush()
    version = session.scalar(
        select(TariffVersion).where(
            TariffVersion.tariff_id == tariff.id, TariffVersion.effective_from == effective_from
        )
    )
    if version is None:
        version = TariffVersion(
            tariff=tariff,
            effective_from=effective_from,
            monthly_fixed_charge_cents=monthly_fixed_charge_cents,
            steps=[
                TariffStep(seq=i, upto_tenths=upto, price_e4=price)
                for i, (upto, price) in enumerate(steps, start=1)
            ],
        )
        session.add(version)
        session.flush()
    return version


def version_in_force_id(
    tariff_id: ColumnElement[int] | int, on: ColumnElement[date] | date
) -> ScalarSelect[int]:
    """The rule for which version of a tariff is in force on a day, as one SQL expression: its
    latest version effective on or before that day (a version dated later is not in force
    yet). `tariff_id` and `on` are values or columns of the enclosing statement (the vend
    path's meter lookup correlates it to the meter's row)."""
    return (
        select(TariffVersion.id)
        .where(TariffVersion.tariff_id == tariff_id, TariffVersion.effective_from <= on)
        .order_by(TariffVersion.effective_from.desc())
        .limit(1)
        .correlate_except(TariffVersion)
        .scalar_subquery()
    )


def version_in_force(session: Session, tariff_id: int, on: date) -> TariffVersion | None:
    """The tariff's version in force on `on` (`version_in_force_id`), with its steps."""
    return (
        session.execute(
            select(TariffVersion)
            .where(TariffVersion.id == version_in_force_id(tariff_id, on))
            .options(joinedload(TariffVersion.steps))
        )
        .unique()
        .scalar_one_or_none()
    )


def tariff_steps(version: TariffVersion) -> pricing.TariffSteps:
    """A stored version as the pricing rules take it."""
    return pricing.TariffSteps(
        code=version.tariff.code,
        description=version.tariff.description,
        steps=tuple(pricing.Step(s.upto_tenths, s.price_e4) for s in version.steps),
        monthly_fixed_charge_cents=version.monthly_fixed_charge_cents,
    )


class TariffBook:
    """Tariff versions by id, each read from the database once per process.

    A version is never edited once written (`ensure_tariff_version` leaves an existing one as
    it is, because past receipts were priced with it), so what was read stays true; which
    version is in force on a day is still asked of the database with every vend. One book
    belongs to one database: the vending service that owns it is built per runtime.
    """

    def __init__(self, max_versions: int = 1024) -> None:
        self.max_versions = max_versions
        self._steps: dict[int, pricing.TariffSteps] = {}

    def steps(self, session: Session, version_id: int) -> pricing.TariffSteps:
        found = self._steps.get(version_id)
        if found is None:
            version = session.get(TariffVersion, version_id)
            if version is None:
                raise LookupError(f"no tariff version {version_id}")
            found = tariff_steps(version)
            if len(self._steps) >= self.max_versions:
                self._steps.clear()  # versions are few; a full book means something odd
            self._steps[version_id] = found
        return found
