"""What each STS token says: one frozen dataclass per token kind (IEC 62055-41 6.2).

Every token is Class(2) + SubClass(4) + a 44-bit body + a 16-bit CRC. This module knows the body
layouts; ``sts.token`` adds the CRC, the encryption and the 20 digits. Values hold what the meter
will act on: an amount that the 16-bit field cannot carry exactly is refused by the constructor,
and the ``rounded`` constructors round it the standard's way (up, in the customer's favour), so a
decoded token always compares equal to the value that was encoded.

Body layouts (MSB first):

* class 0 / 0-3   TransferCredit              RND(4) TID(24) Amount(16)
* class 0 / 4-7   CurrencyTransfer            S&E(4) TID(24) Amount(16)  (CRC_C)
* class 1 / 0     MeterTest                   Control(36) MfrCode(8)   (2-digit MfrCode)
* class 1 / 1     MeterTest                   Control(28) MfrCode(16)  (4-digit MfrCode)
* class 1 / 2     MeterTest                   Control(36) MfrCode(8)   (extended read, STS 202-5)
* class 2 / 0,1,2,5,6,7,10                    RND(4) TID(24) Value(16)
* class 2 / 3     Set1stSectionDecoderKey     KENHO(4) KRN(4) RO(1) RES/3KCT(1) KT(2) NKHO(32)
* class 2 / 4     Set2ndSectionDecoderKey     KENLO(4) TI(8) NKLO(32)
* class 2 / 8     Set3rdSectionDecoderKey     SGCLO(12) NKMO2(32)
* class 2 / 9     Set4thSectionDecoderKey     SGCHO(12) NKMO1(32)

Anything else (class 1 subclasses 3-15, class 2 subclasses 11-15, class 3) decodes to
``ReservedToken`` so that decoding never has to guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from typing import ClassVar, Self

from sts.amount import decode_amount, decode_currency, encode_amount, encode_currency
from sts.exceptions import AmountRangeError, InvalidFieldError

__all__ = [
    "ClearCredit",
    "ClearTamperCondition",
    "CreditType",
    "CurrencyTransfer",
    "ExtendedTokenSet",
    "ManagementSubclass",
    "MeterTest",
    "ReservedToken",
    "Set1stSectionDecoderKey",
    "Set2ndSectionDecoderKey",
    "Set3rdSectionDecoderKey",
    "Set4thSectionDecoderKey",
    "SetMaximumPhasePowerUnbalanceLimit",
    "SetMaximumPowerLimit",
    "SetTariffRate",
    "SetWaterMeterFactor",
    "TokenClass",
    "TokenPayload",
    "TransferCredit",
    "payload_from_body",
    "payload_tid",
]

MAX_TID = (1 << 24) - 1


class TokenClass(IntEnum):
    TRANSFER_CREDIT = 0
    INITIATE_METER_TEST = 1
    MANAGEMENT = 2
    RESERVED = 3


class CreditType(IntEnum):
    """Class 0 subclasses: what is being bought (and the meter register it goes to)."""

    ELECTRICITY = 0  # 0.1 kWh
    WATER = 1  # 0.1 m3
    GAS = 2  # 0.1 m3
    TIME = 3  # 0.1 time unit
    ELECTRICITY_CURRENCY = 4  # 0.00001 currency unit
    WATER_CURRENCY = 5
    GAS_CURRENCY = 6
    TIME_CURRENCY = 7


class ManagementSubclass(IntEnum):
    """Class 2 subclasses."""

    SET_MAXIMUM_POWER_LIMIT = 0
    CLEAR_CREDIT = 1
    SET_TARIFF_RATE = 2
    SET_1ST_SECTION_DECODER_KEY = 3
    SET_2ND_SECTION_DECODER_KEY = 4
    CLEAR_TAMPER_CONDITION = 5
    SET_MAXIMUM_PHASE_POWER_UNBALANCE_LIMIT = 6
    SET_WATER_METER_FACTOR = 7
    SET_3RD_SECTION_DECODER_KEY = 8
    SET_4TH_SECTION_DECODER_KEY = 9
    EXTENDED_TOKEN_SET = 10


def _check(name: str, value: object, bits: int) -> None:
    if type(value) is int and 0 <= value < (1 << bits):
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise InvalidFieldError(name, value, f"must be an integer 0..{(1 << bits) - 1}")


def _check_subclass(payload: object, allowed: range) -> None:
    value = payload.subclass  # type: ignore[attr-defined]
    if type(value) is int and value in allowed:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise InvalidFieldError(
            "subclass", value, f"must be {allowed.start}..{allowed.stop - 1} for this token"
        )
    # Store a plain int even when an IntEnum member was passed, for stable repr and equality.
    object.__setattr__(payload, "subclass", int(value))


def _tid_body(rnd: int, tid: int, value: int) -> int:
    return rnd << 40 | tid << 16 | value


def _split_tid_body(body: int) -> tuple[int, int, int]:
    return body >> 40, (body >> 16) & MAX_TID, body & 0xFFFF


def _check_tid_fields(tid: int, rnd: int) -> None:
    if type(tid) is int and type(rnd) is int and 0 <= tid <= MAX_TID and 0 <= rnd <= 15:
        return
    _check("tid", tid, 24)
    _check("rnd", rnd, 4)


def _exact_field(name: str, value: int, owner: str) -> int:
    """The 16-bit amount field for ``value``, refusing a value the format cannot carry exactly
    (the issuing side rounds up first, with ``<owner>.rounded()``)."""
    encoded = encode_amount(value, field=name)
    exact = decode_amount(encoded)
    if exact != value:
        raise AmountRangeError(
            name, value, f"cannot be carried exactly (next is {exact}); use {owner}.rounded()"
        )
    return encoded


def _carried(name: str, value: int) -> int:
    """``value`` rounded up to the next amount the 16-bit format carries exactly."""
    return decode_amount(encode_amount(value, field=name))


# --------------------------------------------------------------------------- class 0


@dataclass(frozen=True, slots=True)
class TransferCredit:
    """Class 0, subclasses 0-3: credit in 0.1 units (kWh, m3, time unit)."""

    token_class: ClassVar[int] = 0
    uses_crc_c: ClassVar[bool] = False
    subclass: int
    tid: int
    amount_tenths: int
    rnd: int = 0
    # The encoded amount, computed once: tokens are issued at volume.
    _field: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_subclass(self, range(4))
        _check_tid_fields(self.tid, self.rnd)
        encoded = _exact_field("amount_tenths", self.amount_tenths, "TransferCredit")
        object.__setattr__(self, "_field", encoded)

    @classmethod
    def rounded(cls, subclass: int, tid: int, amount_tenths: int, rnd: int = 0) -> Self:
        """Round ``amount_tenths`` up to the next value a token can carry."""
        return cls(subclass, tid, _carried("amount_tenths", amount_tenths), rnd)

    @property
    def credit_type(self) -> CreditType:
        return CreditType(self.subclass)

    @property
    def amount_field(self) -> int:
        return self._field

    def body(self) -> int:
        return self.rnd << 40 | self.tid << 16 | self._field

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(subclass, tid, decode_amount(value), rnd)


@dataclass(frozen=True, slots=True)
class CurrencyTransfer:
    """Class 0, subclasses 4-7: credit in currency units (0.00001 resolution), may be negative.

    There is no RND: its nibble carries the sign and the high exponent bits. Uses CRC_C.
    """

    token_class: ClassVar[int] = 0
    uses_crc_c: ClassVar[bool] = True
    subclass: int
    tid: int
    amount: Decimal
    _fields: tuple[int, int] = field(default=(0, 0), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_subclass(self, range(4, 8))
        _check("tid", self.tid, 24)
        if not isinstance(self.amount, Decimal):
            raise InvalidFieldError("amount", self.amount, "must be a Decimal")
        encoded = encode_currency(self.amount)
        exact = decode_currency(*encoded)
        if exact != self.amount:
            raise AmountRangeError(
                "amount",
                self.amount,
                f"cannot be carried exactly (nearest is {exact}); use CurrencyTransfer.rounded()",
            )
        object.__setattr__(self, "_fields", encoded)

    @classmethod
    def rounded(cls, subclass: int, tid: int, amount: Decimal | int | str) -> Self:
        """Round a positive amount up, or a negative amount's magnitude down."""
        return cls(subclass, tid, decode_currency(*encode_currency(amount)))

    @property
    def credit_type(self) -> CreditType:
        return CreditType(self.subclass)

    @property
    def se_nibble(self) -> int:
        return self._fields[0]

    @property
    def amount_field(self) -> int:
        return self._fields[1]

    @property
    def negative(self) -> bool:
        return self.amount.is_signed()

    @property
    def exponent(self) -> int:
        se_nibble, field_value = self._fields
        return (field_value >> 14 & 1) | (field_value >> 15 & 1) << 1 | (se_nibble & 7) << 2

    @property
    def mantissa(self) -> int:
        return self.amount_field & 0x3FFF

    def body(self) -> int:
        se_nibble, field_value = self._fields
        return _tid_body(se_nibble, self.tid, field_value)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        se_nibble, tid, value = _split_tid_body(body)
        return cls(subclass, tid, decode_currency(se_nibble, value))


