"""The phase power unbalance limit (meter-specific) and the single test and display tokens
(class 1, not meter-specific): each decodes in the meter simulator to what was asked."""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.vend.engineering import TEST_BITS
from gateway.vend.service import DatabaseVendingService
from sts import MeterAction, MeterTest, decode_token
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, OFFICE, Clock, header, principal, simulator
from tests.support.sts_vectors import vectors

METER = "01234567897"


@pytest.fixture
def service(demo_db: TestDatabase) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=Clock())


def test_a_phase_unbalance_limit_token_sets_the_meter_limit(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    meter = simulator(demo_db, METER)
    h = header(OFFICE)
    result = service.meter_specific_eng(
        principal(demo_db, OFFICE), h, METER, "PhaseUnbalance", 2000
    )
    [token] = result.tokens
    accepted = meter.accept(token)
    assert accepted.accepted and accepted.action is MeterAction.PHASE_UNBALANCE_LIMIT_SET
    assert meter.phase_unbalance_limit_watts == 2000
    assert meter.accept(token).rejected  # a TID is used once
    again = service.meter_specific_eng(principal(demo_db, OFFICE), h, METER, "PhaseUnbalance", 2000)
    assert again == result  # a retry replays
    for bad in (None, 0, 18201625):
        with pytest.raises(errors.SchemaError):
            service.meter_specific_eng(
                principal(demo_db, OFFICE), header(OFFICE), METER, "PhaseUnbalance", bad
            )
    with pytest.raises(errors.RequestAuthorisation):
        service.meter_specific_eng(principal(demo_db, BANK), header(), METER, "PhaseUnbalance", 9)


@pytest.mark.parametrize("eng_type", sorted(TEST_BITS))
@pytest.mark.parametrize("mfr_code", [0, 7, 1234])
def test_each_test_and_display_token_carries_its_one_control_bit(
    demo_db: TestDatabase, service: DatabaseVendingService, eng_type: str, mfr_code: int
) -> None:
    result = service.non_meter_specific_eng(
        principal(demo_db, OFFICE), header(OFFICE), eng_type, mfr_code
    )
    [token] = result.tokens
    payload = decode_token(token).payload  # class 1 is sent in the clear
    assert isinstance(payload, MeterTest)
    assert payload.control == 1 << TEST_BITS[eng_type]
    assert (payload.mfr_code, payload.subclass) == (mfr_code, 1 if mfr_code > 99 else 0)
    meter = simulator(demo_db, METER)
    assert meter.accept(token).action is MeterAction.TEST_STARTED


def test_the_display_tokens_match_the_published_class_1_vectors(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    """The published single-bit class 1 vectors (manufacturer code 0) within the named bits."""
    by_bit = {bit: name for name, bit in TEST_BITS.items()}
    checked = 0
    for vector in vectors("token_class1"):
        i = vector["inputs"]
        control_hex = i.get("control_36bit_hex") or i.get("control_28bit_hex")
        if control_hex is None or i.get("subclass") not in (0, 1):
            continue
        control = int(control_hex, 16)
        mfr = i.get("mfr_code_8bit", i.get("mfr_code_16bit"))
        if mfr != 0 or control.bit_count() != 1 or control.bit_length() - 1 not in by_bit:
            continue
        if i["subclass"] == 1:
            continue  # the service picks the 4-digit form only for codes above 99
        result = service.non_meter_specific_eng(
            principal(demo_db, OFFICE), header(OFFICE), by_bit[control.bit_length() - 1], 0
        )
        assert result.tokens == (vector["expected"],), vector
        checked += 1
    assert checked >= 1  # at least the phase unbalance display (0x400) is published


def test_the_vend_contract_spellings_are_the_same_tokens(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    office = principal(demo_db, OFFICE)
    for alias, name in (("TestDisp", "TestDisplay"), ("DispUnbalance", "DispPhUnbalance")):
        a = service.non_meter_specific_eng(office, header(OFFICE), alias, 0).tokens
        b = service.non_meter_specific_eng(office, header(OFFICE), name, 0).tokens
        assert a == b


def test_an_unknown_test_is_not_supported(
    service: DatabaseVendingService, demo_db: TestDatabase
) -> None:
    with pytest.raises(errors.UseCaseSupport):
        service.non_meter_specific_eng(
            principal(demo_db, OFFICE), header(OFFICE), "DispWaterFactor", 0
        )
