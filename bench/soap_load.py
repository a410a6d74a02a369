"""How many CreditVends a second does one gateway node serve, end to end over SOAP?

A bank's view of throughput: concurrent client processes POST CreditVend envelopes (HTTP Basic, one
terminal per process, a unique msgID each, round-robin over many meters) to the real server (`vendgw
serve`: gunicorn, vendgw.serving's asyncio workers) on PostgreSQL for a fixed time, and the same
load on a trivial operation (VendorStatement: authentication, the float and its last five movements,
no tokens, no writes) for comparison. It prints requests/s and p50/p95/p99 latency for each and the
ratio, i.e. what the vend path (pricing, STS token generation, the locked meter row, the float debit
and the commit) costs over the SOAP edge and authentication alone.

Clients send pre-built XML over the standard library's http.client rather than zeep or requests,
so the client side costs as little CPU as possible: the machine is shared by clients, server and
database, and with `requests` clients both operations ran at the same ~190 requests/s here, a
figure of the clients rather than the server. Responses are checked for HTTP 200 and a receipt
or a balance.

Usage: .venv/bin/python bench/soap_load.py [--seconds 10] [--clients 4] [--workers 4]
                                           [--meters 200] [--warmup 20] [--rounds 3]
                                           [--xmlvend]

With --xmlvend the same load also runs as the XMLVend 2.1 CreditVendRequest on /xmlvend/2.1
(an envelope shaped like the reference sample), in the same alternating rounds, and the ratio
of its throughput to /vend's CreditVend is printed (target >= 0.80).

Each operation's --seconds are split into --rounds that alternate (CreditVend, VendorStatement,
CreditVend, ...): on a shared machine whose speed drifts during a run, both operations see the
same drift; each round's rates are printed as well as the totals.

An untimed warm-up of both operations comes first (--warmup seconds in all): each gunicorn worker
builds the application on its first request, checks each terminal's secret (an HMAC for the
demo's generated secrets; argon2 once per terminal for a chosen one, then its cache answers) and
compiles the vend path's SQL; the figures are steady state.

Loopback only; each phase is bounded by --seconds (at most 120). A scratch PostgreSQL database is
created, migrated with the real migrations, seeded with the demo utility plus the bench meters and
terminals, and dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.db import make_engine, make_session_factory, transaction  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import load_settings  # noqa: E402
from gateway.meter_import import MeterRow, apply_rows  # noqa: E402
from gateway.models import SupplyGroup  # noqa: E402
from gateway.soap.types import TNS  # noqa: E402
from sts import luhn_check_digit  # noqa: E402
from vendgw import demo, migrate  # noqa: E402
from vendor_accounts import floats, vendors  # noqa: E402

SERVER = os.environ.get("VENDGW_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
MASTER_KEY = "22" * 32  # a throw-away key for the scratch database
CLIENT_ID = "6004000000019"  # the demo bank
SECRET = "bench-secret-1"  # noqa: S105 - a scratch terminal in a scratch database
AMOUNT = "10.00"
MAX_SECONDS = 120


@dataclass(frozen=True)
class Result:
    latencies: list[float]
    errors: int
    first_error: str


def meter_numbers(count: int) -> list[str]:
    """DRNs 05000000000-ish with their Luhn check digit: not the demo's, all valid."""
    return [f"05{n:08d}" + luhn_check_digit(f"05{n:08d}") for n in range(1, count + 1)]


