"""Decoder key generation: DKGA02 (DES) and DKGA04 (HMAC-SHA-256) (IEC 62055-41 6.5.3).

A meter's decoder key is derived from the supply group's vending key and the meter's identity and
key attributes, so one vending key serves every meter of the group and a decoder key is useless
for any other meter. DKGA02 encrypts PANBlock XOR CONTROLBlock with single DES under the 64-bit
vending key and whitens the result (DK = DES(VK, D) ^ D ^ VK). DKGA04 (Ed.3) is an HMAC-SHA-256 of
a length-prefixed record of the key attributes under a 160-bit vending key, truncated to 64 bits
for EA07 or 128 bits for EA11; since the base date and EA are inputs, changing either changes
the key.

DKGA01 (legacy, tables not public) and DKGA03 (withdrawn TDES) are not provided.
Decoder keys are returned as big-endian bytes, the DES output order.
"""

from __future__ import annotations

import hmac

from sts.dea import des_encrypt_block
from sts.encryption import EncryptionAlgorithm, parse_ea
from sts.exceptions import InvalidFieldError
from sts.meter_identity import pan_block
from sts.tid import base_date_code

__all__ = ["control_block", "dkga02", "dkga04", "validate_key_attributes"]

DKGA02_VENDING_KEY_BYTES = 8
DKGA04_VENDING_KEY_BYTES = 20


def _digits(field: str, value: object, length: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:0{length}d}"
    if not isinstance(value, str) or len(value) != length or not value.isascii():
        raise InvalidFieldError(field, value, f"must be {length} digits")
    if not value.isdigit():
        raise InvalidFieldError(field, value, f"must be {length} digits")
    return value


def _small_int(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidFieldError(field, value, f"must be an integer {low}..{high}")
    return value


def validate_key_attributes(
    kt: object, sgc: object, ti: object, krn: object
) -> tuple[int, str, str, int]:
    """Normalise (KT 0..3, SGC 6 digits, TI 2 digits, KRN 1..9)."""
    return (
        _small_int("kt", kt, 0, 3),
        _digits("sgc", sgc, 6),
        _digits("ti", ti, 2),
        _small_int("krn", krn, 1, 9),
    )


def _vending_key(value: object, length: int, dkga: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise InvalidFieldError("vending_key", f"<{type(value).__name__}>", "must be bytes")
    if len(value) != length:
        raise InvalidFieldError(
            "vending_key",
            f"<{len(value)} bytes>",
            f"DKGA{dkga} needs a {8 * length}-bit ({length}-byte) vending key",
        )
    return bytes(value)


def control_block(kt: int, sgc: str, ti: str, krn: int) -> bytes:
    """CONTROLBlock = KT | SGC | TI | KRN | FFFFFF as 16 hex nibbles (TI's two decimal digits
    are written as two nibbles, e.g. TI 99 -> 0x99)."""
    kt, sgc, ti, krn = validate_key_attributes(kt, sgc, ti, krn)
    return bytes.fromhex(f"{kt:X}{sgc}{ti}{krn:X}FFFFFF")


def dkga02(vending_key: bytes, iin: str, drn: str, kt: int, sgc: str, ti: str, krn: int) -> bytes:
    """DKGA02 decoder key (8 bytes) for EA07/EA09 meters."""
    key = _vending_key(vending_key, DKGA02_VENDING_KEY_BYTES, "02")
    data = int.from_bytes(pan_block(iin, drn), "big") ^ int.from_bytes(
        control_block(kt, sgc, ti, krn), "big"
    )
    data_bytes = data.to_bytes(8, "big")
    encrypted = int.from_bytes(des_encrypt_block(key, data_bytes), "big")
    return (encrypted ^ data ^ int.from_bytes(key, "big")).to_bytes(8, "big")


def _length_prefixed(value: str) -> bytes:
    encoded = value.encode("ascii")
    return bytes((len(encoded),)) + encoded


def dkga04(
    vending_key: bytes,
    meter_pan: str,
    kt: int,
    sgc: str,
    ti: str,
    krn: int,
    base_date: int,
    ea: EncryptionAlgorithm | str,
) -> bytes:
    """DKGA04 decoder key: 8 bytes for EA07, 16 bytes for EA11."""
    key = _vending_key(vending_key, DKGA04_VENDING_KEY_BYTES, "04")
    algorithm = parse_ea(ea)
    if algorithm is EncryptionAlgorithm.EA09:
        raise InvalidFieldError("ea", ea, "DKGA04 is defined for EA07 and EA11 only")
    kt, sgc, ti, krn = validate_key_attributes(kt, sgc, ti, krn)
    pan = _digits("meter_pan", meter_pan, 18)
    bits = 8 * algorithm.key_bytes
    data = b"".join(
        (
            b"\x04",
            _length_prefixed("04"),
            _length_prefixed(base_date_code(base_date)),
            _length_prefixed(algorithm.value),
            _length_prefixed(ti),
            b"\x00\x04",
            _length_prefixed(sgc),
            _length_prefixed(f"{kt:X}"),
            _length_prefixed(f"{krn:X}"),
            _length_prefixed(pan),
            bits.to_bytes(4, "big"),
        )
    )
    return hmac.digest(key, data, "sha256")[: algorithm.key_bytes]
