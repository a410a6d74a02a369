"""Keys derived from the master key, each for one purpose only (HKDF-SHA-256 with an `info` of
its own, so no derived key is another's twin). The master key itself stays with the settings and
the security module."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["derive_verifier_key"]

_VERIFIER_INFO = b"vendgw terminal-secret verifier v1"


def derive_verifier_key(master_key: bytes) -> bytes:
    """The HMAC verifiers' key: HKDF-SHA-256 of the master key, for this purpose only."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_VERIFIER_INFO).derive(
        bytes(master_key)
    )
