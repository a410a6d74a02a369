"""The ``sts-token`` command: decoder keys, token generation and decoding from the shell.

It is a black-box contract used by test rigs and by people checking a token by hand, so its
input and output formats are fixed (see sts/README.md):

* ``sts-token decoder-key --dkga 02|04 --vending-key HEX ...`` prints the key in uppercase hex;
* ``sts-token generate`` reads one JSON object per line on stdin and writes, per object, the
  20-digit token or ``error: <reason>`` (a bad line never stops the batch);
* ``sts-token decode --decoder-key HEX --ea 07 TOKEN...`` prints the decoded fields as JSON,
  one line per token.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from sts.decoder_key import dkga02, dkga04
from sts.encryption import BlockCipher, cipher_for, parse_ea
from sts.exceptions import InvalidFieldError, StsError
from sts.key_change import key_change_payloads
from sts.meter_identity import luhn_check_digit, parse_meter_pan
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
)
from sts.tid import datetime_for_tid, parse_base_date, tid_for
from sts.token import DecodedToken, decode_token, encode_token

__all__ = ["generate_line", "main"]


class _RequestError(Exception):
    """A generate line is unusable; the message becomes ``error: <message>``."""


# --------------------------------------------------------------------------- field readers


def _get(request: dict[str, Any], name: str) -> Any:
    if name not in request or request[name] is None:
        raise _RequestError(f"missing field {name!r}")
    return request[name]


def _int(request: dict[str, Any], name: str, default: int | None = None) -> int:
    if default is not None and request.get(name) is None:
        return default
    value = _get(request, name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _RequestError(f"field {name!r} must be an integer")
    return value


def _hex_int(request: dict[str, Any], name: str) -> int:
    value = _get(request, name)
    if not isinstance(value, str):
        raise _RequestError(f"field {name!r} must be a hex string")
    try:
        return int(value.strip().removeprefix("0x").removeprefix("0X"), 16)
    except ValueError:
        raise _RequestError(f"field {name!r} is not hex: {value!r}") from None


def _hex_bytes(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise _RequestError(f"field {name!r} must be a hex string")
    try:
        return bytes.fromhex(value.strip())
    except ValueError:
        raise _RequestError(f"field {name!r} is not hex") from None


def _tid(request: dict[str, Any]) -> int:
    if request.get("tid") is not None:
        return _int(request, "tid")
    if request.get("issued_at") is None:
        raise _RequestError("missing field 'tid' (or 'issued_at' with 'base_date')")
    text = _get(request, "issued_at")
    if not isinstance(text, str):
        raise _RequestError("field 'issued_at' must be a string 'YYYY-MM-DD HH:MM'")
    try:
        # "YYYY-MM-DD HH:MM" per the contract; ISO forms with "T" or seconds are read too.
        issued_at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _RequestError(f"field 'issued_at' must be 'YYYY-MM-DD HH:MM', not {text!r}") from None
    return tid_for(issued_at, parse_base_date(_get(request, "base_date")))


# --------------------------------------------------------------------------- generate


def _class0(request: dict[str, Any], subclass: int) -> TokenPayload:
    tid = _tid(request)
    if subclass < 4:
        rnd = _int(request, "rnd", 0)
        if request.get("amount") is not None:
            return TransferCredit.rounded(subclass, tid, _int(request, "amount"), rnd)
        if request.get("value_hex") is not None:
            return TransferCredit.from_body(subclass, rnd << 40 | tid << 16 | _field16(request))
        raise _RequestError("missing field 'amount' (0.1 units)")
    if subclass < 8:
        if request.get("currency_amount") is not None:
            amount = request["currency_amount"]
            # JSON numbers arrive as int or (parse_float) Decimal, never as binary floats.
            if not isinstance(amount, str | int | Decimal) or isinstance(amount, bool):
                raise _RequestError("field 'currency_amount' must be a decimal string")
            return CurrencyTransfer.rounded(subclass, tid, str(amount))
        if request.get("value_hex") is not None:
            # The raw form: value_hex is the amount field and rnd the S&E nibble.
            se_nibble = _int(request, "rnd", 0)
            return CurrencyTransfer.from_body(
                subclass, se_nibble << 40 | tid << 16 | _field16(request)
            )
        raise _RequestError("missing field 'currency_amount'")
    raise _RequestError(f"class 0 subclass {subclass} is reserved")


def _field16(request: dict[str, Any]) -> int:
    value = _hex_int(request, "value_hex")
    if not 0 <= value <= 0xFFFF:
        raise _RequestError("field 'value_hex' must be a 16-bit value")
    return value


def _class1(request: dict[str, Any], subclass: int) -> TokenPayload:
    if subclass > 2:
        raise _RequestError(f"class 1 subclass {subclass} is reserved")
    text = _get(request, "control_hex")
    control = _hex_int(request, "control_hex")
    if request.get("mfr_code") is None and isinstance(text, str) and len(text.strip()) == 11:
        # 11 hex digits = the whole 44-bit body (control and MfrCode together).
        return MeterTest.from_body(subclass, control)
    return MeterTest(subclass, control, _int(request, "mfr_code", 0))


def _class2(request: dict[str, Any], subclass: int) -> TokenPayload:
    if subclass in (3, 4, 8, 9):
        return _key_change(request, subclass)
    if subclass > 10:
        raise _RequestError(f"class 2 subclass {subclass} is reserved")
    tid = _tid(request)
    rnd = _int(request, "rnd", 0)
    raw = request.get("value_hex") is not None
    if subclass == 0 and not raw:
        return SetMaximumPowerLimit.rounded(tid, _int(request, "mpl_watts"), rnd)
    if subclass == 6 and not raw:
        return SetMaximumPhasePowerUnbalanceLimit.rounded(tid, _int(request, "mppul_watts"), rnd)
    if subclass == 1 and not raw:
        return ClearCredit(tid, _int(request, "register"), rnd)
    if subclass == 5 and not raw:
        return ClearTamperCondition(tid, rnd)
    body = rnd << 40 | tid << 16 | _field16(request)
    kinds: dict[int, Any] = {
        0: SetMaximumPowerLimit,
        1: ClearCredit,
        2: SetTariffRate,
        5: ClearTamperCondition,
        6: SetMaximumPhasePowerUnbalanceLimit,
        7: SetWaterMeterFactor,
        10: ExtendedTokenSet,
    }
    payload: TokenPayload = kinds[subclass].from_body(subclass, body)
    return payload


def _ken(request: dict[str, Any], subclass: int) -> int:
    """The new KEN; its nibbles may also be given on their own (ken_high/ken_low)."""
    high = request.get("ken_high")
    low = request.get("ken_low")
    if high is None and low is None:
        # The 3rd and 4th tokens of a 128-bit set carry no KEN.
        return _int(request, "ken", 255) if subclass in (8, 9) else _int(request, "ken")
    ken = _int(request, "ken", 0)
    if high is not None:
        ken = _int(request, "ken_high") << 4 | (ken & 15)
    if low is not None:
        ken = (ken & 0xF0) | _int(request, "ken_low")
    if not 0 <= ken <= 255:
        raise _RequestError("KEN nibbles must be 0..15")
    return ken


def _key_change(request: dict[str, Any], subclass: int) -> TokenPayload:
    new_key = _hex_bytes(_get(request, "new_decoder_key"), "new_decoder_key")
    if len(new_key) not in (8, 16):
        raise _RequestError("field 'new_decoder_key' must be 16 or 32 hex digits")
    if subclass in (8, 9) and len(new_key) != 16:
        raise _RequestError("3rd/4th section key tokens are for 128-bit keys")
    # Only the fields the chosen token carries are required; the rest are placeholders.
    ken = _ken(request, subclass)
    krn = _int(request, "krn") if subclass == 3 else _int(request, "krn", 1)
    kt = _int(request, "kt") if subclass == 3 else _int(request, "kt", 0)
    ti = _int(request, "ti") if subclass == 4 else _int(request, "ti", 0)
    if isinstance(request.get("ro"), bool):
        request = {**request, "ro": int(request["ro"])}  # JSON true/false read as 1/0
    ro = _int(request, "ro", 0)
    if ro not in (0, 1):
        raise _RequestError("field 'ro' must be 0 or 1")
    sgc = request.get("new_sgc")
    if subclass in (8, 9):
        sgc = _get(request, "new_sgc")
        if isinstance(sgc, int) and not isinstance(sgc, bool):
            sgc = f"{sgc:06d}"
    elif len(new_key) == 16:
        sgc = "000000"
    payloads = key_change_payloads(
        new_key,
        ken=ken,
        krn=krn,
        kt=kt,
        ti=ti,
        ro=bool(ro),
        new_sgc=sgc,
        res_3kct=_int(request, "res_3kct", 0),
    )
    wanted = {
        3: Set1stSectionDecoderKey,
        4: Set2ndSectionDecoderKey,
        8: Set3rdSectionDecoderKey,
        9: Set4thSectionDecoderKey,
    }[subclass]
    return next(p for p in payloads if isinstance(p, wanted))


def _payload(request: dict[str, Any]) -> TokenPayload:
    token_class = _int(request, "class")
    subclass = _int(request, "subclass")
    if not 0 <= subclass <= 15:
        raise _RequestError("field 'subclass' must be 0..15")
    if token_class == 0:
        return _class0(request, subclass)
    if token_class == 1:
        return _class1(request, subclass)
    if token_class == 2:
        return _class2(request, subclass)
    raise _RequestError(f"class {token_class} is not a token class (0, 1 or 2)")


_CIPHERS: dict[tuple[str, bytes], BlockCipher] = {}


def _cipher(request: dict[str, Any]) -> BlockCipher:
    ea = parse_ea(_get(request, "ea"))
    key = _hex_bytes(_get(request, "decoder_key"), "decoder_key")
    found = _CIPHERS.get((ea.value, key))
    if found is None:
        if len(_CIPHERS) > 1024:
            _CIPHERS.clear()
        found = _CIPHERS[(ea.value, key)] = cipher_for(ea, key)
    return found


def generate_line(line: str) -> str:
    """One line of ``sts-token generate``: the token digits or ``error: <reason>``."""
    try:
        request = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return f"error: invalid JSON ({exc.msg})"
    if not isinstance(request, dict):
        return "error: each line must be a JSON object"
    try:
        payload = _payload(request)
        # For key change tokens "ken" is the new key's KEN; for the others it is the current
        # key's expiry, which encode_token enforces on the TID.
        ken = _int(request, "ken", 255)
        if payload.token_class == 1:
            return encode_token(payload).number
        return encode_token(payload, cipher=_cipher(request), ken=ken).number
    except (_RequestError, StsError) as exc:
        return f"error: {exc}"
    except Exception as exc:  # a bad line must never stop the batch
        return f"error: {type(exc).__name__}: {exc}"


def _generate(lines: Iterable[str], out: TextIO) -> int:
    for line in lines:
        if not line.strip():
            continue
        out.write(generate_line(line) + "\n")
        out.flush()
    return 0


# --------------------------------------------------------------------------- decode


def _payload_fields(payload: TokenPayload) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": type(payload).__name__}
    if isinstance(payload, TransferCredit):
        fields.update(
            tid=payload.tid,
            rnd=payload.rnd,
            amount=payload.amount_tenths,
            amount_field_hex=f"{payload.amount_field:04X}",
            value_hex=f"{payload.amount_field:04X}",
        )
    elif isinstance(payload, CurrencyTransfer):
        fields.update(
            tid=payload.tid,
            se_nibble=payload.se_nibble,
            currency_amount=str(payload.amount),
            sign=int(payload.negative),
            exponent=payload.exponent,
            mantissa=payload.mantissa,
            amount_field_hex=f"{payload.amount_field:04X}",
            value_hex=f"{payload.amount_field:04X}",
        )
    elif isinstance(payload, MeterTest):
        width = (44 - payload.mfr_code_bits) // 4  # 9 hex digits (36 bits) or 7 (28 bits)
        fields.update(
            control_hex=f"{payload.control:0{width}X}",
            mfr_code=payload.mfr_code,
            body_hex=f"{payload.body():011X}",
        )
    elif isinstance(payload, Set1stSectionDecoderKey):
        fields.update(
            ken_high=payload.ken_high,
            krn=payload.krn,
            ro=int(payload.ro),
            res_3kct=payload.res_3kct,
            kt=payload.kt,
            nkho_hex=f"{payload.nkho:08X}",
        )
    elif isinstance(payload, Set2ndSectionDecoderKey):
        fields.update(ken_low=payload.ken_low, ti=payload.ti, nklo_hex=f"{payload.nklo:08X}")
    elif isinstance(payload, Set3rdSectionDecoderKey):
        fields.update(sgc_low=payload.sgc_low, nkmo2_hex=f"{payload.nkmo2:08X}")
    elif isinstance(payload, Set4thSectionDecoderKey):
        fields.update(sgc_high=payload.sgc_high, nkmo1_hex=f"{payload.nkmo1:08X}")
    elif isinstance(payload, ReservedToken):
        fields.update(body_hex=f"{payload.raw_body:011X}")
    else:
        value = payload.body() & 0xFFFF
        fields.update(tid=payload.tid, rnd=payload.rnd, value_hex=f"{value:04X}")
        if isinstance(payload, SetMaximumPowerLimit):
            fields["mpl_watts"] = payload.watts
        elif isinstance(payload, SetMaximumPhasePowerUnbalanceLimit):
            fields["mppul_watts"] = payload.watts
        elif isinstance(payload, ClearCredit):
            fields["register"] = payload.register
        elif isinstance(payload, ExtendedTokenSet):
            fields["index"] = payload.index
    return fields


def decoded_json(decoded: DecodedToken, base_date: int | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "token": decoded.number,
        "class": decoded.token_class,
        "subclass": decoded.subclass,
        "tid": decoded.tid,
    }
    result.update(_payload_fields(decoded.payload))
    result["crc_hex"] = f"{decoded.crc:04X}"
    if decoded.payload.uses_crc_c:
        result["crc_c_hex"] = result["crc_hex"]
    result["block_hex"] = f"{decoded.block:016X}"
    if base_date is not None and decoded.tid is not None:
        result["issued_at"] = f"{datetime_for_tid(decoded.tid, base_date):%Y-%m-%d %H:%M}"
    result["crc_ok"] = decoded.crc_ok
    return result


# --------------------------------------------------------------------------- commands


def _decoder_key_command(args: argparse.Namespace) -> str:
    vending_key = bytes.fromhex(args.vending_key)
    dkga = args.dkga.zfill(2)
    if dkga == "02":
        if args.meter_pan:
            meter = parse_meter_pan(args.meter_pan)
            iin, drn = meter.iin, meter.drn
        elif args.iin and args.drn:
            iin, drn = args.iin, args.drn
        else:
            raise InvalidFieldError("drn", None, "DKGA02 needs --iin and --drn (or --meter-pan)")
        key = dkga02(vending_key, iin, drn, args.kt, args.sgc, args.ti, args.krn)
    elif dkga == "04":
        if args.meter_pan:
            pan = args.meter_pan
        elif args.iin and args.drn:
            pan = args.iin + args.drn + luhn_check_digit(args.iin + args.drn)
        else:
            raise InvalidFieldError("meter_pan", None, "DKGA04 needs --meter-pan (or --iin/--drn)")
        if args.base_date is None or args.ea is None:
            raise InvalidFieldError("base_date", None, "DKGA04 needs --base-date and --ea")
        key = dkga04(
            vending_key, pan, args.kt, args.sgc, args.ti, args.krn, args.base_date, args.ea
        )
    else:
        raise InvalidFieldError("dkga", args.dkga, "must be 02 or 04")
    return key.hex().upper()


def _decode_command(args: argparse.Namespace) -> int:
    key = bytes.fromhex(args.decoder_key) if args.decoder_key else None
    base_date = parse_base_date(args.base_date) if args.base_date else None
    cipher = cipher_for(args.ea, key) if key is not None and args.ea else None
    status = 0
    for token in args.tokens:
        try:
            decoded = decode_token(token, key, args.ea, cipher=cipher)
        except StsError as exc:
            print(f"error: {token}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps(decoded_json(decoded, base_date)))
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sts-token", description="STS (IEC 62055-41) decoder keys and 20-digit tokens."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    key = commands.add_parser("decoder-key", help="derive a decoder key (DKGA02 or DKGA04)")
    key.add_argument("--dkga", required=True, help="02 or 04")
    key.add_argument("--vending-key", required=True, help="vending key, hex")
    key.add_argument("--iin")
    key.add_argument("--drn")
    key.add_argument("--meter-pan", help="18-digit meter PAN (IIN + DRN + check digit)")
    key.add_argument("--kt", required=True, type=int)
    key.add_argument("--sgc", required=True)
    key.add_argument("--ti", required=True)
    key.add_argument("--krn", required=True, type=int)
    key.add_argument("--base-date", help="1993, 2014 or 2035 (DKGA04)")
    key.add_argument("--ea", help="07 or 11 (DKGA04)")

    commands.add_parser(
        "generate", help="read JSON token requests, one per line, on stdin; print tokens"
    )

    decode = commands.add_parser("decode", help="decode a token and print its fields as JSON")
    decode.add_argument("--decoder-key", help="hex (not needed for class 1)")
    decode.add_argument("--ea", help="07, 09 or 11")
    decode.add_argument("--base-date", help="show the TID as a date on this base date")
    decode.add_argument("tokens", nargs="+", metavar="TOKEN", help="one JSON line per token")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "generate":
        return _generate(sys.stdin, sys.stdout)
    try:
        if args.command == "decoder-key":
            print(_decoder_key_command(args))
            return 0
        return _decode_command(args)
    except (StsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