def setup(url: str, home: Path, meters: list[str], terminals: int) -> None:
    migrate.upgrade(url)
    settings = load_settings(
        {"VENDGW_DATABASE_URL": url, "VENDGW_MASTER_KEY": MASTER_KEY, "VENDGW_HOME": str(home)}
    )
    engine = make_engine(url)
    runtime = Runtime(settings, _engine=engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        demo.seed(session, runtime.security_module)
        group = session.scalar(select(SupplyGroup).where(SupplyGroup.sgc == "123456"))
        assert group is not None
        apply_rows(
            session,
            [
                MeterRow(
                    line=i,
                    meter_number=number,
                    iin="600727",
                    sgc="123456",
                    ti="01",
                    krn=1,
                    kt=2,
                    ea=group.ea,
                    tct="02",
                    base_date=group.base_date,
                    tariff="DOMESTIC",
                    status="active",
                    account_no=f"BENCH-{i:05d}",
                    customer_name=f"Bench {i}",
                    address=f"{i} Bench Road",
                    debt_cents=0,
                    recovery_rate_bp=0,
                    fbe_registered=False,
                )
                for i, number in enumerate(meters, start=1)
            ],
        )
        vendor = vendors.get_vendor(session, CLIENT_ID)
        floats.deposit(
            session,
            vendor_id=vendor.id,
            amount_cents=10**11,
            bank_reference="BENCH-FUND",
            actor="bench",
        )
        for t in range(terminals):
            vendors.add_terminal(
                session,
                client_id=CLIENT_ID,
                terminal_code=f"BENCH-{t:03d}",
                actor="bench",
                secret=SECRET,
                privileges=("vend", "reprint", "reverse"),
            )
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    url: str,
    home: Path,
    workers: int,
    *,
    command: str = "serve",
    ready_path: str = "/healthz",
    start_timeout: float = 30.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """`vendgw <command>` (serve, or console) under gunicorn on a free port, once `ready_path`
    answers 200; returns the process and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "VENDGW_DATABASE_URL": url,
        "VENDGW_MASTER_KEY": MASTER_KEY,
        "VENDGW_HOME": str(home),
        "VENDGW_GUNICORN_ACCESSLOG": os.devnull,
        "VENDGW_LOG_LEVEL": "warning",
    }
    log_path = home / f"{command}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vendgw.cli",
            command,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vendgw {command} exited: see {log_path}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                return process, base
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"vendgw {command} did not come up")


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
        f'"http://schemas.xmlsoap.org/soap/envelope/" xmlns="{TNS}"><soapenv:Body>'
        f"{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def request_xml(operation: str, terminal: str, unique: int, meter: str) -> bytes:
    head = (
        f"<clientID>{CLIENT_ID}</clientID><terminalID>{terminal}</terminalID><msgID>"
        f"<dateTime>{time.strftime('%Y%m%d%H%M%S')}</dateTime>"
        f"<uniqueNumber>{unique}</uniqueNumber></msgID>"
    )
    if operation == "CreditVend":
        return envelope(
            f"<CreditVendReq>{head}<meterNumber>{meter}</meterNumber>"
            f"<amount>{AMOUNT}</amount><payType>cash</payType></CreditVendReq>"
        )
    if operation == "XMLVendCreditVend":
        return xmlvend_credit_vend(terminal, unique, meter)
    return envelope(f"<VendorStatementReq>{head}<maxItems>5</maxItems></VendorStatementReq>")


XV_BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
XV_REVENUE = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def xmlvend_credit_vend(terminal: str, unique: int, meter: str) -> bytes:
    """An XMLVend 2.1 creditVendReq as certified clients send it (prefixed, typed)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap='
        '"http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<r:creditVendReq xmlns:b="{XV_BASE}" xmlns:r="{XV_REVENUE}" xmlns:xsi="{XSI}">'
        f'<b:clientID xsi:type="b:EANDeviceID" ean="{CLIENT_ID}"/>'
        f'<b:terminalID xsi:type="b:GenericDeviceID" id="{terminal}"/>'
        f'<b:msgID dateTime="{time.strftime("%Y%m%d%H%M%S")}" uniqueNumber="{unique}"/>'
        '<b:resource xsi:type="b:Electricity"/>'
        f'<b:idMethod><b:meterIdentifier xsi:type="b:MeterNumber" msno="{meter}"/></b:idMethod>'
        f'<r:purchaseValue xsi:type="r:PurchaseValueCurrency"><r:amt value="{AMOUNT}" '
        'symbol="ZAR"/></r:purchaseValue><r:payType xsi:type="b:Cash">'
        f'<b:tenderAmt value="{AMOUNT}" symbol="ZAR"/></r:payType>'
        "</r:creditVendReq></soap:Body></soap:Envelope>"
    ).encode()


def client(args: tuple[str, str, int, int, list[str], float, float]) -> Result:
    base, operation, index, clients, meters, start_at, seconds = args
    terminal = f"BENCH-{index:03d}"
    host, port = base.removeprefix("http://").split(":")
    credentials = base64.b64encode(f"{CLIENT_ID}/{terminal}:{SECRET}".encode()).decode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": f"Basic {credentials}"}
    expect = {"CreditVend": b"receiptNo>", "XMLVendCreditVend": b"creditVendReceipt"}.get(
        operation, b"availCredit>"
    )
    path = "/xmlvend/2.1" if operation == "XMLVendCreditVend" else "/vend"
    mine = meters[index::clients] or meters
    latencies: list[float] = []
    errors, first_error, n = 0, "", 0
    # unique in the run: the client's index, its round's start (in 0.1 s) and a counter
    unique_base = (index + 1) * 10**13 + int(start_at * 10) % 10**5 * 10**7
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        n += 1
        body = request_xml(operation, terminal, unique_base + n, mine[n % len(mine)])
        ok, elapsed, reason = timed_post(host, port, path, body, headers, expect)
        if ok:
            latencies.append(elapsed)
        else:
            errors += 1
            first_error = first_error or reason
    return Result(latencies, errors, first_error)


def timed_post(
    host: str, port: str, path: str, body: bytes, headers: dict[str, str], expect: bytes
) -> tuple[bool, float, str]:
    """One request as a bank sends it: (answered 200 with `expect` in it, seconds, why not)."""
    started = time.perf_counter()
    # A new connection per call, as most bank clients make them.
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        ok = response.status == 200 and expect in content
        reason = f"HTTP {response.status}: {content[:300]!r}"
    except (OSError, http.client.HTTPException) as exc:
        ok, reason = False, repr(exc)
    finally:
        conn.close()
    return ok, time.perf_counter() - started, reason


