"""EA09 (DEA: single DES on the data block) and the DES primitive used by DKGA02.

EA09 is withdrawn in IEC 62055-41 Ed.3 ("shall not be used in new products") but meters in the
field may still use it, so it is kept for decoding and for the simulator. DES comes from
``cryptography``: its TripleDES with the 8-byte key repeated three times is exactly single DES
(EDE with K1 = K2 = K3), which avoids both a home-made DES and the deprecated 8-byte-key form.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from sts.exceptions import InvalidFieldError

__all__ = ["DeaCipher", "des_decrypt_block", "des_encrypt_block"]


def _single_des(key: bytes) -> Cipher[modes.ECB]:
    if not isinstance(key, bytes | bytearray) or len(key) != 8:
        size = len(key) if isinstance(key, bytes | bytearray) else "?"
        raise InvalidFieldError("key", f"<{size} bytes>", "DES needs a 64-bit (8-byte) key")
    # ECB is what the standard specifies: one independent 64-bit block per token or derivation.
    return Cipher(TripleDES(bytes(key) * 3), modes.ECB())  # noqa: S305


def des_encrypt_block(key: bytes, block: bytes) -> bytes:
    """DES-encrypt one 8-byte block (FIPS 46-3, parity bits ignored)."""
    encryptor = _single_des(key).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def des_decrypt_block(key: bytes, block: bytes) -> bytes:
    decryptor = _single_des(key).decryptor()
    return decryptor.update(block) + decryptor.finalize()


class DeaCipher:
    """EA09 with one decoder key; ``encrypt``/``decrypt`` work on 64-bit integers."""

    __slots__ = ("_cipher",)

    def __init__(self, decoder_key: bytes) -> None:
        self._cipher = _single_des(decoder_key)

    def __repr__(self) -> str:
        return "DeaCipher()"

    def encrypt(self, block: int) -> int:
        # A fresh context per block keeps the object safe to share between threads.
        encryptor = self._cipher.encryptor()
        return int.from_bytes(encryptor.update(block.to_bytes(8, "big")), "big")

    def decrypt(self, block: int) -> int:
        decryptor = self._cipher.decryptor()
        return int.from_bytes(decryptor.update(block.to_bytes(8, "big")), "big")
