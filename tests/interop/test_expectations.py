"""The matrix's expectations (tests/interop/matrix.py `check`) on hand-made client results: a good
run passes every step, and each way a stack can go wrong is named in its step. Part of `make
test` (no toolchain needed), so the expectations cannot silently turn into checks that pass."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from tests.interop.matrix import STEPS, check

METER = "01234567897"
TOKEN = "12345678901234567890"
CREDIT = Decimal("9950.75")


def good() -> dict[str, Any]:
    sold = {"ok": True, "receiptNo": "000000000002", "tokens": [TOKEN]}
    return {
        "stack": "hand-made",
        "endpoint": "vend",
        "steps": {
            "confirm": {"ok": True, "customerName": "Thandi Mokoena", "msno": METER},
            "vend": dict(sold),
            "replay": dict(sold),
            "lastResponse": dict(sold),
            "reprint": {"ok": True, "receiptNos": ["000000000002"], "tokens": [TOKEN]},
            "statement": {"ok": True, "availCredit": "9950.75", "movements": 2},
            "blockedFault": {"ok": True, "faultType": "BlockedMeterEx"},
            "wrongPassword": {"ok": True, "refused": "http", "httpStatus": 401},
            "notAuthorised": {"ok": True, "faultType": "RequestAuthorisationEx"},
            "trailingZeros": {"ok": True, "receiptNo": "000000000003", "tenderAmount": "50.50"},
        },
    }


def verdicts(result: dict[str, Any]) -> dict[str, str]:
    return check(result, meter=METER, customer="Thandi Mokoena", avail_credit=CREDIT)


def test_a_good_run_passes_every_step() -> None:
    assert verdicts(good()) == dict.fromkeys(STEPS, "pass")


def test_a_fault_refusal_with_a_type_passes() -> None:
    result = good()
    result["steps"]["wrongPassword"] = {"ok": True, "refused": "fault", "faultType": "X"}
    assert verdicts(result)["wrongPassword"] == "pass"


@pytest.mark.parametrize(
    ("step", "change", "reason"),
    [
        ("confirm", {"customerName": "Someone Else"}, "customerName"),
        ("vend", {"tokens": ["123"]}, "tokens"),
        ("replay", {"receiptNo": "000000000009"}, "the vend's"),
        ("lastResponse", {"tokens": ["09876543210987654321"]}, "the vend's"),
        ("reprint", {"receiptNos": ["000000000001", "000000000002"]}, "do not start"),
        ("statement", {"availCredit": "9950.7"}, "zeep's"),
        ("blockedFault", {"faultType": "fault"}, "not BlockedMeterEx"),
        ("blockedFault", {"clientFault": False}, "Client fault code"),
        ("wrongPassword", {"refused": "parse", "message": "Invalid XML"}, "could not be read"),
        ("wrongPassword", {"httpStatus": 500}, "not 401"),
        ("notAuthorised", {"faultType": None}, "not RequestAuthorisationEx"),
        ("trailingZeros", {"tenderAmount": "50.5001"}, "!= 50.50"),
    ],
)
def test_each_way_of_going_wrong_fails_its_step(
    step: str, change: dict[str, Any], reason: str
) -> None:
    result = good()
    result["steps"][step].update(change)
    found = verdicts(result)
    assert reason in found[step]
    # The vend's receipt and tokens are what the replay, advice and reprint are compared with.
    depend = {"replay", "lastResponse", "reprint"} if step == "vend" else set()
    assert all(v == "pass" for s, v in found.items() if s != step and s not in depend)


def test_a_step_that_raised_reports_the_stacks_error() -> None:
    result = good()
    result["steps"]["notAuthorised"] = {"ok": False, "error": "Exception: (403, 'Forbidden')"}
    assert verdicts(result)["notAuthorised"] == "Exception: (403, 'Forbidden')"


def test_a_client_that_could_not_start_fails_every_step() -> None:
    found = verdicts({"error": "WSDL did not load"})
    assert set(found) == set(STEPS)
    assert all("WSDL did not load" in v for v in found.values())


def test_soap12_is_checked_only_where_it_ran() -> None:
    result = good()
    assert "soap12Envelope" not in verdicts(result)
    steps = copy.deepcopy(result)
    steps["steps"]["soap12Envelope"] = {"ok": True, "faultcode": "soap:Client", "httpStatus": 500}
    assert "not VersionMismatch" in verdicts(steps)["soap12Envelope"]
    steps["steps"]["soap12Envelope"]["faultcode"] = "soap11env:VersionMismatch"
    assert verdicts(steps)["soap12Envelope"] == "pass"
