"""The vouchers' operator errors (the CLI's): a stable kebab-case `code` and a sentence.

Redemption refuses with the gateway's own errors (gateway/errors.py: VoucherInvalid,
VoucherUsed), which the SOAP edge turns into faults; these are for batches, export, activation
and voids, which only operators run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VoucherError"]


class VoucherError(Exception):
    def __init__(self, message: str, *, code: str = "voucher", **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
