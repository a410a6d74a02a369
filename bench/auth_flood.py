"""Does a flood of wrong logins slow down a bank's vends? (defect 7 of issue 12)

The real server (`vendgw serve`, gunicorn) on a scratch PostgreSQL database with the demo utility.
One client process sends CreditVends one after another with a terminal whose secret was generated
(so it has an HMAC verifier); first alone ("quiet"), then while another process sends wrong
logins at a fixed rate ("flood"), in the same run. Each flood request claims a terminalID never
used before, so the throttle never refuses it: every one is checked in full (a dummy verifier
check, a failure row upserted and an audit row written), the worst case for the server's CPU.
Before the HMAC verifiers, each such request cost an argon2 check (about 0.2 s of CPU and 64 MiB).

It prints the vend's p50/p99 per phase and what the flood got (expected: all 401).

Usage: .venv/bin/python bench/auth_flood.py [--seconds 20] [--rate 10] [--workers 2]
                                            [--warmup 5]

Loopback only; each phase is bounded by --seconds (at most 120); the scratch database is dropped
at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from soap_load import (  # noqa: E402
    CLIENT_ID,
    MASTER_KEY,
    SERVER,
    meter_numbers,
    pct,
    request_xml,
    setup,
    start_server,
    tear_down,
)

from core.db import make_engine, make_session_factory, transaction  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import load_settings  # noqa: E402
from vendor_accounts import vendors  # noqa: E402

TERMINAL = "FLOOD-BENCH-1"
MAX_SECONDS = 120


def add_generated_terminal(url: str, home: Path) -> str:
    settings = load_settings(
        {"VENDGW_DATABASE_URL": url, "VENDGW_MASTER_KEY": MASTER_KEY, "VENDGW_HOME": str(home)}
    )
    engine = make_engine(url)
    runtime = Runtime(settings, _engine=engine)
    with transaction(make_session_factory(engine)) as session:
        terminal, secret = vendors.add_terminal(
            session,
            client_id=CLIENT_ID,
            terminal_code=TERMINAL,
            actor="bench",
            privileges=("vend",),
            verifier_key=runtime.verifier_key,
        )
        assert terminal.secret_hash.startswith("hmac-sha256$")
    engine.dispose()
    return secret


def post(base: str, body: bytes, authorization: str) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(
            "POST",
            "/vend",
            body=body,
            headers={"Content-Type": "text/xml; charset=utf-8", "Authorization": authorization},
        )
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return 0, repr(exc).encode()
    finally:
        conn.close()


def vend_client(
    base: str, secret: str, meters: list[str], seconds: float, tag: int
) -> tuple[list[float], int, str]:
    authorization = (
        "Basic " + base64.b64encode(f"{CLIENT_ID}/{TERMINAL}:{secret}".encode()).decode()
    )
    latencies: list[float] = []
    errors, first_error, n = 0, "", 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        n += 1
        body = request_xml("CreditVend", TERMINAL, tag * 10**9 + n, meters[n % len(meters)])
        started = time.perf_counter()
        status, content = post(base, body, authorization)
        elapsed = time.perf_counter() - started
        if status == 200 and b"receiptNo>" in content:
            latencies.append(elapsed)
        else:
            errors += 1
            first_error = first_error or f"HTTP {status}: {content[:200]!r}"
    return latencies, errors, first_error


def flood(base: str, rate: float, stop_at: float, tag: str) -> Counter[int]:
    """Wrong logins at `rate` a second (open loop), each claiming a new terminalID."""
    statuses: Counter[int] = Counter()
    body = request_xml("CreditVend", "X", 1, "01234567897")
    n = 0
    next_at = time.monotonic()
    while time.monotonic() < stop_at:
        n += 1
        user = f"{CLIENT_ID}/GUESS-{tag}-{n}"
        status, _ = post(
            base, body, "Basic " + base64.b64encode(f"{user}:wrong-secret-{n}".encode()).decode()
        )
        statuses[status] += 1
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    return statuses


def report(
    name: str, latencies: list[float], errors: int, first_error: str, seconds: float
) -> None:
    values = sorted(latencies)
    print(
        f"{name:6s} CreditVend {len(values) / seconds:6.1f} req/s   p50 {pct(values, 50):7.1f} ms"
        f"   p99 {pct(values, 99):7.1f} ms   ok {len(values)}   errors {errors}"
    )
    if first_error:
        print(f"   first error: {first_error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--rate", type=float, default=10.0, help="wrong logins a second")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--warmup", type=float, default=5.0)
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
        meters = meter_numbers(50)
        setup(url, home, meters, 0)
        secret = add_generated_terminal(url, home)
        process, base = start_server(url, home, args.workers)
        print(
            f"PostgreSQL, {args.workers} gunicorn workers, one vend client (sequential), "
            f"flood {args.rate:g} wrong logins/s, {seconds:.0f} s per phase, "
            f"{os.cpu_count()} CPUs shared by clients, server and database"
        )
        vend_client(base, secret, meters, args.warmup, 1)
        quiet = vend_client(base, secret, meters, seconds, 2)
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            flooding = pool.apply_async(
                flood, (base, args.rate, time.monotonic() + seconds + 1, uuid.uuid4().hex[:6])
            )
            time.sleep(1.0)  # the flood is under way
            loud = vend_client(base, secret, meters, seconds, 3)
            statuses = flooding.get(timeout=seconds + 60)
        report("quiet", *quiet, seconds)
        report("flood", *loud, seconds)
        print(
            f"flood answers: {dict(sorted(statuses.items()))} "
            f"({sum(statuses.values()) / (seconds + 1):.1f} requests/s)"
        )
    finally:
        tear_down(process, admin, name, home)


if __name__ == "__main__":
    main()