# --------------------------------------------------------------------------- class 1


@dataclass(frozen=True, slots=True)
class MeterTest:
    """Class 1: InitiateMeterTest/Display. Not encrypted, so any meter accepts it.

    Subclass 0 (2-digit manufacturer code): 36 control bits + 8-bit MfrCode; subclass 1
    (4-digit manufacturer code): 28 control bits + 16-bit MfrCode; subclass 2 (extended read of
    STS 202-5) laid out like subclass 0, as the published vectors show.
    """

    token_class: ClassVar[int] = 1
    uses_crc_c: ClassVar[bool] = False
    subclass: int
    control: int
    mfr_code: int = 0

    def __post_init__(self) -> None:
        _check_subclass(self, range(3))
        mfr_bits = self.mfr_code_bits
        _check("control", self.control, 44 - mfr_bits)
        _check("mfr_code", self.mfr_code, mfr_bits)

    @property
    def mfr_code_bits(self) -> int:
        return 16 if self.subclass == 1 else 8

    def body(self) -> int:
        return self.control << self.mfr_code_bits | self.mfr_code

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        bits = 16 if subclass == 1 else 8
        return cls(subclass, body >> bits, body & ((1 << bits) - 1))


# --------------------------------------------------------------------------- class 2 with TID


@dataclass(frozen=True, slots=True)
class _WattsLimit:
    """A class 2 limit in watts with a TID (same rounding-up float format as amounts); the two
    limit tokens differ only in their subclass."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int]
    tid: int
    watts: int
    rnd: int = 0
    _field: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_tid_fields(self.tid, self.rnd)
        encoded = _exact_field("watts", self.watts, type(self).__name__)
        object.__setattr__(self, "_field", encoded)

    @classmethod
    def rounded(cls, tid: int, watts: int, rnd: int = 0) -> Self:
        return cls(tid, _carried("watts", watts), rnd)

    def body(self) -> int:
        return _tid_body(self.rnd, self.tid, self._field)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(tid, decode_amount(value), rnd)


@dataclass(frozen=True, slots=True)
class SetMaximumPowerLimit(_WattsLimit):
    """Class 2/0: maximum power limit in watts."""

    subclass: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class SetMaximumPhasePowerUnbalanceLimit(_WattsLimit):
    """Class 2/6: maximum phase power unbalance limit in watts."""

    subclass: ClassVar[int] = 6


@dataclass(frozen=True, slots=True)
class ClearCredit:
    """Class 2/1: clear a credit register (0 electricity, 1 water, 2 gas, 3 time, 4-7 the
    currency registers, 0xFFFF all)."""

    ALL_REGISTERS: ClassVar[int] = 0xFFFF
    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 1
    tid: int
    register: int
    rnd: int = 0

    def __post_init__(self) -> None:
        _check_tid_fields(self.tid, self.rnd)
        _check("register", self.register, 16)

    def body(self) -> int:
        return _tid_body(self.rnd, self.tid, self.register)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(tid, value, rnd)


@dataclass(frozen=True, slots=True)
class SetTariffRate:
    """Class 2/2: tariff rate; the 16-bit value is "reserved for future definition by STSA"
    (IEC 6.3.11), so it is carried raw."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 2
    tid: int
    rate: int
    rnd: int = 0

    def __post_init__(self) -> None:
        _check_tid_fields(self.tid, self.rnd)
        _check("rate", self.rate, 16)

    def body(self) -> int:
        return _tid_body(self.rnd, self.tid, self.rate)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(tid, value, rnd)


