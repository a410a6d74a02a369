"""The meter domain of /xmlvend/2.1 end to end: confirm meter and the engineering tokens, each
typed into the meter simulator."""

from __future__ import annotations

import pytest

from tests.conftest import TestDatabase
from tests.e2e.test_tokens_in_the_meter import factory_meter
from tests.support.soap import ATM, METER, OFFICE
from tests.xmlvend import support as x
from tests.xmlvend.support import B, M

pytestmark = pytest.mark.e2e

ENG_METER = "04000000051"


def test_confirm_meter(base_url: str) -> None:
    resp = x.answer(
        x.post(base_url, ATM, x.simple(ATM, x.new_msg(), "m:confirmMeterReq", _id_method(METER)))
    )
    detail = resp.find(f"{{{M}}}confirmMeterResult/{{{M}}}meterDetail")
    assert detail is not None and detail.get("msno") == METER and detail.get("sgc") == "123456"


def _id_method(meter: str) -> str:
    return f'<m:idMethod><b:meterIdentifier xsi:type="b:MeterNumber" msno="{meter}"/></m:idMethod>'


def _eng(kind: str, extra: str = "", meter: str = ENG_METER) -> bytes:
    return x.envelope(
        x.body(
            "m:meterSpecificEngReq",
            x.head(OFFICE, x.new_msg())
            + '<b:resource xsi:type="b:Electricity"/>'
            + x.meter_id(meter)
            + extra,
            xsi_type=f"m:{kind}",
        )
    )


@pytest.mark.parametrize(
    ("kind", "extra", "element"),
    [
        ("ClearTamperReq", "", "clearTamper"),
        ("ClearCreditReq", "", "clearCredit"),
        ("PwrLmtReq", '<m:pwrLmt value="5.0" siUnit="kW"/>', "pwrLmtToken"),
    ],
)
def test_meter_specific_engineering_tokens_are_taken_by_the_meter(
    base_url: str, e2e_db: TestDatabase, kind: str, extra: str, element: str
) -> None:
    meter = factory_meter(e2e_db, ENG_METER)
    resp = x.answer(x.post(base_url, OFFICE, _eng(kind, extra)))
    assert x.xsi_type(resp) == kind.replace("Req", "Resp")
    issue = resp.find(f"{{{M}}}{element}")
    assert issue is not None
    assert issue.find(f"{{{B}}}meterDetail").get("msno") == ENG_METER
    [token] = x.tokens(issue)
    assert meter.accept(token).accepted
    assert resp.find(f"{{{B}}}clientStatus/{{{B}}}availCredit") is not None


def test_engineering_needs_the_privilege(base_url: str) -> None:
    payload = _eng("ClearTamperReq").replace(OFFICE.client_id.encode(), ATM.client_id.encode())
    payload = payload.replace(OFFICE.terminal_id.encode(), ATM.terminal_id.encode())
    assert x.fault(x.post(base_url, ATM, payload)).fault_type == "RequestAuthorisationEx"


def test_test_all_token(base_url: str) -> None:
    payload = x.envelope(
        x.body(
            "m:nonMeterSpecificEngReq",
            x.head(OFFICE, x.new_msg()) + '<m:meterType at="07" tt="02"/>',
            xsi_type="m:TestAllReq",
        )
    )
    resp = x.answer(x.post(base_url, OFFICE, payload))
    assert x.xsi_type(resp) == "TestAllResp"
    [token] = x.tokens(resp)
    assert len(token) == 20 and token.isdigit()


def test_an_unknown_engineering_type_is_use_case_support_ex(base_url: str) -> None:
    assert x.fault(x.post(base_url, OFFICE, _eng("SetWaterFactorReq"))).fault_type == (
        "UseCaseSupportEx"
    )


def test_phase_unbalance_token(base_url: str, e2e_db: TestDatabase) -> None:
    meter = factory_meter(e2e_db, ENG_METER)
    resp = x.answer(
        x.post(base_url, OFFICE, _eng("PhUnbalReq", '<m:pwrLmt value="2.0" siUnit="kW"/>'))
    )
    assert x.xsi_type(resp) == "PhUnbalResp"
    issue = resp.find(f"{{{M}}}phUnbalance")
    assert issue is not None and issue.find(f"{{{B}}}pwrLmt").get("value") == "2.0"  # type: ignore[union-attr]
    [token] = x.tokens(issue)
    assert meter.accept(token).accepted


def test_eng_kct_moves_the_meter_to_the_key_asked_for(base_url: str, e2e_db: TestDatabase) -> None:
    meter = factory_meter(e2e_db, "04000000044")  # as installed: KRN 1
    kct = '<m:kctData fromSGC="123456" fromKRN="1" fromTI="01" toSGC="123456" toKRN="2" toTI="01"/>'
    resp = x.answer(x.post(base_url, OFFICE, _eng("EngKCTReq", kct, meter="04000000044")))
    assert x.xsi_type(resp) == "EngKCTResp"
    issue = resp.find(f"{{{M}}}engKCToken")
    assert issue is not None
    data = issue.find(f"{{{B}}}kctData")
    assert data is not None and (data.get("fromKRN"), data.get("toKRN")) == ("1", "2")
    first, second = x.tokens(issue)
    assert meter.accept(first).accepted and meter.accept(second).accepted


def test_update_meter_key_moves_the_meter_to_the_key_data_given(
    base_url: str, e2e_db: TestDatabase
) -> None:
    from tests.support.soap import KEY_CHANGE_METER

    def payload() -> bytes:
        return x.simple(
            OFFICE,
            x.new_msg(),
            "m:updateMeterKeyReq",
            f'<m:idMethod xsi:type="b:MeterDetail" msno="{KEY_CHANGE_METER}" sgc="123456" '
            'krn="2" ti="01"><b:meterType at="07" tt="02"/></m:idMethod>',
        )

    before = factory_meter(e2e_db, KEY_CHANGE_METER)
    resp = x.answer(x.post(base_url, OFFICE, payload()))
    issue = resp.find(f"{{{M}}}updateMeterKey")
    assert issue is not None
    data = issue.find(f"{{{B}}}kctData")
    assert data is not None and (data.get("fromKRN"), data.get("toKRN")) == ("1", "2")
    first, second = x.tokens(issue)
    assert before.accept(first).accepted and before.accept(second).accepted
    same = x.fault(x.post(base_url, OFFICE, payload()))
    assert same.fault_type == "UpdateMtrKeySameEx"


@pytest.mark.parametrize(
    "kind",
    ["TestBreakerReq", "TestDisplayReq", "DispPwrLmtReq", "DispTIReq", "DispKRNReq",
     "DispTamperReq", "DispInstPwrReq", "DispConsTotReq", "DispPhUnbalanceReq", "DispVerReq"],
)  # fmt: skip
def test_test_and_display_tokens(base_url: str, kind: str) -> None:
    payload = x.envelope(
        x.body(
            "m:nonMeterSpecificEngReq",
            x.head(OFFICE, x.new_msg()) + '<m:meterType at="07" tt="02"/>',
            xsi_type=f"m:{kind}",
        )
    )
    resp = x.answer(x.post(base_url, OFFICE, payload))
    assert x.xsi_type(resp) == kind.replace("Req", "Resp")
    [token] = x.tokens(resp)
    assert len(token) == 20 and token.isdigit()
