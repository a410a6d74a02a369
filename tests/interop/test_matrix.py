"""One test per (SOAP stack, endpoint): the stack generates its client from the WSDL the real
server serves and runs the scenario (tests/interop/matrix.py) against it; every step must pass.

A stack whose toolchain is not installed fails with what is missing (`make interop` installs it),
never skips. An endpoint the server does not serve on this branch is an xfail that says so.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Server
from tests.interop.matrix import (
    ENDPOINTS,
    FENCED_SECRET,
    OPTIONAL_STEPS,
    RESULTS,
    STACKS,
    STEPS,
    check,
    fenced_terminal,
    missing_toolchain,
    msg_base,
    run_client,
)
from tests.support.soap import ATM, BLOCKED_METER, METER, header, zeep_client

pytestmark = pytest.mark.e2e

CUSTOMER = "Thandi Mokoena"  # METER's customer in the demo utility


def credit_after_vend(base_url: str, receipt_no: object) -> Decimal | None:
    """The ATM vendor's available credit right after the scenario's vend, as zeep (the reference
    stack) reads it on /vend: the balance after that vend's float movement, less the floor. The
    scenario's statement step comes after the vend and before any other change of the float."""
    resp = zeep_client(base_url, ATM).service.VendorStatement(**header(ATM), maxItems=20)
    for movement in resp.movements:
        if movement.reference == f"vend:{receipt_no}":
            credit: Decimal = movement.balanceAfter - resp.floor
            return credit
    return None


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_real_client(stack: str, endpoint: str, interop_server: Server, tmp_path: Path) -> None:
    missing = missing_toolchain(STACKS[stack])
    if missing:
        pytest.fail(
            f"{stack}: the toolchain is not installed ({'; '.join(missing)}); "
            "`make interop` installs it",
            pytrace=False,
        )
    where = ENDPOINTS[endpoint]
    wsdl = f"{interop_server.base_url}{where.path}?wsdl"
    served = requests.get(wsdl, timeout=10)
    if served.status_code == 404:
        pytest.xfail(f"GET {where.path}?wsdl answered 404: {where.owner} is not on this branch")
    assert served.status_code == 200, f"GET {where.path}?wsdl answered {served.status_code}"

    env = {
        **os.environ,
        "INTEROP_WSDL": wsdl,
        "INTEROP_ENDPOINT": endpoint,
        "INTEROP_CLIENT_ID": ATM.client_id,
        "INTEROP_TERMINAL_ID": ATM.terminal_id,
        "INTEROP_SECRET": ATM.secret,
        "INTEROP_FENCED_TERMINAL": fenced_terminal(stack, endpoint),
        "INTEROP_FENCED_SECRET": FENCED_SECRET,
        "INTEROP_METER": METER,
        "INTEROP_BLOCKED_METER": BLOCKED_METER,
        "INTEROP_MSG_BASE": str(msg_base()),
        "INTEROP_PYTHON": sys.executable,
    }
    result, stderr = run_client(STACKS[stack], env, tmp_path)
    sold = (result.get("steps") or {}).get("vend") or {}
    verdicts = check(
        result,
        meter=METER,
        customer=CUSTOMER,
        avail_credit=credit_after_vend(interop_server.base_url, sold.get("receiptNo")),
    )
    ran = [*STEPS, *(step for step in OPTIONAL_STEPS if step in verdicts)]
    failures = [f"{step}: {verdicts[step]}" for step in ran if verdicts[step] != "pass"]
    RESULTS[(stack, endpoint)] = {
        "summary": " ".join(
            f"{step}={'pass' if verdicts[step] == 'pass' else 'FAIL'}" for step in ran
        ),
        "failures": failures,
        "verdicts": verdicts,
        "client": result,
    }
    assert not failures, (
        f"{result.get('stack', stack)} against {where.path}:\n  "
        + "\n  ".join(failures)
        + (f"\nclient stderr (tail):\n{stderr[-2000:]}" if stderr.strip() else "")
    )
