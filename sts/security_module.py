"""The security-module boundary: callers get decoder keys and tokens, never vending keys.

A vending key unlocks every meter of a supply group, so the gateway must never hold one in clear:
it stores only *wrapped* keys (opaque blobs) and hands them back to the security module with each
request. ``SecurityModule`` is that contract; ``SoftwareSecurityModule`` is the default
implementation, which wraps vending keys with AES-256-GCM under a 32-byte master key. The key id
(``"SGC/KRN"``, e.g. ``"123456/1"``) is the AES-GCM associated data, so a wrapped key moved to
another supply group or key revision no longer opens.

Replacing it with a hardware module (PKCS#11): the Protocol is shaped so that nothing outside
needs to change.

* Every operation takes the wrapped blob plus its key id, never a key handle or clear key; an HSM
  implementation can make the blob a ``C_WrapKey`` output (or a reference to a non-extractable
  key object) and unwrap it inside the device.
* ``wrap_vending_key`` is the single import path (key ceremony / ``C_UnwrapKey``); there is no
  "unwrap" in the interface, so no caller can get a vending key back.
* The outputs are decoder keys (meter-specific by design) and finished ``Token`` values;
  DKGA02/DKGA04 map to ``CKM_DES_ECB`` / ``CKM_SHA256_HMAC`` inside the HSM, and an STS-certified
  HSM encrypts the token block itself (STA and MISTY1 are not PKCS#11 mechanisms).
* Errors are ``SecurityModuleError`` subclasses carrying the key id, never key bytes.

The software module caches per-meter decoder keys and prepared ciphers in a bounded LRU, so the
second and later tokens for a meter cost no unwrap, no derivation and no cipher setup.
"""

from __future__ import annotations

import os
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sts.decoder_key import dkga02, dkga04, validate_key_attributes
from sts.encryption import BlockCipher, EncryptionAlgorithm, cipher_for, parse_ea
from sts.exceptions import (
    InvalidFieldError,
    KeyChangeError,
    KeyUnwrapError,
    SecurityModuleError,
)
from sts.key_change import key_change_tokens
from sts.meter_identity import MeterNumber
from sts.payloads import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    ExtendedTokenSet,
    ManagementSubclass,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    TokenPayload,
    TransferCredit,
)
from sts.tid import parse_base_date
from sts.token import Token, encode_token

__all__ = [
    "EngineeringKind",
    "MeterKeyData",
    "SecurityModule",
    "SoftwareSecurityModule",
    "derive_decoder_key",
]

EngineeringKind = ManagementSubclass | int | str

_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class MeterKeyData:
    """Everything about a meter that its decoder key depends on, validated on construction.

    ``drn`` is 11 or 13 digits including its check digit; ``sgc`` 6 digits; ``ti`` 2 digits;
    ``ea`` "07", "09" or "11"; ``base_date`` 1993, 2014 or 2035; ``dkga`` "02" or "04".
    Values are normalised (e.g. ``ea=7`` becomes "07", ``ti=1`` becomes "01").
    """

    iin: str
    drn: str
    sgc: str
    ti: str
    krn: int
    kt: int
    ea: str
    base_date: int
    dkga: str
    ken: int = 255

    def __post_init__(self) -> None:
        MeterNumber(self.iin, self.drn)
        kt, sgc, ti, krn = validate_key_attributes(self.kt, self.sgc, self.ti, self.krn)
        ea = parse_ea(self.ea)
        base_date = parse_base_date(self.base_date)
        dkga = str(self.dkga).strip().upper().removeprefix("DKGA").zfill(2)
        if dkga not in ("02", "04"):
            raise InvalidFieldError("dkga", self.dkga, "must be 02 or 04")
        if dkga == "02" and ea is EncryptionAlgorithm.EA11:
            raise InvalidFieldError("ea", self.ea, "DKGA02 gives 64-bit keys; EA11 needs DKGA04")
        if dkga == "04" and ea is EncryptionAlgorithm.EA09:
            raise InvalidFieldError("ea", self.ea, "DKGA04 is defined for EA07 and EA11 only")
        if isinstance(self.ken, bool) or not isinstance(self.ken, int) or not 0 <= self.ken <= 255:
            raise InvalidFieldError("ken", self.ken, "must be an integer 0..255")
        for name, value in (
            ("kt", kt),
            ("sgc", sgc),
            ("ti", ti),
            ("krn", krn),
            ("ea", ea.value),
            ("base_date", base_date),
            ("dkga", dkga),
        ):
            object.__setattr__(self, name, value)

    @property
    def meter_pan(self) -> str:
        return MeterNumber(self.iin, self.drn).pan

    @property
    def key_id(self) -> str:
        """The vending key's id, "SGC/KRN"."""
        return f"{self.sgc}/{self.krn}"

    @property
    def encryption_algorithm(self) -> EncryptionAlgorithm:
        return EncryptionAlgorithm(self.ea)


