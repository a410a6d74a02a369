"""Every published vector, through the library, layer by layer.

Token vectors are checked at each layer they describe: the decoder key derivation, the TID of
the issue time, the plaintext block, the 20 digits, and decoding back to the same fields.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

import sts
from sts.crc import sts_crc
from sts.meter_identity import luhn_check_digit
from sts.misty1 import misty1_key_schedule
from sts.payloads import payload_from_body
from sts.token import build_block, insert_class, remove_class
from tests.support.sts_vectors import (
    KINDS,
    Vector,
    all_vectors,
    amount_tenths_of,
    base_year_of,
    currency_amount_of,
    ken_of,
    new_key_hex_of,
    new_sgc_of,
    rnd_of,
    value_field_of,
)

# Kinds the full published set may hold that are deliberately not checked here: a vendor scheme
# that is "not a standard vector" (REFERENCE.md 9), and the IEC 6.4.2 class-bit example, whose
# values test_token.test_iec_class_bits_example already checks.
NOT_CHECKED = {"vendor_key_derivation_unverified", "class_bit_transposition"}


def test_every_required_kind_is_present() -> None:
    present = {v["kind"] for v in all_vectors()}
    assert set(KINDS) <= present


def test_no_vector_goes_unchecked() -> None:
    unknown = {v["kind"] for v in all_vectors()} - set(KINDS) - NOT_CHECKED
    assert not unknown, f"vectors of kinds no test checks: {sorted(unknown)}"


# --------------------------------------------------------------------------- building blocks


@pytest.mark.sts_vectors("crc16")
def test_crc16(vector: Vector) -> None:
    data = bytes.fromhex(vector["inputs"]["bytes_hex"])
    assert f"{sts_crc(data):04X}" == vector["expected"]


@pytest.mark.sts_vectors("tid")
def test_tid(vector: Vector) -> None:
    inputs = vector["inputs"]
    issued = datetime.strptime(inputs["issue_datetime"], "%Y-%m-%d %H:%M")
    base = int(inputs["base_date"][:4])
    assert sts.tid_for(issued, base) == vector["expected"]
    assert sts.next_tid(issued, base, None) == vector["expected"]


@pytest.mark.sts_vectors("amount_encode")
def test_amount_encode(vector: Vector) -> None:
    amount = vector["inputs"]["transfer_amount_0.1_units"]
    expected = vector["expected"]
    field = sts.encode_amount(amount)
    assert f"{field:04X}" == expected["field_hex"]
    assert field >> 14 == expected["exponent"]
    assert field & 0x3FFF == expected["mantissa"]
    assert sts.decode_amount(field) == expected["decodes_to"]


@pytest.mark.sts_vectors("meter_pan")
def test_meter_pan(vector: Vector) -> None:
    pan = vector["inputs"]["meter_pan_18"]
    expected = vector["expected"]
    meter = sts.parse_meter_pan(pan)
    assert meter.iin == expected["IIN"]
    assert meter.drn == expected["DRN"]
    assert meter.pan == pan
    assert luhn_check_digit(pan[:17]) == expected["pan_check_digit_luhn_over_first_17"]
    assert luhn_check_digit(meter.drn[:-1]) == expected["drn_check_digit_luhn_over_drn_minus_last"]
    assert meter.pan_block.hex().upper() == expected["PANBlock_hex"]
    assert sts.validate_drn(meter.drn) == meter.drn


@pytest.mark.sts_vectors("drn_luhn_invalid")
def test_invalid_drn_names_the_correct_check_digit(vector: Vector) -> None:
    drn = vector["inputs"]["drn"]
    expected_digit = vector["expected"].split("would be")[1].strip(" )")
    with pytest.raises(sts.CheckDigitError) as raised:
        sts.validate_drn(drn)
    assert raised.value.expected == expected_digit
    assert raised.value.found == drn[-1]
    assert f"would be {expected_digit}" in str(raised.value)


@pytest.mark.sts_vectors("dkga02")
def test_dkga02(vector: Vector) -> None:
    i = vector["inputs"]
    vending_key = bytes.fromhex(i["vending_key_hex"])
    assert sts.pan_block(i["IIN"], i["DRN"]).hex().upper() == i["PANBlock_hex"]
    assert (
        sts.control_block(i["KT"], i["SGC"], i["TI"], i["KRN"]).hex().upper()
        == (i["CONTROLBlock_hex"])
    )
    key = sts.dkga02(vending_key, i["IIN"], i["DRN"], i["KT"], i["SGC"], i["TI"], i["KRN"])
    assert key.hex().upper() == vector["expected"]


@pytest.mark.sts_vectors("dkga04")
def test_dkga04(vector: Vector) -> None:
    i = vector["inputs"]
    key = sts.dkga04(
        bytes.fromhex(i["vending_key_hex"]),
        i["meter_pan"],
        i["KT"],
        i["SGC"],
        i["TI"],
        i["KRN"],
        i["base_date_code"],
        i["ea"],
    )
    assert key.hex().upper() == vector["expected"].upper()


@pytest.mark.sts_vectors("misty1_encrypt")
def test_misty1(vector: Vector) -> None:
    i = vector["inputs"]
    cipher = sts.Misty1Cipher(bytes.fromhex(i["key_hex"]))
    plain = int(i["plaintext_hex"], 16)
    assert f"{cipher.encrypt(plain):016x}" == vector["expected"].lower()
    assert cipher.decrypt(int(vector["expected"], 16)) == plain


@pytest.mark.sts_vectors("misty1_keyschedule")
def test_misty1_key_schedule(vector: Vector) -> None:
    _, k_prime = misty1_key_schedule(bytes.fromhex(vector["inputs"]["key_hex"]))
    assert "".join(f"{word:04x}" for word in k_prime) == vector["expected"]["K_prime_hex"].lower()


@pytest.mark.sts_vectors("sta_encrypt_sample_tables")
def test_sta_with_the_iec_sample_tables(vector: Vector) -> None:
    i = vector["inputs"]
    expected = vector["expected"]
    cipher = sts.StaCipher(bytes.fromhex(i["decoder_key_hex"]), sts.SAMPLE_TABLES)
    plain = int(i["plaintext_block_hex"], 16)
    encrypted = cipher.encrypt(plain)
    assert f"{encrypted:016X}" == expected["ciphertext_hex"]
    assert cipher.decrypt(encrypted) == plain
    value = insert_class(encrypted, i["class"])
    assert f"{value:017X}" == expected["token66_hex"]
    assert f"{value:020d}" == expected["token20"]
    assert remove_class(value) == (i["class"], encrypted)


# --------------------------------------------------------------------------- tokens


def _check_derivation(inputs: Vector) -> None:
    derivation = inputs.get("decoder_key_derivation")
    if derivation is None:
        return
    vending_key = bytes.fromhex(derivation["vending_key_hex"])
    if derivation["dkga"] == "02":
        key = sts.dkga02(
            vending_key,
            derivation["IIN"],
            derivation["DRN"],
            derivation["KT"],
            derivation["SGC"],
            derivation["TI"],
            derivation["KRN"],
        )
    else:
        key = sts.dkga04(
            vending_key,
            derivation["meter_pan"],
            derivation["KT"],
            derivation["SGC"],
            derivation["TI"],
            derivation["KRN"],
            derivation["base_date_code"],
            derivation["ea"],
        )
    assert key.hex().upper() == inputs["decoder_key_hex"].upper()


def _check_tid(inputs: Vector) -> None:
    year = base_year_of(inputs)
    if year is None or "issue_datetime" not in inputs:
        return
    issued = datetime.strptime(inputs["issue_datetime"], "%Y-%m-%d %H:%M")
    assert sts.tid_for(issued, year) == inputs["tid"]


def _payload(vector: Vector) -> sts.TokenPayload:
    """The payload from the vector's meaningful fields where it has them (amounts, watts,
    register, currency), else from its raw field."""
    i = vector["inputs"]
    token_class, subclass = i["class"], i["subclass"]
    if token_class == 0 and subclass < 4:
        amount = amount_tenths_of(i)
        if amount is not None:
            return sts.TransferCredit.rounded(subclass, i["tid"], amount, rnd_of(i))
    elif token_class == 0:
        amount_text = currency_amount_of(i)
        if amount_text is not None:
            return sts.CurrencyTransfer.rounded(subclass, i["tid"], Decimal(amount_text))
    elif token_class == 1:
        if subclass == 0:
            return sts.MeterTest(0, int(i["control_36bit_hex"], 16), i["mfr_code_8bit"])
        if subclass == 1:
            return sts.MeterTest(1, int(i["control_28bit_hex"], 16), i["mfr_code_16bit"])
        return payload_from_body(1, subclass, int(i["body_44bit_hex"], 16))
    elif subclass == 0 and "mpl_watts" in i:
        return sts.SetMaximumPowerLimit.rounded(i["tid"], i["mpl_watts"], rnd_of(i))
    elif subclass == 6 and "mppul_watts" in i:
        return sts.SetMaximumPhasePowerUnbalanceLimit.rounded(i["tid"], i["mppul_watts"], rnd_of(i))
    elif subclass == 1 and "register" in i:
        return sts.ClearCredit(i["tid"], i["register"], rnd_of(i))
    value = value_field_of(i)
    assert value is not None, "vector without a value field"
    return payload_from_body(token_class, subclass, rnd_of(i) << 40 | i["tid"] << 16 | value)


@pytest.mark.sts_vectors(
    "token_class0", "token_class0_currency", "token_class1", "token_class2", "token_class2_extended"
)
def test_token(vector: Vector) -> None:
    i = vector["inputs"]
    _check_derivation(i)
    if "tid" in i:
        _check_tid(i)
    payload = _payload(vector)
    if "plaintext_block_hex" in i:
        assert f"{build_block(payload):016X}" == i["plaintext_block_hex"]
    key = bytes.fromhex(i["decoder_key_hex"]) if "decoder_key_hex" in i else None
    token = sts.encode_token(payload, key, i.get("ea"))
    assert token.number == vector["expected"]
    decoded = sts.decode_token(vector["expected"], key, i.get("ea"))
    assert decoded.crc_ok
    assert decoded.payload == payload
    assert (decoded.token_class, decoded.subclass) == (i["class"], i["subclass"])
    value = value_field_of(i)
    if value is not None:
        assert decoded.block >> 16 & 0xFFFF == value
    if "tid" in i:
        assert decoded.tid == i["tid"]


@pytest.mark.sts_vectors("token_class0_currency_decode")
def test_currency_decode(vector: Vector) -> None:
    i = vector["inputs"]
    expected = vector["expected"]
    decoded = sts.decode_token(i["token"], bytes.fromhex(i["decoder_key_hex"]), i["ea"])
    assert decoded.crc_ok
    assert (decoded.token_class, decoded.subclass) == (expected["class"], expected["subclass"])
    payload = decoded.payload
    assert isinstance(payload, sts.CurrencyTransfer)
    assert payload.tid == expected["tid"]
    assert payload.se_nibble == expected["se_nibble"]
    assert f"{payload.amount_field:04X}" == expected["amount_field_hex"]
    assert f"{decoded.crc:04X}" == expected["crc_c_hex"]


def _key_change_payload(i: Vector) -> sts.TokenPayload:
    """From the section fields when the vector gives them, else by splitting the new key."""
    subclass = i["subclass"]
    if subclass == 3 and "NKHO_hex" in i:
        return sts.Set1stSectionDecoderKey(
            i["KENHO"], i["KRN"], bool(i["RO"]), i["RES_3KCT"], i["KT"], int(i["NKHO_hex"], 16)
        )
    if subclass == 4 and "NKLO_hex" in i:
        return sts.Set2ndSectionDecoderKey(i["KENLO"], i["TI"], int(i["NKLO_hex"], 16))
    if subclass == 8 and "NKMO2_hex" in i:
        return sts.Set3rdSectionDecoderKey(i["SGCLO"], int(i["NKMO2_hex"], 16))
    if subclass == 9 and "NKMO1_hex" in i:
        return sts.Set4thSectionDecoderKey(i["SGCHO"], int(i["NKMO1_hex"], 16))
    new_key = bytes.fromhex(new_key_hex_of(i))
    payloads = sts.key_change_payloads(
        new_key,
        ken=ken_of(i),
        krn=i["KRN"],
        kt=i["KT"],
        ti=i["TI"],
        ro=bool(i["RO"]),
        new_sgc=new_sgc_of(i),
        res_3kct=i["RES_3KCT"],
    )
    (payload,) = [p for p in payloads if p.subclass == subclass]
    return payload


@pytest.mark.sts_vectors("token_class2_keychange")
def test_key_change_token(vector: Vector) -> None:
    i = vector["inputs"]
    _check_derivation(i)
    payload = _key_change_payload(i)
    if "plaintext_block_hex" in i:
        assert f"{build_block(payload):016X}" == i["plaintext_block_hex"]
    key = bytes.fromhex(i["decoder_key_hex"])
    assert sts.encode_token(payload, key, i["ea"]).number == vector["expected"]
    decoded = sts.decode_token(vector["expected"], key, i["ea"])
    assert decoded.crc_ok
    assert decoded.payload == payload
    if "new_decoder_key_hex" in i:
        # The section the token carries is the right slice of the new key.
        new_key = int(i["new_decoder_key_hex"], 16)
        bits = 4 * len(i["new_decoder_key_hex"])
        section = {
            3: new_key >> (bits - 32),
            4: new_key & 0xFFFFFFFF,
            8: (new_key >> 64) & 0xFFFFFFFF,
            9: (new_key >> 32) & 0xFFFFFFFF,
        }[i["subclass"]]
        assert decoded.block >> 16 & 0xFFFFFFFF == section
