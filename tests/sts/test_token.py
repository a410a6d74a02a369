"""Tokens: encode then decode gives the fields back for every kind; a mistyped digit is caught."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from sts.token import from_digits, insert_class, normalize_token, remove_class
from tests.support.sts_strategies import ea_and_keys, payloads

SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(payloads, ea_and_keys())
def test_encode_then_decode_gives_the_fields_back(
    payload: sts.TokenPayload, ea_key: tuple[str, bytes]
) -> None:
    ea, key = ea_key
    token = sts.encode_token(payload, key, ea)
    assert len(token.number) == 20 and token.number.isdigit()
    decoded = sts.decode_token(token.number, key, ea)
    assert decoded.crc_ok
    assert decoded.payload == payload
    assert (decoded.token_class, decoded.subclass) == (payload.token_class, payload.subclass)
    assert decoded.tid == token.tid


# Changing one digit leaves a valid CRC with probability about 2^-16 (a 16-bit check), so this
# property runs on a fixed (derandomized) set of examples, which was seen to pass.
@settings(max_examples=400, deadline=None, derandomize=True)
@given(payloads, ea_and_keys(), st.integers(0, 19), st.integers(1, 9))
def test_a_token_with_one_digit_changed_is_rejected(
    payload: sts.TokenPayload, ea_key: tuple[str, bytes], position: int, shift: int
) -> None:
    ea, key = ea_key
    digits = sts.encode_token(payload, key, ea).number
    changed = str((int(digits[position]) + shift) % 10)
    mistyped = digits[:position] + changed + digits[position + 1 :]
    try:
        decoded = sts.decode_token(mistyped, key, ea)
    except sts.TokenFormatError:
        return  # above 2^66 - 1: not a token at all
    assert not decoded.crc_ok


@SETTINGS
@given(st.integers(0, 2**64 - 1), st.integers(0, 3))
def test_class_bits_transposition_round_trips(block: int, token_class: int) -> None:
    value = insert_class(block, token_class)
    assert value < 2**66
    assert (value >> 27) & 3 == token_class
    assert remove_class(value) == (token_class, block)


def test_iec_class_bits_example() -> None:
    value = insert_class(0x6543210987654321, 1)
    assert f"{value:017X}" == "0654321098F654321"
    assert f"{value:020d}" == "07296712146214535969"


@pytest.mark.parametrize(
    "text", ["1234", "1234567890123456789a", "123456789012345678901", "", "٠" * 20]
)
def test_malformed_tokens_are_refused(text: str) -> None:
    with pytest.raises(sts.TokenFormatError):
        sts.decode_token(text, bytes(8), "07")


def test_a_number_above_66_bits_is_not_a_token() -> None:
    with pytest.raises(sts.TokenFormatError) as raised:
        from_digits("73786976294838206464")  # 2^66
    assert "66 bits" in str(raised.value)
    assert from_digits("73786976294838206463") == 2**66 - 1


def test_typed_separators_are_ignored() -> None:
    assert normalize_token("2371 6100 5011-8319 4197") == "23716100501183194197"
    token = sts.encode_token(
        sts.TransferCredit(0, 5871715, 1, 5), bytes.fromhex("E653341F9D5BF36F"), "07"
    )
    assert token.formatted == "2371 6100 5011 8319 4197"
    assert str(token) == token.number == token.digits


def test_encrypted_classes_need_a_key() -> None:
    with pytest.raises(sts.InvalidFieldError):
        sts.encode_token(sts.ClearTamperCondition(1))
    with pytest.raises(sts.InvalidFieldError):
        sts.decode_token("23716100501183194197")


def test_encoding_refuses_a_tid_beyond_the_ken() -> None:
    payload = sts.TransferCredit(0, 0x550000, 10)
    with pytest.raises(sts.KeyExpiredError):
        sts.encode_token(payload, bytes(8), "07", ken=0x54)
    sts.encode_token(payload, bytes(8), "07", ken=0x55)


def test_amounts_that_need_rounding_must_say_so() -> None:
    with pytest.raises(sts.AmountRangeError) as raised:
        sts.TransferCredit(0, 1, 20000)
    assert "20004" in str(raised.value)
    assert sts.TransferCredit.rounded(0, 1, 20000).amount_tenths == 20004
    with pytest.raises(sts.AmountRangeError):
        sts.CurrencyTransfer(4, 1, Decimal("1"))
    assert sts.CurrencyTransfer.rounded(4, 1, "1").amount == Decimal("1.00004")
    assert sts.SetMaximumPowerLimit.rounded(1, 20000).watts == 20004


@pytest.mark.parametrize(
    "build",
    [
        lambda: sts.TransferCredit(4, 1, 1),
        lambda: sts.TransferCredit(0, 2**24, 1),
        lambda: sts.TransferCredit(0, 1, 1, rnd=16),
        lambda: sts.CurrencyTransfer(3, 1, Decimal(1)),
        lambda: sts.MeterTest(0, 2**36, 0),
        lambda: sts.MeterTest(1, 2**28, 0),
        lambda: sts.MeterTest(3, 0, 0),
        lambda: sts.ClearCredit(1, 0x10000),
        lambda: sts.Set1stSectionDecoderKey(16, 1, False, 0, 2, 0),
        lambda: sts.Set2ndSectionDecoderKey(0, 256, 0),
        lambda: sts.Set3rdSectionDecoderKey(0x1000, 0),
    ],
)
def test_out_of_range_fields_are_refused(build: object) -> None:
    with pytest.raises(sts.InvalidFieldError):
        build()  # type: ignore[operator]


def test_test_token_is_class_1_and_fits_any_key() -> None:
    token = sts.test_token(control=(1 << 36) - 1, mfr_code=42)
    assert (token.token_class, token.subclass) == (1, 0)
    assert sts.decode_token(token.number).payload == sts.MeterTest(0, (1 << 36) - 1, 42)
    four = sts.test_token(control=(1 << 28) - 1, mfr_code=1234, four_digit_mfr=True)
    assert four.subclass == 1
    assert sts.decode_token(four.number).crc_ok


def test_reserved_classes_decode_as_reserved() -> None:
    value = insert_class(0xB000000000000000, 2)  # class 2 subclass 11
    decoded = sts.decode_token(f"{value:020d}", cipher=_Identity())
    assert isinstance(decoded.payload, sts.ReservedToken)
    assert not decoded.crc_ok


class _Identity:
    def encrypt(self, block: int) -> int:
        return block

    def decrypt(self, block: int) -> int:
        return block
