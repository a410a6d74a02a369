"""The card printer's file: one CSV line per voucher (serial, PIN, denomination, expiry),
encrypted to the printer's age public key with pyrage (age, the file format, in Rust): no
hand-rolled cryptography, and only the holder of the printer's identity can read it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date

import pyrage
from pyrage import x25519

from core import money
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.pins import format_serial

__all__ = ["HEADER", "encrypt_print_file", "print_lines", "recipient"]

HEADER = ("serial", "pin", "denomination", "expires")


def recipient(public_key: str) -> x25519.Recipient:
    """The printer's age X25519 public key (age1...), refused clearly when it is not one."""
    try:
        return x25519.Recipient.from_str(public_key.strip())
    except Exception as exc:  # pyrage raises its own RecipientError or ValueError
        raise VoucherError(
            "the recipient is not an age X25519 public key (age1...)", code="bad-recipient"
        ) from exc


def print_lines(
    first_serial: int, pins: Iterable[str], denomination_cents: int, expires_on: date | None
) -> bytes:
    """The CSV the printer gets, in serial order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    face = money.format_cents(denomination_cents)
    expiry = expires_on.isoformat() if expires_on else ""
    for i, pin in enumerate(pins):
        writer.writerow((format_serial(first_serial + i), pin, face, expiry))
    return out.getvalue().encode("ascii")


def encrypt_print_file(plain: bytes, public_key: str) -> bytes:
    return bytes(pyrage.encrypt(plain, [recipient(public_key)]))