@dataclass(frozen=True, slots=True)
class ClearTamperCondition:
    """Class 2/5: clear the tamper flag. ``pad`` is 0 in every valid token; it is a field only so
    that a decoded block always round-trips."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 5
    tid: int
    rnd: int = 0
    pad: int = 0

    def __post_init__(self) -> None:
        _check_tid_fields(self.tid, self.rnd)
        _check("pad", self.pad, 16)

    def body(self) -> int:
        return _tid_body(self.rnd, self.tid, self.pad)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(tid, rnd, value)


@dataclass(frozen=True, slots=True)
class SetWaterMeterFactor:
    """Class 2/7: water meter factor; the value is reserved by the STSA, carried raw."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 7
    tid: int
    factor: int
    rnd: int = 0

    def __post_init__(self) -> None:
        _check_tid_fields(self.tid, self.rnd)
        _check("factor", self.factor, 16)

    def body(self) -> int:
        return _tid_body(self.rnd, self.tid, self.factor)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(tid, value, rnd)


@dataclass(frozen=True, slots=True)
class ExtendedTokenSet:
    """Class 2/10: extended token set (STS 202-5). The 16-bit value holds an index in its top
    6 bits and flag bits below (bit 0 = flag value in the published vectors); carried raw."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 10
    tid: int
    value: int
    rnd: int = 0

    def __post_init__(self) -> None:
        _check_tid_fields(self.tid, self.rnd)
        _check("value", self.value, 16)

    @property
    def index(self) -> int:
        return self.value >> 10

    def body(self) -> int:
        return _tid_body(self.rnd, self.tid, self.value)

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        rnd, tid, value = _split_tid_body(body)
        return cls(tid, value, rnd)


# --------------------------------------------------------------------------- key change


@dataclass(frozen=True, slots=True)
class Set1stSectionDecoderKey:
    """Class 2/3: first key-change token; high 32 bits of the new key (NKHO), the high nibble of
    the new KEN, the new KRN, rollover flag RO, RES/3KCT and the new KT."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 3
    ken_high: int
    krn: int
    ro: bool
    res_3kct: int
    kt: int
    nkho: int

    def __post_init__(self) -> None:
        _check("ken_high", self.ken_high, 4)
        _check("krn", self.krn, 4)
        if not isinstance(self.ro, bool):
            if self.ro not in (0, 1):
                raise InvalidFieldError("ro", self.ro, "must be 0 or 1")
            object.__setattr__(self, "ro", bool(self.ro))
        _check("res_3kct", self.res_3kct, 1)
        _check("kt", self.kt, 2)
        _check("nkho", self.nkho, 32)

    def body(self) -> int:
        return (
            self.ken_high << 40
            | self.krn << 36
            | int(self.ro) << 35
            | self.res_3kct << 34
            | self.kt << 32
            | self.nkho
        )

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        return cls(
            body >> 40,
            (body >> 36) & 15,
            bool(body >> 35 & 1),
            body >> 34 & 1,
            (body >> 32) & 3,
            body & 0xFFFFFFFF,
        )


