"""The security module: wrapped vending keys, decoder keys and tokens, and what must not leak."""

from __future__ import annotations

import pickle
import threading
from dataclasses import replace

import pytest

import sts
from sts.security_module import derive_decoder_key

MASTER = bytes(range(32))
VK02 = bytes.fromhex("ABABABABABABABAB")
VK02_KRN2 = bytes.fromhex("9494949494949494")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")

METER_02 = sts.MeterKeyData(
    iin="600727", drn="00000000000", sgc="123456", ti="01", krn=1, kt=2, ea="07",
    base_date=1993, dkga="02",
)  # fmt: skip
METER_04 = sts.MeterKeyData(
    iin="600727", drn="00000000000", sgc="201457", ti="01", krn=1, kt=2, ea="11",
    base_date=2014, dkga="04",
)  # fmt: skip


@pytest.fixture
def hsm() -> sts.SoftwareSecurityModule:
    return sts.SoftwareSecurityModule(MASTER)


def test_it_satisfies_the_protocol(hsm: sts.SoftwareSecurityModule) -> None:
    assert isinstance(hsm, sts.SecurityModule)


def test_decoder_keys_match_the_published_derivations(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    assert hsm.decoder_key(wrapped, "123456/1", METER_02).hex().upper() == "E653341F9D5BF36F"
    wrapped04 = hsm.wrap_vending_key(VK04, "201457/1")
    assert hsm.decoder_key(wrapped04, "201457/1", METER_04).hex().upper() == (
        "929BD3A415C9420A05EC5EE9F3CE91C3"
    )
    seven = replace(METER_04, ea="07")
    assert hsm.decoder_key(wrapped04, "201457/1", seven).hex().upper() == "87F3ECBB2E46B48F"


def test_credit_token_reproduces_the_worked_example(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    token = hsm.credit_token(wrapped, "123456/1", METER_02, subclass=0, amount_tenths=1,
                             tid=5871715, rnd=5)  # fmt: skip
    assert token.number == "23716100501183194197"
    assert token.payload == sts.TransferCredit(0, 5871715, 1, 5)
    # Positional arguments work as well.
    again = hsm.credit_token(wrapped, "123456/1", METER_02, 0, 1, 5871715, 5)
    assert again == token


def test_a_wrapped_key_is_bound_to_its_key_id(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    with pytest.raises(sts.KeyUnwrapError) as raised:
        hsm.decoder_key(wrapped, "123456/2", replace(METER_02, krn=2))
    assert raised.value.key_id == "123456/2"
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(sts.KeyUnwrapError):
        hsm.decoder_key(tampered, "123456/1", METER_02)
    other = sts.SoftwareSecurityModule(bytes(32))
    with pytest.raises(sts.KeyUnwrapError):
        other.decoder_key(wrapped, "123456/1", METER_02)


def test_wrapping_is_randomised_and_shaped_nonce_ciphertext_tag(
    hsm: sts.SoftwareSecurityModule,
) -> None:
    first = hsm.wrap_vending_key(VK02, "123456/1")
    second = hsm.wrap_vending_key(VK02, "123456/1")
    assert first != second
    assert len(first) == 12 + len(VK02) + 16
    assert VK02 not in first


def test_vending_keys_never_leak(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    token = hsm.credit_token(wrapped, "123456/1", METER_02, subclass=0, amount_tenths=10, tid=1)
    secrets_hex = {VK02.hex(), VK02.hex().upper(), MASTER.hex()}
    texts = [repr(hsm), str(hsm), repr(token), repr(METER_02)]
    try:
        hsm.decoder_key(wrapped, "999999/1", METER_02)
    except sts.StsError as exc:
        texts.append(str(exc))
        texts.append(repr(exc))
    try:
        hsm.wrap_vending_key(b"\xab" * 7, "123456/1")
    except sts.StsError as exc:
        texts.append(str(exc))
    for text in texts:
        assert not any(secret in text for secret in secrets_hex), text
    with pytest.raises(TypeError):
        pickle.dumps(hsm)


def test_a_bad_master_key_is_refused() -> None:
    with pytest.raises(sts.SecurityModuleError):
        sts.SoftwareSecurityModule(bytes(16))


def test_engineering_tokens(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    key = hsm.decoder_key(wrapped, "123456/1", METER_02)
    simulator = sts.MeterSimulator.for_meter(key, METER_02)
    simulator.set_tamper()
    issued = [
        hsm.engineering_token(wrapped, "123456/1", METER_02, "power_limit", tid=1, value=1000),
        hsm.engineering_token(
            wrapped, "123456/1", METER_02, sts.ManagementSubclass.CLEAR_CREDIT, tid=2, value=0xFFFF
        ),
        hsm.engineering_token(wrapped, "123456/1", METER_02, 5, tid=3),
        hsm.engineering_token(wrapped, "123456/1", METER_02, "phase_unbalance", tid=4, value=10),
        hsm.power_limit_token(wrapped, "123456/1", METER_02, watts=20000, tid=5),
        hsm.clear_credit_token(wrapped, "123456/1", METER_02, register=0, tid=6),
        hsm.clear_tamper_token(wrapped, "123456/1", METER_02, tid=7),
        hsm.phase_unbalance_token(wrapped, "123456/1", METER_02, watts=100, tid=8),
    ]
    assert all(simulator.accept(t.number).accepted for t in issued)
    assert simulator.power_limit_watts == 20004  # rounded up, as the token carries it
    assert simulator.phase_unbalance_limit_watts == 100
    assert not simulator.tamper
    with pytest.raises(sts.InvalidFieldError):
        hsm.engineering_token(wrapped, "123456/1", METER_02, "set_1st_section_decoder_key", tid=9)
    with pytest.raises(sts.InvalidFieldError):
        hsm.engineering_token(wrapped, "123456/1", METER_02, "self_destruct", tid=9)


def test_a_vend_credits_exactly_the_receipt_units_once(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK04, "201457/1")
    simulator = sts.MeterSimulator.for_meter(hsm.decoder_key(wrapped, "201457/1", METER_04),
                                             METER_04)  # fmt: skip
    token = hsm.credit_token(wrapped, "201457/1", METER_04, subclass=0, amount_tenths=20000,
                             tid=1000)  # fmt: skip
    receipt_units = token.payload.amount_tenths  # type: ignore[union-attr]
    assert receipt_units == 20004
    assert simulator.accept(token.number).accepted
    assert simulator.accept(token.number).reason is sts.RejectReason.USED
    assert simulator.credit_tenths(0) == receipt_units


def test_key_change_with_rollover_moves_the_meter(hsm: sts.SoftwareSecurityModule) -> None:
    current = hsm.wrap_vending_key(VK02, "123456/1")
    new = hsm.wrap_vending_key(VK02_KRN2, "123456/2")
    new_meter = replace(METER_02, krn=2, base_date=2014)
    simulator = sts.MeterSimulator.for_meter(hsm.decoder_key(current, "123456/1", METER_02),
                                             METER_02)  # fmt: skip
    assert simulator.accept(
        hsm.credit_token(current, "123456/1", METER_02, 0, 10, tid=16_000_000).number
    ).accepted
    tokens = hsm.key_change_tokens(current, "123456/1", METER_02, new, "123456/2", new_meter)
    assert len(tokens) == 2
    first = tokens[0].payload
    assert isinstance(first, sts.Set1stSectionDecoderKey) and first.ro and first.krn == 2
    for token in tokens:
        assert simulator.accept(token.number).accepted
    assert simulator.decoder_key == hsm.decoder_key(new, "123456/2", new_meter)
    assert simulator.base_date == 2014
    after = hsm.credit_token(new, "123456/2", new_meter, 0, 10, tid=5)
    assert simulator.accept(after.number).accepted


def test_key_change_to_128_bit_keys_carries_the_sgc(hsm: sts.SoftwareSecurityModule) -> None:
    current = hsm.wrap_vending_key(VK04, "201457/1")
    new = hsm.wrap_vending_key(VK04, "203557/6")
    new_meter = replace(METER_04, sgc="203557", krn=6, base_date=2035)
    tokens = hsm.key_change_tokens(current, "201457/1", METER_04, new, "203557/6", new_meter)
    assert [t.subclass for t in tokens] == [3, 4, 8, 9]
    simulator = sts.MeterSimulator.for_meter(hsm.decoder_key(current, "201457/1", METER_04),
                                             METER_04)  # fmt: skip
    for token in tokens:
        simulator.accept(token.number)
    assert (simulator.sgc, simulator.krn, simulator.base_date) == ("203557", 6, 2035)
    # Published: KRN 6 / BD 2035 key for this test meter.
    assert simulator.decoder_key.hex().upper() == "7E037BF6FE9A96EEFFB9836415C7B71F"


def test_key_change_refuses_another_meter_or_going_back(hsm: sts.SoftwareSecurityModule) -> None:
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    other = replace(METER_02, drn="11111111115")
    with pytest.raises(sts.KeyChangeError):
        hsm.key_change_tokens(wrapped, "123456/1", METER_02, wrapped, "123456/1", other)
    older = replace(METER_02, base_date=1993)
    newer = replace(METER_02, base_date=2014)
    with pytest.raises(sts.KeyChangeError):
        hsm.key_change_tokens(wrapped, "123456/1", newer, wrapped, "123456/1", older)


def test_a_rollover_must_change_the_key(hsm: sts.SoftwareSecurityModule) -> None:
    # DKGA02 keys ignore the base date: a rollover alone would re-open every used TID.
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    rolled = replace(METER_02, base_date=2014)
    with pytest.raises(sts.KeyChangeError) as raised:
        hsm.key_change_tokens(wrapped, "123456/1", METER_02, wrapped, "123456/1", rolled)
    assert "new decoder key" in str(raised.value)


def test_the_cache_is_bounded_and_used() -> None:
    hsm = sts.SoftwareSecurityModule(MASTER, cache_size=2)
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    meters = [replace(METER_02, drn=drn) for drn in ("00000000000", "11111111115", "01234567897")]
    keys = [hsm.decoder_key(wrapped, "123456/1", m) for m in meters]
    assert len(hsm._cache) == 2
    assert keys[0] == derive_decoder_key(VK02, meters[0])
    assert len(set(keys)) == 3


def test_a_small_cache_shared_by_threads_gives_each_meter_its_own_key() -> None:
    """Cache hits take no lock; with more meters than entries and eight threads, every token
    must still decode under its own meter's decoder key."""
    hsm = sts.SoftwareSecurityModule(MASTER, cache_size=3)
    wrapped = hsm.wrap_vending_key(VK02, "123456/1")
    drns = [f"{n:010d}" for n in range(1, 13)]
    meters = [replace(METER_02, drn=d + sts.luhn_check_digit(d)) for d in drns]
    failures: list[str] = []

    def issue(worker: int) -> None:
        for i in range(120):
            meter = meters[(worker * 5 + i) % len(meters)]
            token = hsm.credit_token(
                wrapped, "123456/1", meter, subclass=0, amount_tenths=10, tid=1000 + i
            )
            decoded = sts.decode_token(token.number, derive_decoder_key(VK02, meter), "07")
            if not decoded.crc_ok:
                failures.append(f"{meter.drn} {token.number}")

    threads = [threading.Thread(target=issue, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(hsm._cache) <= 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"drn": "00000000001"}, "drn"),
        ({"sgc": "12345"}, "sgc"),
        ({"ti": "1a"}, "ti"),
        ({"krn": 0}, "krn"),
        ({"kt": 4}, "kt"),
        ({"ea": "08"}, "ea"),
        ({"ea": "11"}, "ea"),  # DKGA02 cannot feed EA11
        ({"base_date": 2000}, "base_date"),
        ({"dkga": "03"}, "dkga"),
        ({"ken": 256}, "ken"),
    ],
)
def test_meter_key_data_is_validated(change: dict[str, object], field: str) -> None:
    with pytest.raises(sts.InvalidFieldError) as raised:
        replace(METER_02, **change)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_meter_key_data_is_normalised() -> None:
    loose: dict[str, object] = {"ti": 1, "ea": 7, "base_date": "14", "dkga": 2}
    data = sts.MeterKeyData(iin="600727", drn="00000000000", sgc="123456", krn=1, kt=2, **loose)  # type: ignore[arg-type]
    assert (data.ti, data.ea, data.base_date, data.dkga) == ("01", "07", 2014, "02")
    assert data.meter_pan == "600727000000000009"
    assert data.key_id == "123456/1"
