"""CRC-16 of STS tokens (IEC 62055-41 6.3.7 and 6.3.22).

The standard's CRC (polynomial x^16 + x^15 + x^2 + 1, preset 0xFFFF) is, bit for bit, the
reflected CRC-16/MODBUS; the token carries the result with its two bytes swapped. It covers the
50 bits class|subclass|data (the class bits too, although they are never encrypted), left-padded
to 7 bytes. Currency transfers (class 0, subclasses 4-7) use CRC_C: the same CRC over the 7 bytes
followed by one byte 0x01, so a currency token can never be mistaken for a unit token.

Table driven, because the CRC is computed for every token issued and every token a simulated
meter accepts.
"""

from __future__ import annotations

__all__ = ["crc16_modbus", "sts_crc", "token_crc", "token_crc_c"]


def _build_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _build_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS of ``data`` (reflected 0xA001, preset 0xFFFF, no final XOR)."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _swap(crc: int) -> int:
    return ((crc & 0xFF) << 8) | (crc >> 8)


def sts_crc(data: bytes) -> int:
    """The STS CRC of ``data`` as it is written in a token (CRC-16/MODBUS, bytes swapped)."""
    return _swap(crc16_modbus(data))


def token_crc(data50: int) -> int:
    """CRC field for the 50 bits class|subclass|data (given as an integer, MSB first)."""
    crc = 0xFFFF
    table = _TABLE
    # The 50 bits padded to 7 bytes, fed most significant byte first, without building bytes.
    for shift in (48, 40, 32, 24, 16, 8, 0):
        crc = (crc >> 8) ^ table[(crc ^ (data50 >> shift)) & 0xFF]
    return _swap(crc)


def token_crc_c(data50: int) -> int:
    """CRC_C field (currency transfers): the token CRC with one extra byte 0x01 appended."""
    crc = 0xFFFF
    table = _TABLE
    for shift in (48, 40, 32, 24, 16, 8, 0):
        crc = (crc >> 8) ^ table[(crc ^ (data50 >> shift)) & 0xFF]
    crc = (crc >> 8) ^ table[(crc ^ 0x01) & 0xFF]
    return _swap(crc)