@dataclass(frozen=True, slots=True)
class Set2ndSectionDecoderKey:
    """Class 2/4: second key-change token; low 32 bits of the new key (NKLO), the low nibble of
    the new KEN and the new TI (as 8-bit binary: TI 99 -> 0x63)."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 4
    ken_low: int
    ti: int
    nklo: int

    def __post_init__(self) -> None:
        _check("ken_low", self.ken_low, 4)
        _check("ti", self.ti, 8)
        _check("nklo", self.nklo, 32)

    def body(self) -> int:
        return self.ken_low << 40 | self.ti << 32 | self.nklo

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        return cls(body >> 40, (body >> 32) & 0xFF, body & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Set3rdSectionDecoderKey:
    """Class 2/8: third token of a 128-bit key change; key bits 63..32 counted from the top
    third word (NKMO2) and the low 12 bits of the new SGC (as 24-bit binary)."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 8
    sgc_low: int
    nkmo2: int

    def __post_init__(self) -> None:
        _check("sgc_low", self.sgc_low, 12)
        _check("nkmo2", self.nkmo2, 32)

    def body(self) -> int:
        return self.sgc_low << 32 | self.nkmo2

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        return cls(body >> 32, body & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Set4thSectionDecoderKey:
    """Class 2/9: fourth token of a 128-bit key change; NKMO1 and the high 12 bits of the SGC."""

    token_class: ClassVar[int] = 2
    uses_crc_c: ClassVar[bool] = False
    subclass: ClassVar[int] = 9
    sgc_high: int
    nkmo1: int

    def __post_init__(self) -> None:
        _check("sgc_high", self.sgc_high, 12)
        _check("nkmo1", self.nkmo1, 32)

    def body(self) -> int:
        return self.sgc_high << 32 | self.nkmo1

    @classmethod
    def from_body(cls, subclass: int, body: int) -> Self:
        return cls(body >> 32, body & 0xFFFFFFFF)


# --------------------------------------------------------------------------- reserved


@dataclass(frozen=True, slots=True)
class ReservedToken:
    """A class/subclass the standard reserves; the body is kept raw."""

    uses_crc_c: ClassVar[bool] = False
    token_class: int  # an instance field here, a class constant in the other payloads
    subclass: int
    raw_body: int

    def __post_init__(self) -> None:
        _check("token_class", self.token_class, 2)
        _check("subclass", self.subclass, 4)
        _check("raw_body", self.raw_body, 44)

    def body(self) -> int:
        return self.raw_body


TokenPayload = (
    TransferCredit
    | CurrencyTransfer
    | MeterTest
    | SetMaximumPowerLimit
    | ClearCredit
    | SetTariffRate
    | Set1stSectionDecoderKey
    | Set2ndSectionDecoderKey
    | ClearTamperCondition
    | SetMaximumPhasePowerUnbalanceLimit
    | SetWaterMeterFactor
    | Set3rdSectionDecoderKey
    | Set4thSectionDecoderKey
    | ExtendedTokenSet
    | ReservedToken
)

_MANAGEMENT: dict[int, Callable[[int, int], TokenPayload]] = {
    0: SetMaximumPowerLimit.from_body,
    1: ClearCredit.from_body,
    2: SetTariffRate.from_body,
    3: Set1stSectionDecoderKey.from_body,
    4: Set2ndSectionDecoderKey.from_body,
    5: ClearTamperCondition.from_body,
    6: SetMaximumPhasePowerUnbalanceLimit.from_body,
    7: SetWaterMeterFactor.from_body,
    8: Set3rdSectionDecoderKey.from_body,
    9: Set4thSectionDecoderKey.from_body,
    10: ExtendedTokenSet.from_body,
}

_TID_PAYLOADS = (
    TransferCredit,
    CurrencyTransfer,
    SetMaximumPowerLimit,
    ClearCredit,
    SetTariffRate,
    ClearTamperCondition,
    SetMaximumPhasePowerUnbalanceLimit,
    SetWaterMeterFactor,
    ExtendedTokenSet,
)


def payload_from_body(token_class: int, subclass: int, body: int) -> TokenPayload:
    """The payload a (class, subclass, 44-bit body) stands for."""
    if token_class == 0:
        if subclass < 4:
            return TransferCredit.from_body(subclass, body)
        if subclass < 8:
            return CurrencyTransfer.from_body(subclass, body)
    elif token_class == 1:
        if subclass < 3:
            return MeterTest.from_body(subclass, body)
    elif token_class == 2:
        from_body = _MANAGEMENT.get(subclass)
        if from_body is not None:
            return from_body(subclass, body)
    return ReservedToken(token_class, subclass, body)


def payload_tid(payload: TokenPayload) -> int | None:
    """The TID a payload carries, or None (class 1 and key-change tokens carry none)."""
    if isinstance(payload, _TID_PAYLOADS):
        return payload.tid
    return None
