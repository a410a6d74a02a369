"""Keys derived from the master key, each for one purpose only (HKDF-SHA-256 with an `info` of
its own, so no derived key is another's twin). The master key itself stays with the settings and
the security module."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["derive_verifier_key", "derive_voucher_key", "derive_voucher_seal_key"]

_VERIFIER_INFO = b"vendgw terminal-secret verifier v1"
_VOUCHER_INFO = b"vendgw voucher pin lookup v1"
_VOUCHER_SEAL_INFO = b"vendgw voucher print staging v1"


def derive_verifier_key(master_key: bytes) -> bytes:
    """The HMAC verifiers' key: HKDF-SHA-256 of the master key, for this purpose only."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_VERIFIER_INFO).derive(
        bytes(master_key)
    )


def _derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        bytes(master_key)
    )


def derive_voucher_key(master_key: bytes) -> bytes:
    """The key of the vouchers' PIN lookup hashes (HMAC-SHA-256), for this purpose only: a
    stolen database holds hashes that cannot be tested against guesses without it."""
    return _derive(master_key, _VOUCHER_INFO)


def derive_voucher_seal_key(master_key: bytes) -> bytes:
    """The AES-256-GCM key that seals a new batch's PINs until the batch is exported once."""
    return _derive(master_key, _VOUCHER_SEAL_INFO)
