"""The real-client matrix: which SOAP stacks, what each needs installed, how one is run, and what
its scenario's outcome must be.

Every client program (tests/interop/clients/<stack>/) runs the same scenario against one endpoint
and prints one JSON object: `{"stack", "endpoint", "steps": {step: {"ok": bool, ...values} |
{"ok": false, "error"}}}`, or `{"error"}` when it could not even build its client. The program
only reports what its stack read; the expectations live here, once, for every stack.

The scenario, as a bank's integration runs it (one ATM terminal of the demo vendor):
    confirm       ConfirmCustomer for the demo meter: the customer's name and the meter number
    vend          CreditVend 50.00: a receipt number and 20-digit tokens
    replay        the same CreditVend again with the same msgID: the same receipt and tokens
    lastResponse  last-response advice for the vend's msgID: the same receipt and tokens
    reprint       Reprint for the meter: the vend's receipt first, with its tokens
    statement     VendorStatement: the available credit (compared with what zeep reads) and moves
    blockedFault  a vend for the blocked meter: a SOAP fault whose type, read through the stack's
                  fault API (a typed detail where the stack generates one), is BlockedMeterEx, and
                  which a stack that classifies faultcodes (.NET) sees as a Client fault
    wrongPassword the vendor statement with a wrong secret: refused, and the stack can tell why
                  (HTTP 401 reported as such, or a fault it parsed), not an unreadable answer
and two steps beyond it, for the defects real stacks met on /vend (issue 14):
    notAuthorised the statement asked for by a terminal of the vendor whose allowlist leaves this
                  address out (FENCED): a fault whose type the stack reads as
                  RequestAuthorisationEx (not a bare "403 Forbidden")
    trailingZeros a CreditVend of 50.500 (schema-valid, what decimal arithmetic produces): sold
and, from the stacks that can be switched to SOAP 1.2 (PHP's soap_version, node's
forceSoap12Headers), one step more:
    soap12Envelope the vendor statement in a SOAP 1.2 envelope to the SOAP 1.1 endpoint: the SOAP
                  1.1 answer to another envelope version, a VersionMismatch fault
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

CLIENTS = Path(__file__).resolve().parent / "clients"

# Terminals of the demo ATM vendor that may call only from a documentation range (192.0.2.0/24,
# TEST-NET-1: no traffic ever goes there), so a call from loopback is refused with
# RequestAuthorisationEx. conftest.py adds one per (stack, endpoint).
FENCED_SECRET = "demo-fenced-1"
FENCED_ALLOW = "192.0.2.0/24"


def fenced_terminal(stack: str, endpoint: str) -> str:
    return f"FENCED-{stack}-{endpoint}"


RUN_TIMEOUT = 300.0  # one client: generate, compile (javac, mcs), start a JVM, run eight steps

# (stack, endpoint) -> the client's JSON result and the failures the test found in it.
RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # the SOAP address; the WSDL is at path + "?wsdl"
    owner: str  # who builds it, for the reason given when it is not on this branch


ENDPOINTS = {
    "vend": Endpoint("vend", "/vend", "the gateway's own contract"),
    "xmlvend": Endpoint("xmlvend", "/xmlvend/2.1", "issue 14's XMLVend 2.1 endpoint"),
}


@dataclass(frozen=True)
class Stack:
    name: str
    commands: tuple[str, ...]  # on PATH when the toolchain is installed
    debian: tuple[str, ...]  # the Debian packages `make interop` installs for it
    files: tuple[str, ...] = ()  # project-local installs (relative to the stack's directory)
    python_module: str = ""  # importable by the test's interpreter


STACKS = {
    "php": Stack("php", ("php",), ("php-cli", "php-soap")),
    "node": Stack("node", ("node",), ("nodejs", "npm"), files=("node_modules/soap/package.json",)),
    "suds": Stack("suds", (), (), python_module="suds"),
    "jaxws": Stack("jaxws", ("wsimport", "javac", "java"), ("jaxws", "default-jdk-headless")),
    "mono": Stack("mono", ("wsdl", "mcs", "mono"), ("mono-devel",)),
}

STEPS = (
    "confirm",
    "vend",
    "replay",
    "lastResponse",
    "reprint",
    "statement",
    "blockedFault",
    "wrongPassword",
    "notAuthorised",
    "trailingZeros",
)
OPTIONAL_STEPS = ("soap12Envelope",)  # checked where the client ran them


def missing_toolchain(stack: Stack) -> list[str]:
    """What of the stack's toolchain is not installed here (empty when all of it is)."""
    missing = [f"`{c}` not on PATH" for c in stack.commands if shutil.which(c) is None]
    missing += [
        f"{CLIENTS / stack.name / f} missing"
        for f in stack.files
        if not (CLIENTS / stack.name / f).exists()
    ]
    if stack.python_module:
        try:
            __import__(stack.python_module)
        except ImportError as exc:
            missing.append(f"python module {stack.python_module!r}: {exc}")
    php_has_soap = stack.name == "php" and shutil.which("php")
    if php_has_soap:
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
        if not re.search(r"^soap$", modules.stdout, re.M):
            missing.append("php has no soap extension (php -m)")
    return missing


_sequence = 0


def msg_base() -> int:
    """A base for the client's msgID uniqueNumbers (it adds 1..9): unique in this run, whose
    database is fresh, and six digits as XMLVend 2.1's MsgIDUniqueNumber wants (totalDigits 6)."""
    global _sequence
    _sequence += 1
    return 100000 + _sequence * 100


