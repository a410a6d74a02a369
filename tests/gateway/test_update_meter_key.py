"""UpdateMeterKey: a key change to the key data the request names, the meter takes the two key
change tokens and then the new key's credit; nothing changes when the key is already that one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway import errors
from gateway.models import Meter, SupplyGroup
from gateway.vend.service import DatabaseVendingService
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import (
    BANK,
    OFFICE,
    Clock,
    counts,
    header,
    principal,
    simulator,
    tokens_of,
)

METER = "01234567897"  # SGC 123456, KRN 1, TI 01


@pytest.fixture
def service(demo_db: TestDatabase) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=Clock())


def key_of(db: TestDatabase, meter_number: str) -> tuple[str, int, str]:
    with db.sessions() as session:
        sgc, krn, ti = session.execute(
            select(SupplyGroup.sgc, Meter.krn, Meter.ti)
            .join(SupplyGroup, SupplyGroup.id == Meter.supply_group_id)
            .where(Meter.meter_number == meter_number)
        ).one()
        return sgc, krn, ti


def test_a_key_change_to_the_requested_krn_and_ti(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    office, h = principal(demo_db, OFFICE), header(OFFICE)
    meter = simulator(demo_db, METER)
    changed = service.update_meter_key(office, h, METER, None, 2, "02")
    assert (changed.from_sgc, changed.from_krn, changed.from_ti) == ("123456", 1, "01")
    assert (changed.to_sgc, changed.to_krn, changed.to_ti) == ("123456", 2, "02")
    assert (changed.meter.krn, changed.meter.ti) == (2, "02")
    assert len(changed.tokens) == 2
    for token in changed.tokens:
        assert meter.accept(token).accepted
    assert key_of(demo_db, METER) == ("123456", 2, "02")
    # A retry replays the same answer (the "from" key too); the next vend is under the new key.
    assert service.update_meter_key(office, h, METER, None, 2, "02") == changed
    receipt = service.credit_vend(principal(demo_db, BANK), header(), METER, 5000, "cash")
    assert [line.type for line in receipt.lines] == ["credit"]
    assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    assert meter.credit_tenths() == receipt.units_tenths > 0


def test_a_key_change_to_another_supply_group(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    meter = simulator(demo_db, METER)
    changed = service.update_meter_key(
        principal(demo_db, OFFICE), header(OFFICE), METER, "201457", 1, None
    )
    assert (changed.to_sgc, changed.to_krn, changed.to_ti) == ("201457", 1, "01")
    for token in changed.tokens:
        assert meter.accept(token).accepted
    assert key_of(demo_db, METER) == ("201457", 1, "01")
    receipt = service.credit_vend(principal(demo_db, BANK), header(), METER, 5000, "cash")
    assert meter.accept(tokens_of(receipt, "credit")[0]).accepted


@pytest.mark.parametrize(
    ("sgc", "krn", "ti", "error", "code"),
    [
        (None, None, None, errors.UpdateMeterKeySame, "same-key"),
        ("123456", 1, "01", errors.UpdateMeterKeySame, "same-key"),
        ("999999", 1, None, errors.BusinessRuleError, "unknown-supply-group"),
        (None, 7, None, errors.BusinessRuleError, "no-vending-key"),
        ("12345", None, None, errors.SchemaError, "sgc"),
        (None, 10, None, errors.SchemaError, "krn"),
        (None, None, "1", errors.SchemaError, "ti"),
    ],
)
def test_refused_key_changes_change_nothing(
    demo_db: TestDatabase,
    service: DatabaseVendingService,
    sgc: str | None,
    krn: int | None,
    ti: str | None,
    error: type[errors.GatewayError],
    code: str,
) -> None:
    before = (key_of(demo_db, METER), counts(demo_db))
    with pytest.raises(error) as refused:
        service.update_meter_key(principal(demo_db, OFFICE), header(OFFICE), METER, sgc, krn, ti)
    assert refused.value.code == code
    assert (key_of(demo_db, METER), counts(demo_db)) == before


def test_update_meter_key_needs_the_engineering_privilege(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    with pytest.raises(errors.RequestAuthorisation):
        service.update_meter_key(principal(demo_db, BANK), header(), METER, None, 2, None)
    assert key_of(demo_db, METER) == ("123456", 1, "01")
