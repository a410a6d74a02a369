"""Engineering tokens: key change, clear tamper, clear credit, power limit (meter-specific) and
test/display tokens (not meter-specific). Only for terminals with the engineering privilege;
each is idempotent by msgID like a vend, and audited.

A meter-specific token (the key change among them) is a plan of the one vend pipeline
(gateway/vend/pipeline.py): `METER_SPECIFIC_ENG` issues its own tokens, on any meter, without
money, audited. The service calls these, so the dependency runs one way: service -> engineering
-> pipeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.runtime import Runtime
from gateway import errors
from gateway.vend import flow, meters, pipeline
from gateway.vend.meters import MeterRecord
from gateway.vend.types import EngineeringResult, MeterDetail, Principal, RequestHeader
from sts import Token, next_tid, test_token

METER_SPECIFIC = ("KeyChange", "ClearTamper", "ClearCredit", "PowerLimit")
# Class 1 control fields: every test and display at once (36 bits with a 2-digit
# manufacturer code, 28 bits with a 4-digit one).
ALL_TESTS = {2: (1 << 36) - 1, 4: (1 << 28) - 1}


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
        if value is None or not 0 < value <= 18201624:
            raise errors.SchemaError("PowerLimit needs a value in watts, 1 to 18201624")
        token = hsm.power_limit_token(
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
    """Test and display tokens (class 1) are not encrypted and fit any meter of a maker."""
    if eng_type != "TestAll":
        raise errors.UseCaseSupport(f"engType {eng_type!r} is not supported; use TestAll")
    code = 0 if mfr_code is None else mfr_code
    if not 0 <= code <= 9999:
        raise errors.SchemaError("mfrCode is a 2- or 4-digit manufacturer code")
    digits = 2 if code <= 99 else 4
    token = test_token(control=ALL_TESTS[digits], mfr_code=code, four_digit_mfr=digits == 4)
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
