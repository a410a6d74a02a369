"""Engineering tokens: key change, clear tamper, clear credit, power limit (meter-specific) and
test/display tokens (not meter-specific). Only for terminals with the engineering privilege;
each is idempotent by msgID like a vend, and audited.

A meter-specific token (the key change among them) is a plan of the one vend pipeline
(gateway/vend/pipeline.py): `METER_SPECIFIC_ENG` issues its own tokens, on any meter, without
money, audited. The service calls these, so the dependency runs one way: service -> engineering
-> pipeline."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.runtime import Runtime
from gateway import errors
from gateway.models import SupplyGroup, VendingKey
from gateway.vend import flow, meters, pipeline
from gateway.vend.meters import MeterRecord, PendingKeyChange
from gateway.vend.types import (
    EngineeringResult,
    KeyChangeResult,
    MeterDetail,
    Principal,
    RequestHeader,
)
from sts import Token, next_tid, test_token

METER_SPECIFIC = ("KeyChange", "ClearTamper", "ClearCredit", "PowerLimit", "PhaseUnbalance")
# Class 1 control fields: every test and display at once (36 bits with a 2-digit
# manufacturer code, 28 bits with a 4-digit one).
ALL_TESTS = {2: (1 << 36) - 1, 4: (1 << 28) - 1}
# One test or display each: the control field's bits of IEC 62055-41 (6.3.8), by the XMLVend
# engType names. Bit 5 (test the token reader) has no XMLVend name; bits 11 and up are
# reserved. The same bit in the 36- and 28-bit forms.
TEST_BITS = {
    "TestBreaker": 0,  # test the load switch
    "TestDisplay": 1,  # test the information display
    "DispConsTot": 2,  # display the total energy consumed
    "DispKRN": 3,  # display the key revision number
    "DispTI": 4,  # display the tariff index
    "DispPwrLmt": 6,  # display the maximum power limit
    "DispTamper": 7,  # display the tamper status
    "DispInstPwr": 8,  # display the power being drawn now
    "DispVer": 9,  # display the software version
    "DispPhUnbalance": 10,  # display the maximum phase power unbalance limit
}
# The /vend contract's own spellings of two of them (gateway/soap/types.py).
TEST_ALIASES = {"TestDisp": "TestDisplay", "DispUnbalance": "DispPhUnbalance"}
NON_METER_SPECIFIC = ("TestAll", *TEST_BITS, *TEST_ALIASES)
MAX_WATTS = 18201624  # the largest value the 16-bit limit field carries


def _eng_tokens(
    ctx: pipeline.Context,
    session: Session,
    meter: MeterRecord,
    ask: pipeline.Ask,
    clock: flow.VendClock,
) -> flow.IssuedTokens:
    """Step 3 of an engineering request: the key-change set, or one engineering token."""
    eng_type, value = ask.eng_type, ask.value
    hsm = ctx.runtime.security_module
    if eng_type == "KeyChange":
        if not meter.has_pending_key_change:
            raise errors.BusinessRuleError(
                f"meter {meter.meter_number} has no pending key change", code="no-key-change"
            )
        return flow.issue_tokens(session, hsm, meter, [], clock)
    keys = meters.current_keys(meter)
    tid = next_tid(clock.tid_time, keys.key_data.base_date, meter.last_tid)
    if eng_type == "ClearTamper":
        token: Token = hsm.clear_tamper_token(keys.wrapped_key, keys.key_id, keys.key_data, tid=tid)
    elif eng_type == "ClearCredit":
        register = 0xFFFF if value is None else value
        if not 0 <= register <= 0xFFFF:
            raise errors.SchemaError("ClearCredit value is a register number 0-65535")
        token = hsm.clear_credit_token(
            keys.wrapped_key, keys.key_id, keys.key_data, register=register, tid=tid
        )
    elif eng_type == "PowerLimit":
        if value is None or not 0 < value <= MAX_WATTS:
            raise errors.SchemaError(f"PowerLimit needs a value in watts, 1 to {MAX_WATTS}")
        token = hsm.power_limit_token(
            keys.wrapped_key, keys.key_id, keys.key_data, watts=value, tid=tid
        )
    elif eng_type == "PhaseUnbalance":
        if value is None or not 0 < value <= MAX_WATTS:
            raise errors.SchemaError(f"PhaseUnbalance needs a value in watts, 1 to {MAX_WATTS}")
        token = hsm.phase_unbalance_token(
            keys.wrapped_key, keys.key_id, keys.key_data, watts=value, tid=tid
        )
    else:
        raise errors.UseCaseSupport(
            f"engType {eng_type!r} is not supported; use one of " + ", ".join(METER_SPECIFIC)
        )
    return flow.IssuedTokens((flow.IssuedToken("engineering", token.number, tid),), tid, None)


def _answer(done: pipeline.Done) -> dict[str, Any]:
    return {
        "description": f"{done.ask.eng_type} for meter {done.ask.meter}",
        "tokens": [t.token for t in done.issued.tokens],
        "meter": meters.meter_detail(done.meter).__dict__,
    }


METER_SPECIFIC_ENG = pipeline.Plan(
    operation="MeterSpecificEng",
    kind="engineering",
    fingerprint=("meter", "eng_type", "value"),
    answer=_answer,
    vends=False,
    issue=_eng_tokens,
    audit_action="engineering.token",
)


def meter_specific(
    ctx: pipeline.Context,
    who: Principal,
    header: RequestHeader,
    meter_number: str,
    eng_type: str,
    value: int | None,
) -> EngineeringResult:
    body = pipeline.run(
        ctx,
        METER_SPECIFIC_ENG,
        pipeline.Ask(who, header, meter_number, eng_type=eng_type, value=value),
    )
    return EngineeringResult(
        body["description"], tuple(body["tokens"]), MeterDetail(**body["meter"])
    )


def non_meter_specific(
    runtime: Runtime, who: Principal, header: RequestHeader, eng_type: str, mfr_code: int | None
) -> EngineeringResult:
    """Test and display tokens (class 1) are not encrypted and fit any meter of a maker:
    TestAll, or one test or display of TEST_BITS."""
    if eng_type not in NON_METER_SPECIFIC:
        raise errors.UseCaseSupport(
            f"engType {eng_type!r} is not supported; use one of " + ", ".join(NON_METER_SPECIFIC)
        )
    code = 0 if mfr_code is None else mfr_code
    if not 0 <= code <= 9999:
        raise errors.SchemaError("mfrCode is a 2- or 4-digit manufacturer code")
    digits = 2 if code <= 99 else 4
    named = TEST_ALIASES.get(eng_type, eng_type)
    control = ALL_TESTS[digits] if named == "TestAll" else 1 << TEST_BITS[named]
    token = test_token(control=control, mfr_code=code, four_digit_mfr=digits == 4)
    with runtime.sessions() as session, session.begin():
        audit.record(
            session,
            f"{who.client_id}/{who.terminal_id}",
            "engineering.test_token",
            eng_type,
            mfr_code=code,
            msg_id=header.msg_id.key,
        )
    return EngineeringResult(f"{eng_type} (manufacturer {code:0{digits}d})", (token.number,))


# -- UpdateMeterKey: a key change to the key data the request names -------------------------
#
# Like the "KeyChange" engineering token, but to the requested supply group, KRN and tariff
# index (each None: keep the meter's) rather than to a pending change the utility registered:
# the two key change tokens from the meter's current key data to the new, issued in the one
# pipeline (a plan of its own, idempotent by msgID, audited), and the meter's record moved to
# the new key data in the same transaction (its TID memory cleared when the base date changes).

_SGC = re.compile(r"[0-9]{6}")
_TI = re.compile(r"[0-9]{2}")


def check_key_target(to_sgc: str | None, to_krn: int | None, to_ti: str | None) -> None:
    if to_sgc is not None and not _SGC.fullmatch(to_sgc):
        raise errors.SchemaError("the supply group code is 6 digits", code="sgc", value=to_sgc)
    if to_krn is not None and (type(to_krn) is not int or not 1 <= to_krn <= 9):
        raise errors.SchemaError("the key revision number is 1 to 9", code="krn", value=to_krn)
    if to_ti is not None and not _TI.fullmatch(to_ti):
        raise errors.SchemaError("the tariff index is 2 digits", code="ti", value=to_ti)


def _key_change_to_target(
    ctx: pipeline.Context,
    session: Session,
    meter: MeterRecord,
    ask: pipeline.Ask,
    clock: flow.VendClock,
) -> flow.IssuedTokens:
    assert ask.key_target is not None
    to_sgc, to_krn, to_ti = ask.key_target
    sgc = meter.group.sgc if to_sgc is None else to_sgc
    krn = meter.krn if to_krn is None else to_krn
    ti = meter.ti if to_ti is None else to_ti
    if (sgc, krn, ti) == (meter.group.sgc, meter.krn, meter.ti):
        raise errors.UpdateMeterKeySame(
            f"meter {meter.meter_number} already has SGC {sgc}, KRN {krn}, TI {ti}",
            code="same-key",
        )
    group = session.execute(
        select(SupplyGroup.id, SupplyGroup.base_date).where(SupplyGroup.sgc == sgc)
    ).first()
    if group is None:
        raise errors.BusinessRuleError(f"no supply group {sgc}", code="unknown-supply-group")
    has_key = session.scalar(
        select(VendingKey.id).where(VendingKey.supply_group_id == group.id, VendingKey.krn == krn)
    )
    if has_key is None:
        raise errors.BusinessRuleError(
            f"supply group {sgc} has no vending key of KRN {krn}", code="no-vending-key"
        )
    same_group = group.id == meter.group.id
    target = PendingKeyChange(
        supply_group_id=group.id,
        krn=krn,
        ti=ti,
        kt=None,
        base_date=None if same_group else group.base_date,
    )
    # The requested change replaces any pending one: issue_tokens reads the meter's pending
    # change, and advance_meter writes the new key data and clears the pending columns.
    return flow.issue_tokens(
        session, ctx.runtime.security_module, replace(meter, pending=target), [], clock
    )


def _key_change_answer(done: pipeline.Done) -> dict[str, Any]:
    assert done.before is not None
    return {
        "from": meters.meter_detail(done.before).__dict__,
        "meter": meters.meter_detail(done.meter).__dict__,
        "tokens": [t.token for t in done.issued.tokens],
    }


UPDATE_METER_KEY = pipeline.Plan(
    operation="UpdateMeterKey",
    kind="engineering",
    fingerprint=("meter", "key_target"),
    answer=_key_change_answer,
    vends=False,
    issue=_key_change_to_target,
    audit_action="meter.update_key",
)


def update_meter_key(
    ctx: pipeline.Context,
    who: Principal,
    header: RequestHeader,
    meter_number: str,
    to_sgc: str | None,
    to_krn: int | None,
    to_ti: str | None,
) -> KeyChangeResult:
    check_key_target(to_sgc, to_krn, to_ti)
    body = pipeline.run(
        ctx,
        UPDATE_METER_KEY,
        pipeline.Ask(who, header, meter_number, key_target=(to_sgc, to_krn, to_ti)),
    )
    now = MeterDetail(**body["meter"])
    return KeyChangeResult(
        meter=now,
        from_sgc=body["from"]["sgc"],
        from_krn=body["from"]["krn"],
        from_ti=body["from"]["ti"],
        to_sgc=now.sgc,
        to_krn=now.krn,
        to_ti=now.ti,
        tokens=tuple(body["tokens"]),
    )