@dataclass
class Phase:
    """What one operation's load produced, summed over the rounds it ran in."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def add(self, seconds: float, results: list[Result]) -> float:
        """Add one round; its rate."""
        done = sum(len(r.latencies) for r in results)
        self.seconds += seconds
        self.latencies.extend(x for r in results for x in r.latencies)
        self.errors += sum(r.errors for r in results)
        self.first_error = self.first_error or next(
            (r.first_error for r in results if r.first_error), ""
        )
        return done / seconds


def run_round(
    pool: Any, base: str, operation: str, clients: int, meters: list[str], seconds: float
) -> list[Result]:
    start_at = time.time() + 0.3  # every client starts at the same moment
    results: list[Result] = pool.map(
        client,
        [(base, operation, i, clients, meters, start_at, seconds) for i in range(clients)],
        chunksize=1,
    )
    return results


def pct(values: list[float], p: float) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] * 1000


def report(name: str, phase: Phase) -> None:
    latencies = sorted(phase.latencies)
    print(
        f"{name:16s} {phase.rate:8.1f} req/s   p50 {pct(latencies, 50):7.1f} ms   "
        f"p95 {pct(latencies, 95):7.1f} ms   p99 {pct(latencies, 99):7.1f} ms   "
        f"ok {len(latencies)}   errors {phase.errors}"
    )
    if phase.first_error:
        print(f"   first error: {phase.first_error}")


def tear_down(
    process: subprocess.Popen[bytes] | None, admin: Engine, name: str, home: Path
) -> None:
    """Stop the server (SIGTERM, then SIGKILL of its group), drop the scratch database and
    remove the scratch home: what every bench that starts a node does when it ends."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=20.0, help="untimed seconds first")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternating rounds the --seconds of each operation are split into",
    )
    parser.add_argument(
        "--xmlvend",
        action="store_true",
        help="also run the XMLVend 2.1 CreditVendRequest on /xmlvend/2.1 in the same rounds",
    )
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), MAX_SECONDS)

    name = f"vendgw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{SERVER}/{name}"
    home = Path(tempfile.mkdtemp(prefix="vendgw-bench-"))
    process = None
    try:
        meters = meter_numbers(args.meters)
        setup(url, home, meters, args.clients)
        process, base = start_server(url, home, args.workers)
        print(
            f"PostgreSQL, {args.workers} gunicorn workers (vendgw.serving, asyncio), "
            f"{args.clients} client processes, {len(meters)} meters, {seconds:.0f} s per "
            f"operation in "
            f"{args.rounds} alternating rounds, {os.cpu_count()} CPUs shared by clients, "
            f"server and database"
        )
        vend, trivial, xmlvend = Phase(), Phase(), Phase()
        with mp.get_context("spawn").Pool(args.clients) as pool:
            pool.map(time.sleep, [0.2] * args.clients)  # every client started and imported
            # Untimed: every worker builds its application on its first request, checks each
            # terminal's secret (argon2 once for a chosen one, then its cache answers), and
            # compiles the vend path's SQL on its first vends; each meter gets its month row.
            run_round(pool, base, "VendorStatement", args.clients, meters, args.warmup / 2)
            run_round(pool, base, "CreditVend", args.clients, meters, args.warmup / 2)
            if args.xmlvend:
                run_round(pool, base, "XMLVendCreditVend", args.clients, meters, args.warmup / 4)
            # The two operations alternate in short rounds, so that a shared machine speeding
            # up or slowing down during the run weighs on both alike.
            rounds = max(1, args.rounds)
            for n in range(1, rounds + 1):
                part = seconds / rounds
                v = vend.add(part, run_round(pool, base, "CreditVend", args.clients, meters, part))
                t = trivial.add(
                    part, run_round(pool, base, "VendorStatement", args.clients, meters, part)
                )
                line = (
                    f"  round {n}: CreditVend {v:6.1f} req/s, VendorStatement {t:6.1f} req/s,"
                    f" ratio {v / t if t else float('nan'):.2f}"
                )
                if args.xmlvend:
                    xv = xmlvend.add(
                        part,
                        run_round(pool, base, "XMLVendCreditVend", args.clients, meters, part),
                    )
                    line += f", XMLVend CreditVendRequest {xv:6.1f} req/s"
                print(line)
        report("CreditVend", vend)
        report("VendorStatement", trivial)
        if args.xmlvend:
            report("XMLVend 2.1 CV", xmlvend)
            if vend.rate and xmlvend.rate:
                print(
                    f"XMLVend 2.1 CreditVendRequest / CreditVend throughput: "
                    f"{xmlvend.rate / vend.rate:.2f} (target >= 0.80)"
                )
        if vend.rate and trivial.rate:
            print(
                f"CreditVend/VendorStatement throughput: {vend.rate / trivial.rate:.2f} "
                f"(target >= 0.50); CreditVend p99 {pct(sorted(vend.latencies), 99):.0f} ms "
                f"(target <= 100 ms)"
            )
    finally:
        tear_down(process, admin, name, home)


if __name__ == "__main__":
    main()
