"""Tariffs in the database: adding dated versions and finding the one in force on a day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

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


def version_in_force(session: Session, tariff_id: int, on: date) -> TariffVersion | None:
    """The tariff's latest version effective on or before `on`."""
    # The steps come in the same query: every vend prices from them.
    return session.execute(
        select(TariffVersion)
        .where(TariffVersion.tariff_id == tariff_id, TariffVersion.effective_from <= on)
        .order_by(TariffVersion.effective_from.desc())
        .limit(1)
        .options(joinedload(TariffVersion.steps))
    ).unique().scalar_one_or_none()
