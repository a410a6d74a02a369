"""Encryption algorithm codes (EA) and the block-cipher interface the token layer uses.

Tokens of class 0 and 2 encrypt their 64-bit data block with the meter's decoder key under the
meter's EA: 07 = STA, 09 = DEA (single DES, withdrawn), 11 = MISTY1. Everything above this module
sees only ``BlockCipher`` (encrypt/decrypt a 64-bit integer), so callers can build a cipher once
per decoder key and reuse it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from sts.dea import DeaCipher
from sts.exceptions import InvalidFieldError
from sts.misty1 import Misty1Cipher
from sts.sta import StaCipher

__all__ = ["BlockCipher", "EncryptionAlgorithm", "cipher_for", "parse_ea"]


class EncryptionAlgorithm(StrEnum):
    """The EA code as written in meter records ("07", "09", "11")."""

    EA07 = "07"  # STA, 64-bit key
    EA09 = "09"  # DEA (DES), 64-bit key; withdrawn in Ed.3, kept for existing meters
    EA11 = "11"  # MISTY1, 128-bit key

    @property
    def key_bytes(self) -> int:
        return 16 if self is EncryptionAlgorithm.EA11 else 8


class BlockCipher(Protocol):
    """A 64-bit block cipher bound to one decoder key."""

    def encrypt(self, block: int) -> int: ...

    def decrypt(self, block: int) -> int: ...


def parse_ea(value: object) -> EncryptionAlgorithm:
    """Accept "07"/"7"/7/"EA07" (and likewise 09, 11)."""
    if isinstance(value, EncryptionAlgorithm):
        return value
    text = str(value).strip().upper()
    text = text.removeprefix("EA")
    if text.isdigit():
        text = f"{int(text):02d}"
    try:
        return EncryptionAlgorithm(text)
    except ValueError:
        raise InvalidFieldError("ea", value, "must be 07 (STA), 09 (DEA) or 11 (MISTY1)") from None


def cipher_for(ea: EncryptionAlgorithm | str, decoder_key: bytes) -> BlockCipher:
    """The block cipher for ``ea`` keyed with ``decoder_key`` (8 bytes, or 16 for EA11)."""
    algorithm = parse_ea(ea)
    if algorithm is EncryptionAlgorithm.EA07:
        return StaCipher(decoder_key)
    if algorithm is EncryptionAlgorithm.EA09:
        return DeaCipher(decoder_key)
    return Misty1Cipher(decoder_key)
