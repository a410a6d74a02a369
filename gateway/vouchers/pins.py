"""Voucher PINs and serial numbers: pure functions.

A PIN is 20 digits: 19 drawn with `secrets` (the operating system's CSPRNG) and a Luhn check
digit, so a mistyped PIN is told apart from a guess without touching the database. A PIN is
looked up only by its keyed hash, HMAC-SHA-256 under the voucher key (core/keys.py), which is
all the database keeps. 10^19 PINs against the 5-guesses-in-10-minutes limit per terminal
makes guessing pointless.

A serial number is printed on the card beside the panel; it is not secret and names the voucher
in every operator command and report (12 digits, zero-padded).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = [
    "PIN_LENGTH",
    "format_serial",
    "luhn_check_digit",
    "new_pin",
    "parse_serial",
    "parse_serial_range",
    "pin_hash",
    "valid_pin",
]

PIN_LENGTH = 20
SERIAL_DIGITS = 12
_PIN = re.compile(r"[0-9]{20}")
_SERIAL = re.compile(r"[0-9]{1,12}")


def luhn_check_digit(body: str) -> int:
    """The Luhn digit that makes `body` followed by it pass the Luhn test."""
    total = 0
    # From the right, every second digit of the body (the first next to the check digit) doubles.
    for i, char in enumerate(reversed(body)):
        d = ord(char) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def valid_pin(pin: str) -> bool:
    """Twenty digits whose last is the Luhn check digit of the others."""
    return bool(_PIN.fullmatch(pin)) and luhn_check_digit(pin[:-1]) == ord(pin[-1]) - 48


def new_pin() -> str:
    body = f"{secrets.randbelow(10 ** (PIN_LENGTH - 1)):0{PIN_LENGTH - 1}d}"
    return body + str(luhn_check_digit(body))


def pin_hash(key: bytes, pin: str) -> bytes:
    """The keyed lookup hash of a PIN (32 bytes): what the database holds instead of the PIN."""
    return hmac.new(key, pin.encode("ascii"), hashlib.sha256).digest()


def format_serial(serial: int) -> str:
    return f"{serial:0{SERIAL_DIGITS}d}"


def parse_serial(text: str) -> int:
    text = text.strip()
    if not _SERIAL.fullmatch(text) or int(text) == 0:
        raise ValueError(f"a serial number is 1 to {SERIAL_DIGITS} digits, not {text!r}")
    return int(text)


def parse_serial_range(text: str) -> tuple[int, int]:
    """`FROM-TO` (or one serial) as (first, last), first <= last."""
    first, sep, last = text.partition("-")
    low = parse_serial(first)
    high = parse_serial(last) if sep else low
    if high < low:
        raise ValueError(f"the range {text!r} ends before it starts")
    return low, high
