"""The ``sts-token`` command as a black box: every published vector through a real subprocess.

All generate requests go through ONE invocation (and decoding through one per key), so the
whole file costs a few process starts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.sts_vectors import (
    Vector,
    amount_tenths_of,
    base_year_of,
    currency_amount_of,
    ken_of,
    new_key_hex_of,
    new_sgc_of,
    rnd_of,
    value_field_of,
    vectors,
)

TOKEN_KINDS = (
    "token_class0",
    "token_class0_currency",
    "token_class1",
    "token_class2",
    "token_class2_extended",
    "token_class2_keychange",
)


def _command() -> list[str]:
    found = shutil.which("sts-token") or str(Path(sys.executable).with_name("sts-token"))
    if not Path(found).exists():
        pytest.fail(
            "the sts-token command is not installed (pip install -e . in the virtualenv)",
            pytrace=False,
        )
    return [found]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *args], input=stdin, capture_output=True, text=True, timeout=120
    )


# --------------------------------------------------------------------------- generate


def _with_tid(request: dict[str, Any], inputs: Vector, index: int) -> None:
    """Alternate between the two ways of giving the TID, so both are exercised."""
    year = base_year_of(inputs)
    if index % 2 == 0 and year is not None and "issue_datetime" in inputs:
        request.update(issued_at=inputs["issue_datetime"], base_date=year)
    else:
        request["tid"] = inputs["tid"]


def generate_request(vector: Vector, index: int) -> dict[str, Any]:
    """The JSON request of the CLI contract for a vector, from its meaningful fields."""
    i = vector["inputs"]
    token_class, subclass = i["class"], i["subclass"]
    request: dict[str, Any] = {"class": token_class, "subclass": subclass}
    if token_class != 1:
        request.update(decoder_key=i["decoder_key_hex"], ea=i["ea"])
    if token_class == 1:
        if subclass == 0:
            request.update(control_hex=i["control_36bit_hex"], mfr_code=i["mfr_code_8bit"])
        elif subclass == 1:
            request.update(control_hex=i["control_28bit_hex"], mfr_code=i["mfr_code_16bit"])
        else:
            request["control_hex"] = i["body_44bit_hex"]
        return request
    if vector["kind"] == "token_class2_keychange":
        request.update(
            ken=ken_of(i),
            new_decoder_key=new_key_hex_of(i),
            krn=i.get("KRN"),
            ro=i.get("RO"),
            res_3kct=i.get("RES_3KCT"),
            kt=i.get("KT"),
            ti=i.get("TI"),
        )
        sgc = new_sgc_of(i)
        if sgc is not None:
            request["new_sgc"] = sgc
        return {k: v for k, v in request.items() if v is not None}
    _with_tid(request, i, index)
    if token_class == 0 and subclass >= 4:
        amount = currency_amount_of(i)
        if amount is not None:
            request["currency_amount"] = amount
            return request
        request["rnd"] = rnd_of(i)  # the raw form: rnd is the S&E nibble
    else:
        request["rnd"] = rnd_of(i)
    amount_tenths = amount_tenths_of(i)
    if token_class == 0 and amount_tenths is not None:
        request["amount"] = amount_tenths
    elif token_class == 2 and subclass == 0 and "mpl_watts" in i:
        request["mpl_watts"] = i["mpl_watts"]
    elif token_class == 2 and subclass == 6 and "mppul_watts" in i:
        request["mppul_watts"] = i["mppul_watts"]
    elif token_class == 2 and subclass == 1 and "register" in i:
        request["register"] = i["register"]
    else:
        request["value_hex"] = f"{value_field_of(i):04X}"
    return request


@cache
def _generated() -> tuple[list[Vector], list[str]]:
    token_vectors = vectors(*TOKEN_KINDS)
    lines = [json.dumps(generate_request(v, n)) for n, v in enumerate(token_vectors)]
    done = run("generate", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    return token_vectors, done.stdout.splitlines()


def test_generate_reproduces_every_token_vector_in_one_run() -> None:
    token_vectors, output = _generated()
    assert len(output) == len(token_vectors)
    wrong = [
        (v["kind"], v["inputs"].get("tid"), got, v["expected"])
        for v, got in zip(token_vectors, output, strict=True)
        if got != v["expected"]
    ]
    assert wrong == []


def test_generate_reports_bad_lines_and_carries_on() -> None:
    good = {
        "decoder_key": "E653341F9D5BF36F",
        "ea": "07",
        "class": 0,
        "subclass": 0,
        "tid": 5871715,
        "rnd": 5,
        "amount": 1,
    }
    lines = [
        json.dumps(good),
        "not json",
        json.dumps([1, 2]),
        json.dumps({**good, "tid": None}),  # missing TID
        json.dumps({**good, "decoder_key": "E653"}),  # wrong key length
        json.dumps({**good, "ea": "42"}),
        json.dumps({**good, "amount": 18201625}),  # above the largest amount
        json.dumps({**good, "class": 3}),
        json.dumps({**good, "ken": 0}),  # TID 5871715 has key-expiry bits 89 > 0
        json.dumps({**good, "tid": None, "issued_at": "2004-03-01 13:55", "base_date": 1993}),
        "",  # blank lines are not requests
        json.dumps(good),
    ]
    done = run("generate", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0
    output = done.stdout.splitlines()
    assert len(output) == 11
    assert output[0] == output[9] == output[10] == "23716100501183194197"
    assert all(line.startswith("error: ") for line in output[1:9]), output
    assert "tid" in output[3]
    assert "expired" in output[8]


def test_generate_rounds_amounts_up_in_the_customers_favour() -> None:
    request = {
        "decoder_key": "E653341F9D5BF36F",
        "ea": "07",
        "class": 0,
        "subclass": 0,
        "tid": 5871715,
        "rnd": 5,
        "amount": 20000,
    }
    done = run("generate", stdin=json.dumps(request) + "\n")
    token = done.stdout.strip()
    decoded = json.loads(
        run("decode", "--decoder-key", "E653341F9D5BF36F", "--ea", "07", token).stdout
    )
    assert decoded["amount"] == 20004
    assert decoded["amount_field_hex"] == "416A"


# --------------------------------------------------------------------------- decoder-key


@pytest.mark.sts_vectors("dkga02")
def test_decoder_key_dkga02(vector: Vector) -> None:
    i = vector["inputs"]
    done = run(
        "decoder-key", "--dkga", "02", "--vending-key", i["vending_key_hex"],
        "--iin", i["IIN"], "--drn", i["DRN"], "--kt", str(i["KT"]), "--sgc", i["SGC"],
        "--ti", i["TI"], "--krn", str(i["KRN"]),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == vector["expected"] + "\n"


@pytest.mark.sts_vectors("dkga04")
def test_decoder_key_dkga04(vector: Vector) -> None:
    i = vector["inputs"]
    done = run(
        "decoder-key", "--dkga", "04", "--vending-key", i["vending_key_hex"],
        "--meter-pan", i["meter_pan"], "--kt", str(i["KT"]), "--sgc", i["SGC"],
        "--ti", i["TI"], "--krn", str(i["KRN"]),
        "--base-date", i["base_date_code"], "--ea", i["ea"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == vector["expected"].upper() + "\n"


def test_decoder_key_accepts_the_other_meter_number_forms() -> None:
    common = ["--kt", "2", "--ti", "01", "--krn", "1"]
    dkga02 = run(
        "decoder-key", "--dkga", "02", "--vending-key", "ABABABABABABABAB",
        "--meter-pan", "600727000000000009", "--sgc", "123456", *common,
    )  # fmt: skip
    assert dkga02.stdout.strip() == "E653341F9D5BF36F"
    dkga04 = run(
        "decoder-key", "--dkga", "04", "--vending-key", "abababababababab949494949494949401234567",
        "--iin", "600727", "--drn", "00000000000", "--sgc", "201457", *common,
        "--base-date", "2014", "--ea", "07",
    )  # fmt: skip
    assert dkga04.stdout.strip() == "87F3ECBB2E46B48F"


def test_decoder_key_errors_go_to_stderr() -> None:
    done = run(
        "decoder-key", "--dkga", "02", "--vending-key", "ABAB", "--iin", "600727",
        "--drn", "00000000000", "--kt", "2", "--sgc", "123456", "--ti", "01", "--krn", "1",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert "ABAB" not in done.stderr  # key material never echoed


# --------------------------------------------------------------------------- decode


def test_decode_every_token_vector() -> None:
    """One decode run per (key, EA), run side by side: every field comes back with crc_ok."""
    groups: dict[tuple[str | None, str | None], list[Vector]] = {}
    for vector in vectors(*TOKEN_KINDS):
        i = vector["inputs"]
        groups.setdefault((i.get("decoder_key_hex"), i.get("ea")), []).append(vector)

    def decode(key: str | None, ea: str | None, members: list[Vector]) -> str:
        args = ["decode"] if key is None else ["decode", "--decoder-key", key, "--ea", ea or ""]
        done = run(*args, *[v["expected"] for v in members])
        assert done.returncode == 0, done.stderr
        return done.stdout

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = pool.map(lambda item: decode(*item[0], item[1]), groups.items())
        for members, output in zip(groups.values(), outputs, strict=True):
            for vector, line in zip(members, output.splitlines(), strict=True):
                fields = json.loads(line)
                i = vector["inputs"]
                assert fields["crc_ok"] is True
                assert fields["token"] == vector["expected"]
                assert (fields["class"], fields["subclass"]) == (i["class"], i["subclass"])
                if "tid" in i:
                    assert fields["tid"] == i["tid"]
                if "plaintext_block_hex" in i:
                    assert fields["block_hex"] == i["plaintext_block_hex"]
                _check_decoded_fields(fields, i)


def _check_decoded_fields(fields: dict[str, Any], i: Vector) -> None:
    """The decoded fields carry the names of the generate contract."""
    value = value_field_of(i)
    if value is not None:
        assert int(fields["value_hex"], 16) == value
    if "amount_0.1_units_decoded" in i:
        assert fields["amount"] == i["amount_0.1_units_decoded"]
    for vector_key, name in (
        ("control_36bit_hex", "control_hex"),
        ("control_28bit_hex", "control_hex"),
        ("body_44bit_hex", "body_hex"),
    ):
        if vector_key in i:
            assert fields[name] == i[vector_key]
    for vector_key in ("mfr_code_8bit", "mfr_code_16bit"):
        if vector_key in i:
            assert fields["mfr_code"] == i[vector_key]
    if i["class"] == 2 and i["subclass"] == 3:
        assert (fields["krn"], fields["ro"], fields["kt"]) == (i["KRN"], i["RO"], i["KT"])
        assert fields["ken_high"] == i["KENHO"]
    if i["class"] == 2 and i["subclass"] == 4:
        assert (fields["ti"], fields["ken_low"]) == (i["TI"], i["KENLO"])


@pytest.mark.sts_vectors("token_class0_currency_decode")
def test_decode_currency_vector(vector: Vector) -> None:
    i = vector["inputs"]
    done = run("decode", "--decoder-key", i["decoder_key_hex"], "--ea", i["ea"], i["token"])
    fields = json.loads(done.stdout)
    expected = vector["expected"]
    assert fields["crc_ok"] is True
    for name in ("class", "subclass", "se_nibble", "tid", "amount_field_hex", "crc_c_hex"):
        assert fields[name] == expected[name], name


def test_decode_reports_a_wrong_key_as_crc_failure() -> None:
    done = run("decode", "--decoder-key", "0000000000000000", "--ea", "07", "23716100501183194197")
    assert done.returncode == 0
    assert json.loads(done.stdout)["crc_ok"] is False


def test_decode_shows_the_issue_time_on_a_base_date() -> None:
    done = run(
        "decode", "--decoder-key", "E653341F9D5BF36F", "--ea", "07", "--base-date", "1993",
        "23716100501183194197",
    )  # fmt: skip
    fields = json.loads(done.stdout)
    assert fields["issued_at"] == "2004-03-01 13:55"
    assert fields["amount"] == 1


def test_decode_rejects_a_malformed_token() -> None:
    done = run("decode", "--decoder-key", "E653341F9D5BF36F", "--ea", "07", "1234")
    assert done.returncode == 1
    assert "20 digits" in done.stderr