def derive_decoder_key(vending_key: bytes, meter: MeterKeyData) -> bytes:
    """The meter's decoder key under its DKGA. For security-module implementations only."""
    if meter.dkga == "02":
        return dkga02(vending_key, meter.iin, meter.drn, meter.kt, meter.sgc, meter.ti, meter.krn)
    return dkga04(
        vending_key,
        meter.meter_pan,
        meter.kt,
        meter.sgc,
        meter.ti,
        meter.krn,
        meter.base_date,
        meter.ea,
    )


@runtime_checkable
class SecurityModule(Protocol):
    """What the gateway may ask of a security module. See the module docstring."""

    def wrap_vending_key(self, vending_key: bytes, key_id: str) -> bytes: ...

    def decoder_key(
        self, wrapped_vending_key: bytes, key_id: str, meter: MeterKeyData
    ) -> bytes: ...

    def credit_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        subclass: int,
        amount_tenths: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token: ...

    def currency_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        subclass: int,
        amount: Decimal | int | str,
        tid: int,
    ) -> Token: ...

    def engineering_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        kind: EngineeringKind,
        tid: int,
        value: int = 0,
        rnd: int | None = None,
    ) -> Token: ...

    def power_limit_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        watts: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token: ...

    def clear_credit_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        register: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token: ...

    def clear_tamper_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        tid: int,
        rnd: int | None = None,
    ) -> Token: ...

    def phase_unbalance_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        watts: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token: ...

    def key_change_tokens(
        self,
        current_wrapped_vending_key: bytes,
        current_key_id: str,
        current_meter: MeterKeyData,
        new_wrapped_vending_key: bytes,
        new_key_id: str,
        new_meter: MeterKeyData,
    ) -> tuple[Token, ...]: ...


_ENGINEERING_NAMES: dict[str, ManagementSubclass] = {
    "power_limit": ManagementSubclass.SET_MAXIMUM_POWER_LIMIT,
    "clear_credit": ManagementSubclass.CLEAR_CREDIT,
    "tariff_rate": ManagementSubclass.SET_TARIFF_RATE,
    "clear_tamper": ManagementSubclass.CLEAR_TAMPER_CONDITION,
    "phase_unbalance": ManagementSubclass.SET_MAXIMUM_PHASE_POWER_UNBALANCE_LIMIT,
    "water_meter_factor": ManagementSubclass.SET_WATER_METER_FACTOR,
    "extended_token_set": ManagementSubclass.EXTENDED_TOKEN_SET,
}


def _engineering_kind(kind: EngineeringKind) -> ManagementSubclass:
    if isinstance(kind, str) and not kind.isdigit():
        name = kind.strip().lower().replace("-", "_")
        found = _ENGINEERING_NAMES.get(name)
        if found is None:
            try:
                found = ManagementSubclass[name.upper()]
            except KeyError:
                raise InvalidFieldError(
                    "kind", kind, f"must be one of {', '.join(_ENGINEERING_NAMES)}"
                ) from None
        return found
    try:
        return ManagementSubclass(int(kind))
    except ValueError:
        raise InvalidFieldError("kind", kind, "is not a class 2 subclass") from None


def _rnd(rnd: int | None) -> int:
    # RND only makes otherwise identical tokens differ (IEC 6.3.4 takes it from a millisecond
    # counter); it protects nothing, so the fast non-cryptographic generator is right here.
    return random.getrandbits(4) if rnd is None else rnd


def engineering_payload(
    kind: EngineeringKind, tid: int, value: int = 0, rnd: int = 0
) -> TokenPayload:
    """The class 2 payload for ``kind``: watts for the power limits (rounded up), the register
    for clear credit, the raw 16-bit value for tariff rate, water factor and extended set."""
    subclass = _engineering_kind(kind)
    if subclass is ManagementSubclass.SET_MAXIMUM_POWER_LIMIT:
        return SetMaximumPowerLimit.rounded(tid, value, rnd)
    if subclass is ManagementSubclass.SET_MAXIMUM_PHASE_POWER_UNBALANCE_LIMIT:
        return SetMaximumPhasePowerUnbalanceLimit.rounded(tid, value, rnd)
    if subclass is ManagementSubclass.CLEAR_CREDIT:
        return ClearCredit(tid, value, rnd)
    if subclass is ManagementSubclass.SET_TARIFF_RATE:
        return SetTariffRate(tid, value, rnd)
    if subclass is ManagementSubclass.CLEAR_TAMPER_CONDITION:
        if value:
            raise InvalidFieldError("value", value, "clear tamper carries no value")
        return ClearTamperCondition(tid, rnd)
    if subclass is ManagementSubclass.SET_WATER_METER_FACTOR:
        return SetWaterMeterFactor(tid, value, rnd)
    if subclass is ManagementSubclass.EXTENDED_TOKEN_SET:
        return ExtendedTokenSet(tid, value, rnd)
    raise InvalidFieldError("kind", kind, "key change tokens come in sets: use key_change_tokens()")


