"""Key change sets: 2 tokens for 64-bit keys, 4 for 128-bit keys, applied only when complete."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts

SETTINGS = settings(max_examples=100, deadline=None)

sgcs = st.integers(0, 999999).map(lambda n: f"{n:06d}")


@st.composite
def key_changes(draw: st.DrawFn) -> dict[str, object]:
    size = draw(st.sampled_from([8, 16]))
    return {
        "new_decoder_key": draw(st.binary(min_size=size, max_size=size)),
        "ken": draw(st.integers(0, 255)),
        "krn": draw(st.integers(1, 9)),
        "kt": draw(st.integers(0, 3)),
        "ti": draw(st.integers(0, 99)),
        "ro": draw(st.booleans()),
        "new_sgc": draw(sgcs) if size == 16 else None,
    }


@SETTINGS
@given(key_changes(), st.data())
def test_a_set_applies_only_when_complete_in_any_order(
    change: dict[str, object], data: st.DataObject
) -> None:
    parts = sts.key_change_payloads(**change)  # type: ignore[arg-type]
    key = change["new_decoder_key"]
    assert isinstance(key, bytes)
    assert len(parts) == (2 if len(key) == 8 else 4)
    order = data.draw(st.permutations(parts))
    collector = sts.KeyChangeCollector(len(key))
    for part in order[:-1]:
        assert collector.add(part) is None
    new = collector.add(order[-1])
    assert new == sts.NewKeyData(
        decoder_key=key,
        ken=change["ken"],  # type: ignore[arg-type]
        krn=change["krn"],  # type: ignore[arg-type]
        kt=change["kt"],  # type: ignore[arg-type]
        ti=change["ti"],  # type: ignore[arg-type]
        ro=change["ro"],  # type: ignore[arg-type]
        res_3kct=0,
        sgc=change["new_sgc"],  # type: ignore[arg-type]
    )
    assert collector.pending == frozenset()


def test_an_incomplete_128_bit_set_never_applies() -> None:
    parts = sts.key_change_payloads(bytes(range(16)), ken=255, krn=1, kt=2, ti=1, new_sgc="123457")
    for subset in itertools.combinations(parts, 3):
        collector = sts.KeyChangeCollector(16)
        assert all(collector.add(part) is None for part in subset)


def test_repeating_a_token_of_the_set_does_not_complete_it() -> None:
    first, _second = sts.key_change_payloads(bytes(8), ken=255, krn=1, kt=2, ti=1)
    collector = sts.KeyChangeCollector(8)
    assert collector.add(first) is None
    assert collector.add(first) is None
    assert collector.pending == {3}


def test_sgc_is_split_into_its_24_bit_halves() -> None:
    parts = sts.key_change_payloads(bytes(16), ken=255, krn=1, kt=2, ti=1, new_sgc="123457")
    third, fourth = parts[2], parts[3]
    assert isinstance(third, sts.Set3rdSectionDecoderKey)
    assert isinstance(fourth, sts.Set4thSectionDecoderKey)
    assert (fourth.sgc_high, third.sgc_low) == (30, 577)  # 123457 = 0x01E241


def test_ti_travels_as_binary() -> None:
    _, second = sts.key_change_payloads(bytes(8), ken=255, krn=1, kt=2, ti="99")
    assert isinstance(second, sts.Set2ndSectionDecoderKey)
    assert second.ti == 0x63


def test_a_128_bit_set_needs_the_sgc() -> None:
    with pytest.raises(sts.KeyChangeError):
        sts.key_change_payloads(bytes(16), ken=255, krn=1, kt=2, ti=1)


def test_a_64_bit_meter_refuses_128_bit_sections() -> None:
    parts = sts.key_change_payloads(bytes(16), ken=255, krn=1, kt=2, ti=1, new_sgc="123457")
    with pytest.raises(sts.KeyChangeError):
        sts.KeyChangeCollector(8).add(parts[2])


def test_key_change_tokens_are_encrypted_with_the_current_key() -> None:
    current = bytes.fromhex("E653341F9D5BF36F")
    tokens = sts.key_change_tokens(
        bytes.fromhex("060B8643C59A27F1"), ken=255, krn=1, kt=2, ti=2, decoder_key=current, ea="07"
    )
    # Published: Set1st/Set2nd for new key 060B8643C59A27F1 under E653341F9D5BF36F.
    assert [t.number for t in tokens] == ["51638423060042734509", "15361891762113502242"]
    assert all(sts.decode_token(t.number, current, "07").crc_ok for t in tokens)
