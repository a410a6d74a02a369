"""EA07 STA, EA09 DEA and EA11 MISTY1: table-driven implementations against the textbook ones.

The STA reference below is the bit-by-bit algorithm as IEC 62055-41 describes it (encryption in
6.5.4.4; decryption in 7.3 with its own tables D1, D2 and the inverse permutation), written
independently of sts/sta.py's precomputed tables.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from sts.dea import des_encrypt_block
from sts.sta import PRODUCTION_TABLES

SETTINGS = settings(max_examples=150, deadline=None)
M64 = (1 << 64) - 1

D1 = [12, 6, 2, 7, 13, 9, 5, 4, 1, 10, 14, 8, 0, 3, 15, 11]
D2 = [9, 11, 6, 5, 12, 7, 14, 2, 13, 3, 1, 15, 4, 8, 0, 10]
PINV = [
    55, 54, 8, 25, 27, 47, 16, 26, 59, 14, 2, 51, 18, 46, 61, 52, 23, 53, 3, 37, 29, 5, 9, 42,
    4, 31, 63, 12, 45, 39, 43, 41, 28, 35, 57, 7, 17, 20, 21, 50, 48, 44, 1, 11, 6, 62, 38, 60,
    40, 36, 15, 32, 33, 22, 34, 0, 10, 56, 13, 58, 49, 19, 24, 30,
]  # fmt: skip


def _ror(value: int, n: int) -> int:
    return ((value >> n) | (value << (64 - n))) & M64


def _rol(value: int, n: int) -> int:
    return ((value << n) | (value >> (64 - n))) & M64


def reference_encrypt(key: int, block: int) -> int:
    s1, s2, p = PRODUCTION_TABLES.s1, PRODUCTION_TABLES.s2, PRODUCTION_TABLES.p
    k = _ror(~key & M64, 12)
    for _ in range(16):
        substituted = 0
        for i in range(16):
            nibble = (block >> (4 * i)) & 15
            box = s2 if (k >> (4 * i + 3)) & 1 else s1
            substituted |= box[nibble] << (4 * i)
        block = 0
        for j in range(64):
            if (substituted >> j) & 1:
                block |= 1 << p[j]
        k = _rol(k, 1)
    return block


def reference_decrypt(key: int, block: int) -> int:
    k = key
    for _ in range(16):
        permuted = 0
        for j in range(64):
            if (block >> j) & 1:
                permuted |= 1 << PINV[j]
        block = 0
        for i in range(16):
            nibble = (permuted >> (4 * i)) & 15
            box = D2 if (k >> (4 * i)) & 1 else D1
            block |= box[nibble] << (4 * i)
        k = _ror(k, 1)
    return block


keys8 = st.binary(min_size=8, max_size=8)
keys16 = st.binary(min_size=16, max_size=16)
blocks = st.integers(0, M64)


@SETTINGS
@given(keys8, blocks)
def test_sta_matches_the_bitwise_description(key: bytes, block: int) -> None:
    cipher = sts.StaCipher(key)
    encrypted = cipher.encrypt(block)
    assert encrypted == reference_encrypt(int.from_bytes(key, "big"), block)
    assert reference_decrypt(int.from_bytes(key, "big"), encrypted) == block
    assert cipher.decrypt(encrypted) == block


@SETTINGS
@given(keys8, blocks)
def test_sta_sample_tables_round_trip(key: bytes, block: int) -> None:
    cipher = sts.StaCipher(key, sts.SAMPLE_TABLES)
    assert cipher.decrypt(cipher.encrypt(block)) == block


@SETTINGS
@given(keys16, blocks)
def test_misty1_round_trips(key: bytes, block: int) -> None:
    cipher = sts.Misty1Cipher(key)
    assert cipher.decrypt(cipher.encrypt(block)) == block


@SETTINGS
@given(keys8, blocks)
def test_dea_is_single_des(key: bytes, block: int) -> None:
    cipher = sts.DeaCipher(key)
    encrypted = cipher.encrypt(block)
    assert encrypted.to_bytes(8, "big") == des_encrypt_block(key, block.to_bytes(8, "big"))
    assert cipher.decrypt(encrypted) == block


def test_des_known_answer() -> None:
    # FIPS 81 / classic DES example: key 0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815.
    key = bytes.fromhex("0123456789ABCDEF")
    assert des_encrypt_block(key, b"Now is t").hex().upper() == "3FA40E8A984D4815"


@pytest.mark.parametrize(
    ("ea", "size"), [("07", 8), ("09", 8), ("11", 16), (sts.EncryptionAlgorithm.EA11, 16)]
)
def test_cipher_for_checks_the_key_size(ea: str, size: int) -> None:
    sts.cipher_for(ea, bytes(size))
    with pytest.raises(sts.InvalidFieldError) as raised:
        sts.cipher_for(ea, bytes(size + 1))
    assert "bytes" in str(raised.value)
    assert str(bytes(size + 1)) not in str(raised.value)


def test_unknown_ea_is_refused() -> None:
    with pytest.raises(sts.InvalidFieldError):
        sts.cipher_for("08", bytes(8))


def test_cipher_reprs_show_no_key() -> None:
    key = bytes.fromhex("0ABC12DEF3456789")
    for cipher in (sts.StaCipher(key), sts.DeaCipher(key), sts.Misty1Cipher(key * 2)):
        assert "0abc" not in repr(cipher).lower()