@dataclass(frozen=True, slots=True)
class _MeterKey:
    decoder_key: bytes
    cipher: BlockCipher


class _Lru:
    """A small LRU map, safe across the gateway's threads.

    A hit (every token after a meter's first) is one dict lookup with no lock: dict reads are
    atomic in CPython, and an entry's age is refreshed only on every 64th hit of a full cache, so
    the common path stays cheap. Misses and inserts take the lock."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[object, _MeterKey] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0

    def get(self, key: object) -> _MeterKey | None:
        value = self._items.get(key)
        if value is not None and len(self._items) >= self._size:
            self._hits += 1
            if not self._hits & 63:
                with self._lock:
                    if key in self._items:
                        self._items.move_to_end(key)
        return value

    def put(self, key: object, value: _MeterKey) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class SoftwareSecurityModule:
    """The default security module: vending keys wrapped with AES-256-GCM under ``master_key``.

    ``cache_size`` bounds the per-meter cache of decoder keys and prepared ciphers.
    """

    __slots__ = ("_aead", "_cache", "_cache_size")

    def __init__(self, master_key: bytes, *, cache_size: int = 4096) -> None:
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != 32:
            size = len(master_key) if isinstance(master_key, bytes | bytearray) else "?"
            raise SecurityModuleError(f"the master key must be 32 bytes (got {size})")
        if cache_size < 1:
            raise InvalidFieldError("cache_size", cache_size, "must be at least 1")
        # Only the AESGCM object keeps the master key; no attribute holds it in clear.
        self._aead = AESGCM(bytes(master_key))
        self._cache = _Lru(cache_size)
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"SoftwareSecurityModule(cache_size={self._cache_size})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a security module cannot be pickled")

    # -- keys ------------------------------------------------------------------------------

    def wrap_vending_key(self, vending_key: bytes, key_id: str) -> bytes:
        """nonce(12) || ciphertext || tag(16), bound to ``key_id`` ("SGC/KRN")."""
        if not isinstance(vending_key, bytes | bytearray) or not 8 <= len(vending_key) <= 64:
            size = len(vending_key) if isinstance(vending_key, bytes | bytearray) else "?"
            raise InvalidFieldError(
                "vending_key", f"<{size} bytes>", "must be 8 to 64 bytes (DKGA02 8, DKGA04 20)"
            )
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, bytes(vending_key), _aad(key_id))

    def _unwrap(self, wrapped_vending_key: bytes, key_id: str) -> bytes:
        if (
            not isinstance(wrapped_vending_key, bytes | bytearray)
            or len(wrapped_vending_key) <= _NONCE_BYTES + 16
        ):
            raise KeyUnwrapError(key_id)
        nonce = bytes(wrapped_vending_key[:_NONCE_BYTES])
        try:
            return self._aead.decrypt(
                nonce, bytes(wrapped_vending_key[_NONCE_BYTES:]), _aad(key_id)
            )
        except InvalidTag:
            raise KeyUnwrapError(key_id) from None

    def _meter_key(self, wrapped_vending_key: bytes, key_id: str, meter: MeterKeyData) -> _MeterKey:
        if not isinstance(meter, MeterKeyData):
            raise InvalidFieldError("meter", type(meter).__name__, "must be MeterKeyData")
        wrapped = wrapped_vending_key
        cache_key = (wrapped if type(wrapped) is bytes else bytes(wrapped), key_id, meter)
        found = self._cache.get(cache_key)
        if found is not None:
            return found
        vending_key = self._unwrap(wrapped_vending_key, key_id)
        try:
            decoder_key = derive_decoder_key(vending_key, meter)
        finally:
            del vending_key
        entry = _MeterKey(decoder_key, cipher_for(meter.ea, decoder_key))
        self._cache.put(cache_key, entry)
        return entry

    def decoder_key(self, wrapped_vending_key: bytes, key_id: str, meter: MeterKeyData) -> bytes:
        """The meter's decoder key (8 bytes, 16 for EA11), big-endian."""
        return self._meter_key(wrapped_vending_key, key_id, meter).decoder_key

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- tokens ----------------------------------------------------------------------------

    def _issue(
        self, wrapped_vending_key: bytes, key_id: str, meter: MeterKeyData, payload: TokenPayload
    ) -> Token:
        entry = self._meter_key(wrapped_vending_key, key_id, meter)
        return encode_token(payload, cipher=entry.cipher, ken=meter.ken)

    def credit_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        subclass: int,
        amount_tenths: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token:
        """A class 0 credit token (subclass 0 electricity, 1 water, 2 gas, 3 time) for
        ``amount_tenths`` 0.1 units, rounded up to what the token can carry; the token's
        ``payload.amount_tenths`` is what the meter will credit."""
        payload = TransferCredit.rounded(subclass, tid, amount_tenths, _rnd(rnd))
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def currency_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        subclass: int,
        amount: Decimal | int | str,
        tid: int,
    ) -> Token:
        """A class 0 currency credit token (subclasses 4-7), amount in currency units."""
        payload = CurrencyTransfer.rounded(subclass, tid, amount)
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def engineering_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        kind: EngineeringKind,
        tid: int,
        value: int = 0,
        rnd: int | None = None,
    ) -> Token:
        """A class 2 token other than key change. ``kind`` is a ``ManagementSubclass``, its
        number, or a name: power_limit, clear_credit, tariff_rate, clear_tamper,
        phase_unbalance, water_meter_factor, extended_token_set. ``value``: watts for the
        limits, the register for clear credit (0xFFFF = all), the raw field otherwise."""
        payload = engineering_payload(kind, tid, value, _rnd(rnd))
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def power_limit_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        watts: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token:
        payload = SetMaximumPowerLimit.rounded(tid, watts, _rnd(rnd))
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def clear_credit_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        register: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token:
        payload = ClearCredit(tid, register, _rnd(rnd))
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def clear_tamper_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        tid: int,
        rnd: int | None = None,
    ) -> Token:
        payload = ClearTamperCondition(tid, _rnd(rnd))
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def phase_unbalance_token(
        self,
        wrapped_vending_key: bytes,
        key_id: str,
        meter: MeterKeyData,
        watts: int,
        tid: int,
        rnd: int | None = None,
    ) -> Token:
        payload = SetMaximumPhasePowerUnbalanceLimit.rounded(tid, watts, _rnd(rnd))
        return self._issue(wrapped_vending_key, key_id, meter, payload)

    def key_change_tokens(
        self,
        current_wrapped_vending_key: bytes,
        current_key_id: str,
        current_meter: MeterKeyData,
        new_wrapped_vending_key: bytes,
        new_key_id: str,
        new_meter: MeterKeyData,
    ) -> tuple[Token, ...]:
        """The key change set moving the meter from ``current_meter`` to ``new_meter`` key data:
        2 tokens for a 64-bit new key, 4 for a 128-bit one (carrying the new SGC), encrypted
        with the current decoder key; RO is set when the base date changes."""
        if (current_meter.iin, current_meter.drn) != (new_meter.iin, new_meter.drn):
            raise KeyChangeError("current and new key data are for different meters")
        if new_meter.base_date < current_meter.base_date:
            raise KeyChangeError(
                f"base date cannot go back ({current_meter.base_date} -> {new_meter.base_date})"
            )
        current = self._meter_key(current_wrapped_vending_key, current_key_id, current_meter)
        new = self._meter_key(new_wrapped_vending_key, new_key_id, new_meter)
        rollover = new_meter.base_date != current_meter.base_date
        if rollover and new.decoder_key == current.decoder_key:
            # The meter forgets its TIDs on rollover; under an unchanged key every token it ever
            # accepted would then be accepted again (DKGA02 keys do not depend on the base date).
            raise KeyChangeError(
                "a base-date rollover needs a new decoder key (change the KRN or SGC as well)"
            )
        return key_change_tokens(
            new.decoder_key,
            ken=new_meter.ken,
            krn=new_meter.krn,
            kt=new_meter.kt,
            ti=int(new_meter.ti),
            ro=rollover,
            new_sgc=new_meter.sgc,
            cipher=current.cipher,
        )


def _aad(key_id: str) -> bytes:
    if not isinstance(key_id, str) or not key_id:
        raise InvalidFieldError("key_id", key_id, 'must be a non-empty string like "123456/1"')
    return key_id.encode("utf-8")
