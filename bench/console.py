"""How fast are the back-office console's dashboard and its meter search with a million vends?

A scratch PostgreSQL database is created and migrated with the real migrations, seeded with the
demo utility, then filled set-based (INSERT ... SELECT over generate_series: not through the vend
path, which would take hours) with --meters customers and meters and --vends credit vends (their
requests, transactions and tokens) spread evenly over the last --days days up to now, plus about
2 % refused requests with fault types, so "today" on the dashboard holds its share. The console
is then served as in production (`vendgw console`, gunicorn) and one logged-in client asks, over
HTTP, for the dashboard (`/`) and then for meter searches (`/meters?q=...`, cycling through a
meter-number prefix, an account prefix, a common surname and a rare full name) for --seconds
each, one request at a time; it prints p50/p95/p99 latency per page (target: p95 under 300 ms).

Usage: .venv/bin/python bench/console.py [--vends 1000000] [--meters 100000] [--days 90]
                                         [--seconds 10] [--workers 2] [--keep] [--fill-only]
                                         [--reuse NAME]

--keep leaves the scratch database (its name is printed) for EXPLAIN; it is dropped otherwise.
--reuse NAME measures on a database kept earlier (no fill, and it is kept): to compare two
versions of the code on the same rows in one session (its "today" is the day it was filled).
Loopback only; each phase is bounded by --seconds (at most 120).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import soap_load  # noqa: E402  # its server start (bench/ is on the path)

from core.db import make_engine, make_session_factory, transaction  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import load_settings  # noqa: E402
from gateway.models import SupplyGroup, Tariff  # noqa: E402
from vendgw import demo, migrate  # noqa: E402
from vendgw.console import users  # noqa: E402

SERVER = os.environ.get("VENDGW_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
MASTER_KEY = soap_load.MASTER_KEY  # the key the server it starts is given
MAX_SECONDS = 120.0
USERNAME, PASSWORD = "bench-supervisor", "bench console password"
FIRST_NAMES = [
    "Thabo", "Naledi", "Sipho", "Lerato", "Pieter", "Anna", "Johan", "Zanele", "Kagiso",
    "Nomsa", "David", "Fatima", "Mandla", "Busi", "Themba", "Lindiwe", "Jacob", "Ayesha",
    "Bongani", "Palesa",
]  # fmt: skip
SURNAMES = [
    "Mokoena", "Dlamini", "Nkosi", "Ndlovu", "Khumalo", "van der Merwe", "Botha", "Naidoo",
    "Pillay", "Mahlangu", "Sithole", "Zulu", "Mthembu", "Smith", "Jacobs", "Molefe",
    "Petersen", "Mabena", "Radebe", "Cele", "Baloyi", "Maseko", "Shabalala", "Venter",
    "Coetzee", "Hendricks", "Ntuli", "Mkhize", "Williams", "Adams",
]  # fmt: skip
FAULTS = ["VendorCreditEx", "BlockedMeterEx", "VendAmountEx", "UnknownMeterEx", "SystemEx"]


def _pg_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def fill(url: str, home: Path, vends: int, meters: int, days: int) -> dict[str, float]:
    """The demo utility, then customers, meters, requests, transactions and tokens, set-based."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    migrate.upgrade(url)
    settings = load_settings(
        {"VENDGW_DATABASE_URL": url, "VENDGW_MASTER_KEY": MASTER_KEY, "VENDGW_HOME": str(home)}
    )
    engine = make_engine(url, batch=True)
    runtime = Runtime(settings, _engine=engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        demo.seed(session, runtime.security_module, runtime.verifier_key)
        users.add_user(session, USERNAME, "supervisor", PASSWORD, actor="bench")
        group = session.scalar(select(SupplyGroup).where(SupplyGroup.sgc == "123456"))
        tariff = session.scalar(select(Tariff).where(Tariff.code == "DOMESTIC"))
        assert group is not None and tariff is not None
        group_id, ea, base_date, tariff_id = group.id, group.ea, group.base_date, tariff.id
        version_id = session.execute(
            text("SELECT id FROM tariff_version WHERE tariff_id = :t"), {"t": tariff_id}
        ).scalar_one()
    timings["migrate and seed"] = time.perf_counter() - clock

    params = {
        "meters": meters,
        "vends": vends,
        "days": days,
        "group_id": group_id,
        "ea": ea,
        "base_date": base_date,
        "tariff_id": tariff_id,
        "version_id": version_id,
    }
    steps = [
        (
            "customers",
            f"""
            INSERT INTO customer (account_no, name, address, debt_cents, recovery_rate_bp,
                                  fbe_registered)
            SELECT 'ACC' || lpad(g::text, 8, '0'),
                   ({_pg_array(FIRST_NAMES)})[1 + g % {len(FIRST_NAMES)}] || ' ' ||
                   ({_pg_array(SURNAMES)})[1 + (g / {len(FIRST_NAMES)}) % {len(SURNAMES)}],
                   g || ' Long Street', 0, 0, false
              FROM generate_series(1, :meters) AS g
            """,
        ),
        (
            "meters",
            """
            INSERT INTO meter (meter_number, iin, supply_group_id, ti, krn, kt, ea, tct,
                               base_date, status, tariff_id, customer_id, created_at)
            SELECT '07' || lpad(substr(c.account_no, 4)::text, 9, '0'), '600727', :group_id,
                   '01', 1, 2, :ea, '02', :base_date, 'active', :tariff_id, c.id,
                   now() - make_interval(days => :days + 1)
              FROM customer c WHERE c.account_no LIKE 'ACC%'
            """,
        ),
        (
            "requests",
            """
            INSERT INTO vend_request (client_id, msg_date_time, msg_unique_number, terminal_id,
                                      operation, request_hash, outcome, response_json, created_at)
            SELECT v.client_id, to_char(at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS'), g,
                   v.terminal, 'CreditVend', md5(g::text) || md5('r' || g::text), 'ok', '{}', at
              FROM generate_series(1, :vends) AS g
             CROSS JOIN LATERAL (SELECT now() - make_interval(
                        secs => (:vends - g)::float8 * :days * 86400 / :vends) AS at) AS t
             CROSS JOIN LATERAL (SELECT (ARRAY['6004000000019', '6004000000026',
                        '6004000000095'])[1 + g % 3] AS client_id,
                        (ARRAY['ATM-0001', 'POS-0001', 'OFFICE-1'])[1 + g % 3] AS terminal) AS v
            """,
        ),
        (
            "refused requests",
            f"""
            INSERT INTO vend_request (client_id, msg_date_time, msg_unique_number, terminal_id,
                                      operation, request_hash, outcome, response_json, created_at)
            SELECT '6004000000026', to_char(at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS'),
                   :vends + g, 'POS-0001', 'CreditVend', md5('x' || g) || md5('y' || g),
                   'refused',
                   '{{"type": "' || ({_pg_array(FAULTS)})[1 + g % {len(FAULTS)}] ||
                   '", "code": "refused", "message": "bench"}}', at
              FROM generate_series(1, :vends / 50) AS g
             CROSS JOIN LATERAL (SELECT now() - make_interval(
                        secs => (:vends / 50 - g)::float8 * :days * 86400 / (:vends / 50)) AS at)
                     AS t
            """,
        ),
        (
            "transactions",
            """
            INSERT INTO vend_transaction (receipt_no, request_id, kind, status, vendor_id,
                client_id, terminal_id, operator, msg_id, meter_id, meter_number, customer_id,
                tariff_version_id, month, tender_cents, debt_recovered_cents,
                fixed_charge_cents, fixed_charge_vat_cents, energy_cents, energy_vat_cents,
                units_tenths, fbe_units_tenths, created_at, reversal_reason)
            SELECT 'BR' || lpad(r.msg_unique_number::text, 10, '0'), r.id, 'credit', 'issued',
                   vendor.id, r.client_id, r.terminal_id, '', r.msg_date_time ||
                   r.msg_unique_number, m.id, m.meter_number, m.customer_id, :version_id,
                   to_char(r.created_at AT TIME ZONE 'Africa/Johannesburg', 'YYYY-MM'),
                   t.tender, 0, 0, 0, t.tender, t.tender * 15 / 115, t.tender / 15, 0,
                   r.created_at, ''
              FROM vend_request r
              JOIN vendor ON vendor.client_id = r.client_id
             CROSS JOIN LATERAL (SELECT 1000 + (r.msg_unique_number * 7919) % 49000 AS tender)
                     AS t
              JOIN meter m ON m.meter_number = '07' || lpad(
                        (1 + (r.msg_unique_number * 104729) % :meters)::text, 9, '0')
             WHERE r.outcome = 'ok'
            """,
        ),
        (
            "tokens",
            """
            INSERT INTO vend_token (transaction_id, seq, kind, token, tid, units_tenths)
            SELECT t.id, 1, 'credit', lpad((t.id * 7919 % 100000000000)::text, 20, '0'),
                   t.id % 16777216, t.units_tenths
              FROM vend_transaction t
            """,
        ),
    ]
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        for name, sql in steps:
            clock = time.perf_counter()
            conn.execute(text(sql), params)
            timings[name] = time.perf_counter() - clock
    clock = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    timings["vacuum analyze"] = time.perf_counter() - clock
    engine.dispose()
    return timings


def start_console(url: str, home: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """`vendgw console` under gunicorn, started as the load bench starts the gateway."""
    process, base = soap_load.start_server(
        url, home, workers, command="console", ready_path="/login", start_timeout=60
    )
    return process, int(base.rsplit(":", 1)[1])


class Browser:
    """One client with its session cookie, over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, payload.decode("utf-8", "replace")

    def login(self) -> None:
        status, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert status == 200 and token, "no login form"
        status, _page = self.request(
            "POST",
            "/login",
            {"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)},
        )
        if status != 302:
            raise SystemExit(f"login failed: HTTP {status}")


def measure(browser: Browser, paths: list[str], seconds: float, check: str) -> list[float]:
    latencies: list[float] = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        status, page = browser.request("GET", path)
        elapsed = time.perf_counter() - started
        if status != 200 or check not in page:
            raise SystemExit(f"GET {path}: HTTP {status}, {check!r} not in the page")
        latencies.append(elapsed)
    return latencies


def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


def report(name: str, latencies: list[float]) -> None:
    print(
        f"{name:22s} n {len(latencies):5d}   p50 {pct(latencies, 50):7.1f} ms   "
        f"p95 {pct(latencies, 95):7.1f} ms   p99 {pct(latencies, 99):7.1f} ms   "
        f"(target p95 < 300 ms)"
    )


def tear_down(
    process: subprocess.Popen[bytes] | None, admin: Engine, name: str, home: Path, keep: bool
) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    if keep:
        print(f"kept the scratch database {name}")
    else:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vends", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--fill-only", action="store_true", help="fill (with --keep: to EXPLAIN), measure nothing"
    )
    parser.add_argument("--reuse", metavar="NAME", help="measure on this kept database")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), MAX_SECONDS)
    if args.vends < 50 or args.meters < 20:
        raise SystemExit("--vends >= 50 and --meters >= 20")

    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    if args.reuse:
        if not re.fullmatch(r"vendgw_bench_console_[0-9a-f]{8}", args.reuse):
            raise SystemExit("--reuse takes a name this script printed (vendgw_bench_console_...)")
        name, args.keep = args.reuse, True
    else:
        name = f"vendgw_bench_console_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{SERVER}/{name}"
    home = Path(tempfile.mkdtemp(prefix="vendgw-bench-console-"))
    process = None
    try:
        if args.reuse:
            print(f"reusing {name} (filled earlier; --vends/--meters must match its fill)")
        else:
            timings = fill(url, home, args.vends, args.meters, args.days)
            print(
                f"filled {args.vends:,} vends over {args.days} days, {args.meters:,} meters: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
            )
        if args.fill_only:
            return
        process, port = start_console(url, home, args.workers)
        browser = Browser(port)
        browser.login()
        common = SURNAMES[3]
        rare = f"{FIRST_NAMES[5]} {SURNAMES[7]}"
        searches = [
            "/meters?q=" + urllib.parse.quote(q)
            for q in (f"07{args.meters // 3:09d}"[:-2], f"ACC{args.meters // 2:08d}", common, rare)
        ]
        print(
            f"PostgreSQL, `vendgw console` with {args.workers} gunicorn workers, one client, "
            f"{seconds:.0f} s per page, {os.cpu_count()} CPUs shared by client, server and "
            f"database; searches: {', '.join(urllib.parse.unquote(s[10:]) for s in searches)}"
        )
        measure(browser, ["/"], min(3.0, seconds), "vends-per-hour")  # warm-up, untimed
        measure(browser, searches, min(3.0, seconds), 'id="meter-hits"')
        report("dashboard /", measure(browser, ["/"], seconds, "vends-per-hour"))
        report("meter search /meters", measure(browser, searches, seconds, 'id="meter-hits"'))
    finally:
        tear_down(process, admin, name, home, args.keep)


if __name__ == "__main__":
    main()
