"""From payload to 20 digits and back (IEC 62055-41 6.3.2, 6.3.7, 6.4).

Encoding: the 64-bit data block is SubClass(4) | body(44) | CRC(16), the CRC covering the class
bits as well. Class 0 and 2 blocks are encrypted with the decoder key under the meter's EA; class
1 blocks are sent in clear. The two class bits are then inserted at bits 28-27 of the 64-bit
block, and the bits they displace move to bits 65-64 (IEC 6.4.2), giving a 66-bit number written
as 20 decimal digits.

Decoding reverses this and reports ``crc_ok``: with a wrong key or a mistyped digit the CRC
fails, and that is the meter's only way to tell, so decoding never raises for a well-formed
20-digit number; it is up to the caller (the simulator, the CLI) to act on ``crc_ok``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sts.crc import token_crc, token_crc_c
from sts.encryption import BlockCipher, EncryptionAlgorithm, cipher_for
from sts.exceptions import InvalidFieldError, TokenFormatError
from sts.payloads import MeterTest, TokenPayload, payload_from_body, payload_tid
from sts.tid import check_ken

__all__ = [
    "DecodedToken",
    "Token",
    "build_block",
    "decode_token",
    "encode_token",
    "format_token",
    "from_digits",
    "insert_class",
    "normalize_token",
    "remove_class",
    "test_token",
    "to_digits",
]

_MASK64 = (1 << 64) - 1
_MAX66 = (1 << 66) - 1
_CLASS_BITS = 3 << 27
_ENCRYPTED_CLASSES = (0, 2, 3)


def insert_class(block: int, token_class: int) -> int:
    """The 66-bit token value: class bits at 28-27, the displaced block bits at 65-64."""
    displaced = (block >> 27) & 3
    return displaced << 64 | (block & ~_CLASS_BITS & _MASK64) | token_class << 27


def remove_class(value: int) -> tuple[int, int]:
    """(class, 64-bit block) of a 66-bit token value."""
    token_class = (value >> 27) & 3
    block = (value & _MASK64 & ~_CLASS_BITS) | (value >> 64) << 27
    return token_class, block


def to_digits(value: int) -> str:
    return f"{value:020d}"


def normalize_token(token: str) -> str:
    """Strip the spaces and dashes people type between digit groups; check for 20 digits."""
    if not isinstance(token, str):
        raise TokenFormatError(repr(token), "a token is a string of 20 digits")
    digits = token.replace(" ", "").replace("-", "")
    if len(digits) != 20 or not (digits.isascii() and digits.isdigit()):
        raise TokenFormatError(token, "a token is exactly 20 digits")
    return digits


def from_digits(token: str) -> int:
    """The 66-bit value of a 20-digit token."""
    digits = normalize_token(token)
    value = int(digits)
    if value > _MAX66:
        raise TokenFormatError(token, "the number exceeds 66 bits")
    return value


def format_token(digits: str) -> str:
    """Groups of four for receipts: '1234 5678 9012 3456 7890'."""
    return " ".join(digits[i : i + 4] for i in range(0, 20, 4))


def _data50(token_class: int, subclass: int, body: int) -> int:
    return token_class << 48 | subclass << 44 | body


def build_block(payload: TokenPayload) -> int:
    """The plaintext 64-bit data block of a payload (CRC or CRC_C included)."""
    data = _data50(payload.token_class, payload.subclass, payload.body())
    crc = token_crc_c(data) if payload.uses_crc_c else token_crc(data)
    return (data & ((1 << 48) - 1)) << 16 | crc


@dataclass(frozen=True, slots=True)
class Token:
    """An issued token: its 20-digit ``number`` and what it says."""

    number: str
    payload: TokenPayload

    def __str__(self) -> str:
        return self.number

    @property
    def digits(self) -> str:
        """Same as ``number``."""
        return self.number

    @property
    def token_class(self) -> int:
        return self.payload.token_class

    @property
    def subclass(self) -> int:
        return self.payload.subclass

    @property
    def tid(self) -> int | None:
        return payload_tid(self.payload)

    @property
    def formatted(self) -> str:
        return format_token(self.number)


@dataclass(frozen=True, slots=True)
class DecodedToken:
    """A token read back: its 20-digit ``number``, its fields and whether the CRC holds.

    ``block`` is the plaintext data block. With ``crc_ok`` False the payload is whatever the
    bits say and must not be acted on.
    """

    number: str
    token_class: int
    subclass: int
    block: int
    crc: int
    crc_ok: bool
    payload: TokenPayload

    @property
    def tid(self) -> int | None:
        return payload_tid(self.payload)

    @property
    def digits(self) -> str:
        return self.number


def _resolve_cipher(
    decoder_key: bytes | None,
    ea: EncryptionAlgorithm | str | None,
    cipher: BlockCipher | None,
) -> BlockCipher:
    if cipher is not None:
        return cipher
    if decoder_key is None or ea is None:
        raise InvalidFieldError(
            "decoder_key", None, "class 0 and 2 tokens need a decoder key and an EA"
        )
    return cipher_for(ea, decoder_key)


def encode_token(
    payload: TokenPayload,
    decoder_key: bytes | None = None,
    ea: EncryptionAlgorithm | str | None = None,
    *,
    cipher: BlockCipher | None = None,
    ken: int = 255,
) -> Token:
    """Issue ``payload`` as a token.

    Class 0/2 need either ``decoder_key`` and ``ea`` or a prepared ``cipher`` (faster when
    issuing many tokens for one meter). A TID beyond the key's expiry (``ken``) is refused with
    ``KeyExpiredError``.
    """
    token_class = payload.token_class
    if token_class == 3:
        raise InvalidFieldError("token_class", 3, "class 3 is reserved")
    tid = payload_tid(payload)
    if tid is not None:
        check_ken(tid, ken)
    block = build_block(payload)
    if token_class != 1:
        block = _resolve_cipher(decoder_key, ea, cipher).encrypt(block)
    return Token(to_digits(insert_class(block, token_class)), payload)


def decode_token(
    token: str,
    decoder_key: bytes | None = None,
    ea: EncryptionAlgorithm | str | None = None,
    *,
    cipher: BlockCipher | None = None,
) -> DecodedToken:
    """Read a token back into its fields. Class 1 needs no key; class 0/2 (and reserved class 3,
    treated as encrypted) need ``decoder_key`` and ``ea`` or a ``cipher``."""
    value = from_digits(token)
    token_class, block = remove_class(value)
    if token_class in _ENCRYPTED_CLASSES:
        block = _resolve_cipher(decoder_key, ea, cipher).decrypt(block)
    subclass = block >> 60
    body = (block >> 16) & ((1 << 44) - 1)
    crc = block & 0xFFFF
    payload = payload_from_body(token_class, subclass, body)
    data = _data50(token_class, subclass, body)
    expected = token_crc_c(data) if payload.uses_crc_c else token_crc(data)
    return DecodedToken(
        number=normalize_token(token),
        token_class=token_class,
        subclass=subclass,
        block=block,
        crc=crc,
        crc_ok=crc == expected,
        payload=payload,
    )


def test_token(control: int, mfr_code: int = 0, *, four_digit_mfr: bool = False) -> Token:
    """A class 1 InitiateMeterTest/Display token. It is not encrypted and fits every meter of
    the manufacturer: 36 control bits with a 2-digit ``mfr_code`` (subclass 0), 28 control bits
    with a 4-digit one (subclass 1)."""
    return encode_token(MeterTest(1 if four_digit_mfr else 0, control, mfr_code))


# Not a pytest test, despite the name pytest would otherwise collect when it is imported.
test_token.__test__ = False  # type: ignore[attr-defined]
