"""A new batch's PINs, sealed until its one export.

Between `voucher batch create` and `voucher batch export` the PINs must exist somewhere, or the
print file could not be written; they wait in the batch row, AES-256-GCM under the seal key
derived from the master key (core/keys.py), with the batch's first serial as associated data (a
sealed blob moved to another batch does not open). The export opens them, encrypts the print
file to the printer's age key and clears the blob in the same transaction: after it the PINs
exist nowhere in the gateway.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.vouchers.pins import PIN_LENGTH

__all__ = ["open_sealed", "seal"]

_NONCE = 12


def _aad(first_serial: int) -> bytes:
    return f"vendgw voucher batch {first_serial}".encode()


def seal(key: bytes, first_serial: int, pins: list[str]) -> bytes:
    """The PINs, in serial order, as one sealed blob (nonce + ciphertext + tag)."""
    nonce = os.urandom(_NONCE)
    plain = "".join(pins).encode("ascii")
    return nonce + AESGCM(key).encrypt(nonce, plain, _aad(first_serial))


def open_sealed(key: bytes, first_serial: int, blob: bytes) -> list[str]:
    plain = AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(first_serial)).decode("ascii")
    return [plain[i : i + PIN_LENGTH] for i in range(0, len(plain), PIN_LENGTH)]