def run_client(stack: Stack, env: dict[str, str], work: Path) -> tuple[dict[str, Any], str]:
    """Run the stack's client (generate, build, run); its JSON result and its stderr."""
    process = subprocess.run(
        ["bash", str(CLIENTS / stack.name / "run.sh"), str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return (
            {
                "error": f"the client printed no result (exit {process.returncode}); "
                f"stdout: {process.stdout[-1500:]!r}; stderr: {process.stderr[-3000:]}"
            },
            process.stderr,
        )
    return json.loads(lines[-1]), process.stderr


def _tokens_ok(tokens: Any) -> bool:
    return (
        isinstance(tokens, list)
        and len(tokens) >= 1
        and all(isinstance(t, str) and re.fullmatch(r"[0-9]{20}", t) for t in tokens)
    )


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def check(
    result: dict[str, Any], *, meter: str, customer: str, avail_credit: Decimal | None
) -> dict[str, str]:
    """Each step's verdict: "pass" or the reason it failed."""
    if "error" in result or "steps" not in result:
        reason = f"no scenario ran: {result.get('error', 'no steps in the result')}"
        return dict.fromkeys(STEPS, reason)
    steps: dict[str, Any] = result["steps"]
    verdicts: dict[str, str] = {}

    def expect(step: str, problems: list[str]) -> None:
        outcome = steps.get(step)
        if outcome is None:
            verdicts[step] = "the client did not run this step"
        elif not outcome.get("ok"):
            verdicts[step] = str(outcome.get("error", "failed"))
        else:
            verdicts[step] = "; ".join(problems) if problems else "pass"

    def got(step: str) -> dict[str, Any]:
        outcome: dict[str, Any] = steps.get(step) or {}
        return outcome

    sold = got("vend")
    confirm = got("confirm")
    expect(
        "confirm",
        [
            f"{k} {confirm.get(k)!r} != {v!r}"
            for k, v in (("customerName", customer), ("msno", meter))
            if confirm.get(k) != v
        ],
    )
    expect(
        "vend",
        ([] if sold.get("receiptNo") else ["no receiptNo"])
        + ([] if _tokens_ok(sold.get("tokens")) else [f"tokens {sold.get('tokens')!r}"]),
    )
    for step in ("replay", "lastResponse"):
        again = got(step)
        expect(
            step,
            [
                f"{k} {again.get(k)!r} != the vend's {sold.get(k)!r}"
                for k in ("receiptNo", "tokens")
                if not sold.get(k) or again.get(k) != sold.get(k)
            ],
        )
    reprint = got("reprint")
    numbers = reprint.get("receiptNos") or []
    expect(
        "reprint",
        (
            []
            if sold.get("receiptNo") and numbers[:1] == [sold.get("receiptNo")]
            else [f"receipts {numbers!r} do not start with the vend's {sold.get('receiptNo')!r}"]
        )
        + (
            []
            if reprint.get("tokens") == sold.get("tokens")
            else [f"tokens {reprint.get('tokens')!r} != the vend's {sold.get('tokens')!r}"]
        ),
    )
    statement = got("statement")
    expect(
        "statement",
        (
            []
            if _money(statement.get("availCredit")) == avail_credit
            else [
                f"availCredit {statement.get('availCredit')!r} != {avail_credit} (zeep's, after"
                " the vend)"
            ]
        )
        + ([] if (statement.get("movements") or 0) >= 1 else ["no movements"]),
    )
    blocked = got("blockedFault")
    expect(
        "blockedFault",
        (
            []
            if blocked.get("faultType") == "BlockedMeterEx"
            else [f"fault type read as {blocked.get('faultType')!r}, not BlockedMeterEx"]
        )
        + (
            # Where the stack classifies faultcodes itself (.NET's SoapException.ClientFaultCode):
            # a blocked meter is the client's fault, not one to retry.
            []
            if blocked.get("clientFault", True) is True
            else [f"faultcode {blocked.get('faultcode')!r} is not the stack's Client fault code"]
        ),
    )
    wrong = got("wrongPassword")
    refused = wrong.get("refused")
    problems: list[str] = []
    if refused == "http":
        if wrong.get("httpStatus") != 401:
            problems.append(f"HTTP status read as {wrong.get('httpStatus')!r}, not 401")
    elif refused == "fault":
        if not wrong.get("faultType"):
            problems.append(f"a fault without a readable type ({wrong.get('faultcode')!r})")
    else:
        problems.append(
            f"the refusal could not be read ({refused}): {wrong.get('message')!r}"
            f" (HTTP {wrong.get('httpStatus')})"
        )
    expect("wrongPassword", problems)
    refused_op = got("notAuthorised")
    expect(
        "notAuthorised",
        []
        if refused_op.get("faultType") == "RequestAuthorisationEx"
        else [f"fault type read as {refused_op.get('faultType')!r}, not RequestAuthorisationEx"],
    )
    odd = got("trailingZeros")
    expect(
        "trailingZeros",
        ([] if odd.get("receiptNo") else ["no receiptNo"])
        + (
            []
            if _money(odd.get("tenderAmount")) == Decimal("50.50")
            else [f"tenderAmount {odd.get('tenderAmount')!r} != 50.50"]
        ),
    )
    if "soap12Envelope" in steps:
        code = str(got("soap12Envelope").get("faultcode") or "")
        expect(
            "soap12Envelope",
            []
            if code.rpartition(":")[2] == "VersionMismatch"
            else [
                f"faultcode {code!r} ({got('soap12Envelope').get('message')!r}, HTTP"
                f" {got('soap12Envelope').get('httpStatus')}), not VersionMismatch"
            ],
        )
    return verdicts
