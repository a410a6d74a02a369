"""The meter simulator: TID memory, key expiry, registers and key changes, as a meter does."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from tests.support.sts_strategies import credit_payloads, ea_and_keys, management_payloads

SETTINGS = settings(max_examples=100, deadline=None)
KEY = bytes.fromhex("E653341F9D5BF36F")


def meter(**kwargs: object) -> sts.MeterSimulator:
    return sts.MeterSimulator(KEY, "07", base_date=1993, **kwargs)  # type: ignore[arg-type]


def credit(tid: int, tenths: int = 10, subclass: int = 0) -> str:
    return sts.encode_token(sts.TransferCredit.rounded(subclass, tid, tenths, 5), KEY, "07").number


@SETTINGS
@given(st.one_of(credit_payloads, management_payloads), ea_and_keys())
def test_a_token_is_accepted_once_and_then_rejected_as_used(
    payload: sts.TokenPayload, ea_key: tuple[str, bytes]
) -> None:
    ea, key = ea_key
    simulator = sts.MeterSimulator(key, ea)
    token = sts.encode_token(payload, key, ea).number
    first = simulator.accept(token)
    if isinstance(payload, sts.ClearCredit) and payload.register not in (*range(8), 0xFFFF):
        assert first.reason is sts.RejectReason.NOT_SUPPORTED
        return
    assert first.accepted, first
    assert first.payload == payload
    second = simulator.accept(token)
    assert second.reason is sts.RejectReason.USED


@SETTINGS
@given(credit_payloads)
def test_credit_lands_in_its_register_exactly_once(payload: sts.TransferCredit) -> None:
    simulator = meter()
    token = sts.encode_token(payload, KEY, "07").number
    simulator.accept(token)
    simulator.accept(token)
    expected = dict.fromkeys(range(4), 0)
    expected[payload.subclass] = payload.amount_tenths
    assert simulator.credit == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(credit_payloads, st.integers(0, 19), st.integers(1, 9))
def test_a_mistyped_token_is_rejected_and_credits_nothing(
    payload: sts.TransferCredit, position: int, shift: int
) -> None:
    # A 16-bit CRC lets about 1 in 65536 mistypings through: fixed examples, seen to pass.
    simulator = meter()
    digits = sts.encode_token(payload, KEY, "07").number
    mistyped = (
        digits[:position] + str((int(digits[position]) + shift) % 10) + digits[position + 1 :]
    )
    result = simulator.accept(mistyped)
    assert result.rejected
    assert result.reason in (sts.RejectReason.CRC, sts.RejectReason.FORMAT)
    assert simulator.credit == dict.fromkeys(range(4), 0)


def test_tid_memory_rejects_tokens_older_than_it_remembers() -> None:
    simulator = meter(tid_memory_size=3)
    for tid in (100, 200, 300):
        assert simulator.accept(credit(tid)).accepted
    # Full: an unseen TID older than the oldest kept is OLD; a newer one evicts the oldest.
    assert simulator.accept(credit(50)).reason is sts.RejectReason.OLD
    assert simulator.accept(credit(150)).accepted
    assert simulator.tid_memory == (150, 200, 300)
    assert simulator.accept(credit(100)).reason is sts.RejectReason.OLD
    assert simulator.accept(credit(200)).reason is sts.RejectReason.USED
    assert simulator.credit_tenths() == 40


def test_tokens_may_arrive_out_of_order_while_memory_has_room() -> None:
    simulator = meter()
    assert simulator.accept(credit(500)).accepted
    assert simulator.accept(credit(400)).accepted


def test_a_tid_beyond_the_ken_is_a_key_expiry() -> None:
    simulator = meter(ken=0x59)
    assert simulator.accept(credit(0x59FFFF)).accepted
    result = simulator.accept(credit(0x5A0000))
    assert result.reason is sts.RejectReason.KEY_EXPIRED
    assert simulator.credit_tenths() == 10


def test_another_meters_token_fails_the_crc() -> None:
    other = sts.encode_token(sts.TransferCredit(0, 1, 10), bytes(8), "07").number
    result = meter().accept(other)
    assert result.reason is sts.RejectReason.CRC


def test_engineering_tokens_change_the_meter() -> None:
    simulator = meter()
    simulator.set_tamper()

    def enter(payload: sts.TokenPayload) -> sts.AcceptResult:
        return simulator.accept(sts.encode_token(payload, KEY, "07").number)

    assert enter(sts.TransferCredit(1, 1, 30)).action is sts.MeterAction.CREDIT_ADDED
    assert enter(sts.CurrencyTransfer.rounded(4, 2, "12.5")).accepted
    assert simulator.currency_credit[4] == Decimal("12.50024")  # rounded up
    assert enter(sts.SetMaximumPowerLimit(3, 1000)).action is sts.MeterAction.POWER_LIMIT_SET
    assert simulator.power_limit_watts == 1000
    assert enter(sts.SetMaximumPhasePowerUnbalanceLimit(4, 10)).accepted
    assert simulator.phase_unbalance_limit_watts == 10
    assert enter(sts.ClearTamperCondition(5)).action is sts.MeterAction.TAMPER_CLEARED
    assert not simulator.tamper
    assert enter(sts.ClearCredit(6, 1)).action is sts.MeterAction.CREDIT_CLEARED
    assert simulator.credit[1] == 0
    assert enter(sts.ClearCredit(7, 0xFFFF)).accepted
    assert simulator.currency_credit[4] == 0
    assert enter(sts.SetTariffRate(8, 0x1234)).accepted and simulator.tariff_rate == 0x1234
    assert enter(sts.SetWaterMeterFactor(9, 7)).accepted and simulator.water_meter_factor == 7
    assert enter(sts.ExtendedTokenSet(10, 0xFC01)).accepted
    assert simulator.extended_settings == {63: 0xFC01}
    refused = enter(sts.ClearCredit(11, 9))
    assert refused.reason is sts.RejectReason.NOT_SUPPORTED
    assert 11 not in simulator.tid_memory  # a refused token does not use up its TID
    test = simulator.accept(sts.test_token(control=1, mfr_code=0).number)
    assert test.action is sts.MeterAction.TEST_STARTED


def test_a_key_change_applies_only_when_the_set_is_complete() -> None:
    simulator = meter()
    new_key = bytes.fromhex("060B8643C59A27F1")
    first, second = sts.key_change_tokens(
        new_key, ken=255, krn=2, kt=2, ti=2, decoder_key=KEY, ea="07"
    )
    result = simulator.accept(first.number)
    assert result.action is sts.MeterAction.KEY_CHANGE_STORED
    assert simulator.decoder_key == KEY  # not yet
    assert simulator.accept(credit(1000)).accepted  # the old key still works meanwhile
    result = simulator.accept(second.number)
    assert result.action is sts.MeterAction.KEY_CHANGED
    assert (simulator.decoder_key, simulator.krn, simulator.ti) == (new_key, 2, 2)
    # Old-key tokens and a replay of the set now fail the CRC.
    assert simulator.accept(credit(2000)).reason is sts.RejectReason.CRC
    assert simulator.accept(first.number).reason is sts.RejectReason.CRC
    # The TID memory survives a change without rollover.
    new_credit = sts.encode_token(sts.TransferCredit(0, 1000, 10), new_key, "07").number
    assert simulator.accept(new_credit).reason is sts.RejectReason.USED


def test_rollover_clears_the_tid_memory_and_moves_the_base_date() -> None:
    simulator = meter()
    assert simulator.accept(credit(16_000_000)).accepted
    new_key = bytes(range(8))
    for token in sts.key_change_tokens(
        new_key, ken=255, krn=1, kt=2, ti=1, ro=True, decoder_key=KEY, ea="07"
    ):
        simulator.accept(token.number)
    assert simulator.base_date == 2014
    assert simulator.tid_memory == ()
    small_tid = sts.encode_token(sts.TransferCredit(0, 5, 10), new_key, "07").number
    assert simulator.accept(small_tid).accepted


def test_a_128_bit_meter_needs_all_four_tokens() -> None:
    key = bytes.fromhex("929BD3A415C9420A05EC5EE9F3CE91C3")
    new_key = bytes.fromhex("B199270A77AF96D3156C51B0964A8782")
    simulator = sts.MeterSimulator(key, "11", sgc="201457")
    tokens = sts.key_change_tokens(
        new_key, ken=255, krn=1, kt=2, ti=2, new_sgc="123457", decoder_key=key, ea="11"
    )
    assert len(tokens) == 4
    for token in tokens[:3]:
        assert simulator.accept(token.number).action is sts.MeterAction.KEY_CHANGE_STORED
        assert simulator.decoder_key == key
    assert simulator.accept(tokens[3].number).action is sts.MeterAction.KEY_CHANGED
    assert (simulator.decoder_key, simulator.sgc) == (new_key, "123457")


def test_formatting_errors_are_reported_not_raised() -> None:
    assert meter().accept("12345").reason is sts.RejectReason.FORMAT
