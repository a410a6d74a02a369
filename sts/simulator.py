"""A software prepayment meter, for tests that must prove what a vended token does.

``MeterSimulator`` holds a decoder key and EA like a real meter and applies tokens the way IEC
62055-41 section 7 describes the meter side: decrypt with its own key and check the CRC (a wrong
key or a mistyped digit fails here), refuse a TID beyond the key's expiry (KEN), refuse a token
whose TID it remembers (USED) or that is older than everything it remembers (OLD), then act.

TID memory: the meter keeps the ``tid_memory_size`` highest TIDs it accepted (50 by default).
While the memory is not full every unseen TID is accepted; once full, a TID below the oldest one
kept is OLD, and accepting a new TID evicts the oldest. A key change with RO = 1 (base-date
rollover) clears the memory.

Key changes: the tokens of a set are held until the set is complete (2 tokens for 64-bit keys, 4
for EA11), then the new key, KRN, KT, TI, KEN (and SGC) take effect together. Re-entering the set
afterwards fails the CRC, because it was encrypted with the key the meter no longer holds.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sts.encryption import BlockCipher, EncryptionAlgorithm, cipher_for, parse_ea
from sts.exceptions import InvalidFieldError, KeyChangeError, TokenFormatError
from sts.key_change import KeyChangeCollector
from sts.payloads import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    ExtendedTokenSet,
    MeterTest,
    ReservedToken,
    Set1stSectionDecoderKey,
    Set2ndSectionDecoderKey,
    Set3rdSectionDecoderKey,
    Set4thSectionDecoderKey,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    TokenPayload,
    TransferCredit,
    payload_tid,
)
from sts.security_module import MeterKeyData
from sts.tid import BASE_DATES, ken_allows, parse_base_date
from sts.token import decode_token

__all__ = ["AcceptResult", "MeterAction", "MeterSimulator", "RejectReason"]

_ALL_REGISTERS = 0xFFFF
_REGISTERS = range(8)


class RejectReason(StrEnum):
    FORMAT = "format"  # not 20 digits, or above 2^66 - 1
    CRC = "crc"  # decryption / CRC failure: wrong key, mistyped digit, or another meter's token
    OLD = "old"  # TID older than everything in the TID memory
    USED = "used"  # TID already in the TID memory
    KEY_EXPIRED = "key_expired"  # TID's top 8 bits above the KEN
    NOT_SUPPORTED = "not_supported"  # reserved class/subclass, unknown register, wrong KCT set


class MeterAction(StrEnum):
    CREDIT_ADDED = "credit_added"
    CURRENCY_CREDIT_ADDED = "currency_credit_added"
    POWER_LIMIT_SET = "power_limit_set"
    CREDIT_CLEARED = "credit_cleared"
    TARIFF_RATE_SET = "tariff_rate_set"
    TAMPER_CLEARED = "tamper_cleared"
    PHASE_UNBALANCE_LIMIT_SET = "phase_unbalance_limit_set"
    WATER_METER_FACTOR_SET = "water_meter_factor_set"
    EXTENDED_SETTING_SET = "extended_setting_set"
    KEY_CHANGE_STORED = "key_change_stored"  # part of a set held, waiting for the rest
    KEY_CHANGED = "key_changed"
    TEST_STARTED = "test_started"


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """The meter's answer to one token."""

    accepted: bool
    action: MeterAction | None
    reason: RejectReason | None
    payload: TokenPayload | None
    message: str

    @property
    def rejected(self) -> bool:
        return not self.accepted

    @classmethod
    def ok(cls, action: MeterAction, payload: TokenPayload, message: str) -> AcceptResult:
        return cls(True, action, None, payload, message)

    @classmethod
    def refuse(
        cls, reason: RejectReason, message: str, payload: TokenPayload | None = None
    ) -> AcceptResult:
        return cls(False, None, reason, payload, message)


