"""Key change token sets (IEC 62055-41 6.2.7, 6.2.8, 7.3.1).

A meter moves to a new decoder key (new SGC, KRN, TI, KT or base date) by accepting a set of
class 2 tokens, all encrypted with its CURRENT decoder key:

* 64-bit keys (EA07/EA09): 2 tokens. 1st (subclass 3) carries the high 32 key bits, KEN high
  nibble, KRN, RO, RES/3KCT and KT; 2nd (subclass 4) the low 32 bits, KEN low nibble and TI.
* 128-bit keys (EA11): 4 tokens, the two above plus 3rd (subclass 8, key bits 63..32 and the low
  12 bits of the new SGC) and 4th (subclass 9, key bits 95..64 and the SGC's high 12 bits);
  the key is NKHO | NKMO2 | NKMO1 | NKLO.

RO (rollover) is set when the base date changes; the meter then clears its TID memory, since TIDs
restart near zero on the new base date. The meter applies the change only once every token of the
set has been entered, which ``KeyChangeCollector`` models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sts.encryption import BlockCipher, EncryptionAlgorithm
from sts.exceptions import InvalidFieldError, KeyChangeError
from sts.payloads import (
    Set1stSectionDecoderKey,
    Set2ndSectionDecoderKey,
    Set3rdSectionDecoderKey,
    Set4thSectionDecoderKey,
    TokenPayload,
)
from sts.token import Token, encode_token

__all__ = [
    "KeyChangeCollector",
    "KeyChangePayload",
    "NewKeyData",
    "key_change_payloads",
    "key_change_tokens",
]

KeyChangePayload = (
    Set1stSectionDecoderKey
    | Set2ndSectionDecoderKey
    | Set3rdSectionDecoderKey
    | Set4thSectionDecoderKey
)


def _int_field(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidFieldError(name, value, f"must be an integer {low}..{high}")
    return value


def _sgc_number(sgc: object) -> int:
    if not isinstance(sgc, str) or len(sgc) != 6 or not (sgc.isascii() and sgc.isdigit()):
        raise InvalidFieldError("new_sgc", sgc, "must be 6 digits")
    return int(sgc)


def key_change_payloads(
    new_decoder_key: bytes,
    *,
    ken: int,
    krn: int,
    kt: int,
    ti: int | str,
    ro: bool = False,
    new_sgc: str | None = None,
    res_3kct: int = 0,
) -> tuple[KeyChangePayload, ...]:
    """The payloads of the set that installs ``new_decoder_key`` (2 for 8 bytes, 4 for 16).

    ``ti`` is the new tariff index (0..99; 8-bit binary in the token), ``new_sgc`` the new
    supply group code, required for 128-bit keys.
    """
    if not isinstance(new_decoder_key, bytes | bytearray) or len(new_decoder_key) not in (8, 16):
        size = len(new_decoder_key) if isinstance(new_decoder_key, bytes | bytearray) else "?"
        raise InvalidFieldError("new_decoder_key", f"<{size} bytes>", "must be 8 or 16 bytes")
    ken = _int_field("ken", ken, 0, 255)
    krn = _int_field("krn", krn, 0, 15)
    kt = _int_field("kt", kt, 0, 3)
    ti_value = _int_field("ti", ti, 0, 255)
    res_3kct = _int_field("res_3kct", res_3kct, 0, 1)
    key = int.from_bytes(new_decoder_key, "big")
    first = Set1stSectionDecoderKey(
        ken_high=ken >> 4,
        krn=krn,
        ro=bool(ro),
        res_3kct=res_3kct,
        kt=kt,
        nkho=key >> (8 * len(new_decoder_key) - 32),
    )
    second = Set2ndSectionDecoderKey(ken_low=ken & 15, ti=ti_value, nklo=key & 0xFFFFFFFF)
    if len(new_decoder_key) == 8:
        return first, second
    if new_sgc is None:
        raise KeyChangeError("a 128-bit key change carries the new SGC: new_sgc is required")
    sgc = _sgc_number(new_sgc)
    third = Set3rdSectionDecoderKey(sgc_low=sgc & 0xFFF, nkmo2=(key >> 64) & 0xFFFFFFFF)
    fourth = Set4thSectionDecoderKey(sgc_high=sgc >> 12, nkmo1=(key >> 32) & 0xFFFFFFFF)
    return first, second, third, fourth


def key_change_tokens(
    new_decoder_key: bytes,
    *,
    ken: int,
    krn: int,
    kt: int,
    ti: int | str,
    ro: bool = False,
    new_sgc: str | None = None,
    res_3kct: int = 0,
    decoder_key: bytes | None = None,
    ea: EncryptionAlgorithm | str | None = None,
    cipher: BlockCipher | None = None,
) -> tuple[Token, ...]:
    """The key change set as tokens, encrypted with the CURRENT key (``decoder_key`` + ``ea``,
    or ``cipher``)."""
    payloads = key_change_payloads(
        new_decoder_key, ken=ken, krn=krn, kt=kt, ti=ti, ro=ro, new_sgc=new_sgc, res_3kct=res_3kct
    )
    return tuple(encode_token(p, decoder_key, ea, cipher=cipher) for p in payloads)


@dataclass(frozen=True, slots=True)
class NewKeyData:
    """What a complete key change set installs."""

    decoder_key: bytes = field(repr=False)
    ken: int
    krn: int
    kt: int
    ti: int
    ro: bool
    res_3kct: int
    sgc: str | None  # only 128-bit sets carry the SGC


@dataclass
class KeyChangeCollector:
    """The meter's side of a key change: keeps the tokens of a set until all have arrived.

    ``key_bytes`` is the meter's key size (8 for EA07/EA09, 16 for EA11), which fixes the set
    size. A token of a subclass already held replaces the earlier one, so re-entering a set after
    a typo works.
    """

    key_bytes: int
    _parts: dict[int, KeyChangePayload] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.key_bytes not in (8, 16):
            raise InvalidFieldError("key_bytes", self.key_bytes, "must be 8 or 16")

    @property
    def required(self) -> frozenset[int]:
        return frozenset((3, 4) if self.key_bytes == 8 else (3, 4, 8, 9))

    @property
    def pending(self) -> frozenset[int]:
        """Subclasses received so far."""
        return frozenset(self._parts)

    def reset(self) -> None:
        self._parts.clear()

    def add(self, payload: TokenPayload) -> NewKeyData | None:
        """Hold one token of the set; return the new key data once the set is complete."""
        if not isinstance(
            payload,
            Set1stSectionDecoderKey
            | Set2ndSectionDecoderKey
            | Set3rdSectionDecoderKey
            | Set4thSectionDecoderKey,
        ):
            raise KeyChangeError(f"not a key change token: {type(payload).__name__}")
        if payload.subclass not in self.required:
            raise KeyChangeError(
                f"subclass {payload.subclass} is not part of a {8 * self.key_bytes}-bit key change"
            )
        self._parts[payload.subclass] = payload
        if self.pending != self.required:
            return None
        parts = self._parts
        first = parts[3]
        second = parts[4]
        assert isinstance(first, Set1stSectionDecoderKey)
        assert isinstance(second, Set2ndSectionDecoderKey)
        sgc: str | None = None
        if self.key_bytes == 8:
            key = first.nkho << 32 | second.nklo
        else:
            third = parts[8]
            fourth = parts[9]
            assert isinstance(third, Set3rdSectionDecoderKey)
            assert isinstance(fourth, Set4thSectionDecoderKey)
            key = first.nkho << 96 | third.nkmo2 << 64 | fourth.nkmo1 << 32 | second.nklo
            sgc = f"{fourth.sgc_high << 12 | third.sgc_low:06d}"
        self._parts = {}
        return NewKeyData(
            decoder_key=key.to_bytes(self.key_bytes, "big"),
            ken=first.ken_high << 4 | second.ken_low,
            krn=first.krn,
            kt=first.kt,
            ti=second.ti,
            ro=first.ro,
            res_3kct=first.res_3kct,
            sgc=sgc,
        )