class MeterSimulator:
    """A meter with its decoder key, TID memory and registers. Not thread-safe (a meter is
    single-user by nature).

    Registers: ``credit`` maps register 0-3 (electricity, water, gas, time) to 0.1 units,
    ``currency_credit`` maps register 4-7 to currency units.
    """

    def __init__(
        self,
        decoder_key: bytes,
        ea: EncryptionAlgorithm | str,
        *,
        base_date: int = 2014,
        ken: int = 255,
        krn: int = 1,
        kt: int = 2,
        ti: int = 1,
        sgc: str | None = None,
        tid_memory_size: int = 50,
    ) -> None:
        self._ea = parse_ea(ea)
        if not isinstance(decoder_key, bytes | bytearray) or len(decoder_key) != (
            self._ea.key_bytes
        ):
            raise InvalidFieldError(
                "decoder_key", "<key>", f"EA{self._ea.value} needs {self._ea.key_bytes} bytes"
            )
        if not isinstance(tid_memory_size, int) or tid_memory_size < 1:
            raise InvalidFieldError("tid_memory_size", tid_memory_size, "must be at least 1")
        self._cipher: BlockCipher = cipher_for(self._ea, bytes(decoder_key))
        self._decoder_key = bytes(decoder_key)
        self.base_date = parse_base_date(base_date)
        self.ken = ken
        self.krn = krn
        self.kt = kt
        self.ti = ti
        self.sgc = sgc
        self._tid_memory_size = tid_memory_size
        self._tids: list[int] = []
        self._tid_set: set[int] = set()
        self._key_change = KeyChangeCollector(self._ea.key_bytes)
        self.credit: dict[int, int] = dict.fromkeys(range(4), 0)
        self.currency_credit: dict[int, Decimal] = {r: Decimal(0) for r in range(4, 8)}
        self.power_limit_watts: int | None = None
        self.phase_unbalance_limit_watts: int | None = None
        self.tariff_rate: int | None = None
        self.water_meter_factor: int | None = None
        self.extended_settings: dict[int, int] = {}
        self.tamper = False
        self.tests_started: list[MeterTest] = []

    @classmethod
    def for_meter(
        cls, decoder_key: bytes, meter: MeterKeyData, *, tid_memory_size: int = 50
    ) -> MeterSimulator:
        """A meter set up with the key attributes of ``meter`` (as it left the factory or its
        last key change)."""
        return cls(
            decoder_key,
            meter.ea,
            base_date=meter.base_date,
            ken=meter.ken,
            krn=meter.krn,
            kt=meter.kt,
            ti=int(meter.ti),
            sgc=meter.sgc,
            tid_memory_size=tid_memory_size,
        )

    def __repr__(self) -> str:
        return (
            f"MeterSimulator(ea={self._ea.value!r}, base_date={self.base_date}, krn={self.krn}, "
            f"credit={self.credit})"
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def ea(self) -> EncryptionAlgorithm:
        return self._ea

    @property
    def decoder_key(self) -> bytes:
        return self._decoder_key

    @property
    def tid_memory(self) -> tuple[int, ...]:
        """The remembered TIDs, oldest first."""
        return tuple(self._tids)

    @property
    def pending_key_change(self) -> frozenset[int]:
        """Subclasses of a key change set entered so far but not yet applied."""
        return self._key_change.pending

    def credit_tenths(self, register: int = 0) -> int:
        return self.credit[register]

    def set_tamper(self) -> None:
        """Simulate the meter detecting tampering (a clear tamper token resets it)."""
        self.tamper = True

    # -- tokens ----------------------------------------------------------------------------

    def accept(self, token: str) -> AcceptResult:
        """Enter a token as if typed on the keypad."""
        try:
            decoded = decode_token(token, cipher=self._cipher)
        except TokenFormatError as exc:
            return AcceptResult.refuse(RejectReason.FORMAT, exc.reason)
        if not decoded.crc_ok:
            return AcceptResult.refuse(
                RejectReason.CRC, "decryption failed (CRC mismatch): wrong key or mistyped token"
            )
        payload = decoded.payload
        if isinstance(payload, ReservedToken):
            return AcceptResult.refuse(
                RejectReason.NOT_SUPPORTED,
                f"class {payload.token_class} subclass {payload.subclass} is reserved",
                payload,
            )
        if isinstance(
            payload,
            Set1stSectionDecoderKey
            | Set2ndSectionDecoderKey
            | Set3rdSectionDecoderKey
            | Set4thSectionDecoderKey,
        ):
            return self._key_change_part(payload)
        if isinstance(payload, MeterTest):
            self.tests_started.append(payload)
            return AcceptResult.ok(
                MeterAction.TEST_STARTED, payload, f"test/display control {payload.control:#x}"
            )
        tid = payload_tid(payload)
        assert tid is not None  # every remaining kind carries a TID
        refusal = self._check_tid(tid, payload)
        if refusal is not None:
            return refusal
        result = self._apply(payload)
        if result.accepted:
            self._remember(tid)
        return result

    def _check_tid(self, tid: int, payload: TokenPayload) -> AcceptResult | None:
        if not ken_allows(tid, self.ken):
            return AcceptResult.refuse(
                RejectReason.KEY_EXPIRED,
                f"TID {tid} is beyond the key expiry KEN {self.ken}",
                payload,
            )
        if tid in self._tid_set:
            return AcceptResult.refuse(RejectReason.USED, f"TID {tid} was already used", payload)
        if len(self._tids) >= self._tid_memory_size and tid < self._tids[0]:
            return AcceptResult.refuse(
                RejectReason.OLD, f"TID {tid} is older than the oldest remembered TID", payload
            )
        return None

    def _remember(self, tid: int) -> None:
        insort(self._tids, tid)
        self._tid_set.add(tid)
        while len(self._tids) > self._tid_memory_size:
            self._tid_set.discard(self._tids.pop(0))

    def _apply(self, payload: TokenPayload) -> AcceptResult:
        if isinstance(payload, TransferCredit):
            self.credit[payload.subclass] += payload.amount_tenths
            return AcceptResult.ok(
                MeterAction.CREDIT_ADDED,
                payload,
                f"register {payload.subclass} +{payload.amount_tenths} x 0.1 units",
            )
        if isinstance(payload, CurrencyTransfer):
            self.currency_credit[payload.subclass] += payload.amount
            return AcceptResult.ok(
                MeterAction.CURRENCY_CREDIT_ADDED,
                payload,
                f"register {payload.subclass} {payload.amount:+} currency units",
            )
        if isinstance(payload, SetMaximumPowerLimit):
            self.power_limit_watts = payload.watts
            return AcceptResult.ok(MeterAction.POWER_LIMIT_SET, payload, f"{payload.watts} W")
        if isinstance(payload, SetMaximumPhasePowerUnbalanceLimit):
            self.phase_unbalance_limit_watts = payload.watts
            return AcceptResult.ok(
                MeterAction.PHASE_UNBALANCE_LIMIT_SET, payload, f"{payload.watts} W"
            )
        if isinstance(payload, ClearCredit):
            return self._clear_credit(payload)
        if isinstance(payload, ClearTamperCondition):
            self.tamper = False
            return AcceptResult.ok(MeterAction.TAMPER_CLEARED, payload, "tamper cleared")
        if isinstance(payload, SetTariffRate):
            self.tariff_rate = payload.rate
            return AcceptResult.ok(MeterAction.TARIFF_RATE_SET, payload, f"{payload.rate:#06x}")
        if isinstance(payload, SetWaterMeterFactor):
            self.water_meter_factor = payload.factor
            return AcceptResult.ok(
                MeterAction.WATER_METER_FACTOR_SET, payload, f"{payload.factor:#06x}"
            )
        if isinstance(payload, ExtendedTokenSet):
            self.extended_settings[payload.index] = payload.value
            return AcceptResult.ok(
                MeterAction.EXTENDED_SETTING_SET, payload, f"index {payload.index}"
            )
        return AcceptResult.refuse(RejectReason.NOT_SUPPORTED, "unsupported token", payload)

    def _clear_credit(self, payload: ClearCredit) -> AcceptResult:
        register = payload.register
        if register == _ALL_REGISTERS:
            targets: range | tuple[int, ...] = _REGISTERS
        elif register in _REGISTERS:
            targets = (register,)
        else:
            return AcceptResult.refuse(
                RejectReason.NOT_SUPPORTED, f"no credit register {register}", payload
            )
        for target in targets:
            if target < 4:
                self.credit[target] = 0
            else:
                self.currency_credit[target] = Decimal(0)
        return AcceptResult.ok(MeterAction.CREDIT_CLEARED, payload, f"register {register:#x}")

    def _key_change_part(
        self,
        payload: Set1stSectionDecoderKey
        | Set2ndSectionDecoderKey
        | Set3rdSectionDecoderKey
        | Set4thSectionDecoderKey,
    ) -> AcceptResult:
        try:
            new = self._key_change.add(payload)
        except KeyChangeError as exc:
            return AcceptResult.refuse(RejectReason.NOT_SUPPORTED, str(exc), payload)
        if new is None:
            waiting = sorted(self._key_change.required - self._key_change.pending)
            return AcceptResult.ok(
                MeterAction.KEY_CHANGE_STORED, payload, f"waiting for subclasses {waiting}"
            )
        self._cipher = cipher_for(self._ea, new.decoder_key)
        self._decoder_key = new.decoder_key
        self.ken = new.ken
        self.krn = new.krn
        self.kt = new.kt
        self.ti = new.ti
        if new.sgc is not None:
            self.sgc = new.sgc
        message = "new decoder key in use"
        if new.ro:
            # Rollover: the next base date starts and TIDs restart near zero.
            later = [year for year in BASE_DATES if year > self.base_date]
            if later:
                self.base_date = later[0]
            self._tids.clear()
            self._tid_set.clear()
            message += f"; TID memory cleared, base date {self.base_date}"
        return AcceptResult.ok(MeterAction.KEY_CHANGED, payload, message)
