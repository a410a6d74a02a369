"""Scratch-card vouchers at scale: how long does a batch of 100 000 take to create, in how much
memory, and how many VoucherVends a second does a node serve next to CreditVends?

1. Batch creation, in this process, on a scratch PostgreSQL database migrated with the real
   migrations: `gateway.vouchers.batches.create_batch` for --count vouchers (100 000 by default:
   100 000 PINs drawn with `secrets`, their HMAC lookup hashes, the sealed blob, the rows), then
   committed. Wall time, and peak memory as the process's peak resident set
   (`resource.getrusage`, ru_maxrss, before and after) and as Python's own peak allocations
   (`tracemalloc`, in a second, untimed run of --trace-count vouchers, since tracing slows
   allocation). Targets: under 30 s, under 300 MB.
2. The batch is exported (decrypted here with an age identity made for the run) and activated,
   and its PINs are handed to the load clients, disjoint per client.
3. Throughput under gunicorn (`vendgw serve`) on that database: concurrent client processes POST
   CreditVend (10.00) and VoucherVend (a 10.00 voucher, a PIN each) envelopes in alternating
   rounds (as bench/soap_load.py does, whose clients and reporting this reuses), over many
   meters. It prints requests/s and latencies for each and VoucherVend / CreditVend. Target:
   at least 90 %.

Usage: .venv/bin/python bench/vouchers.py [--count 100000] [--seconds 10] [--clients 4]
                                          [--workers 4] [--meters 200] [--warmup 10]
                                          [--rounds 2] [--trace-count 20000]

Loopback only; phases are bounded by --seconds (at most 120). The scratch database and home are
dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import pyrage
from pyrage import x25519
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import soap_load as load  # noqa: E402

from core.db import make_engine, make_session_factory, transaction, utcnow  # noqa: E402
from core.keys import derive_voucher_key, derive_voucher_seal_key  # noqa: E402
from core.localtime import local_day, utility_zone  # noqa: E402
from core.settings import load_settings  # noqa: E402
from gateway.vouchers import activation, batches  # noqa: E402
from vendor_accounts import vendors  # noqa: E402

FACE = 1000  # 10.00, the CreditVend tender of soap_load
SECRET = load.SECRET
CLIENT_ID = load.CLIENT_ID


def _engine(url: str) -> Engine:
    """An engine with the operator commands' long time-outs, as `vendgw voucher` runs."""
    settings = load_settings(
        {
            "VENDGW_DATABASE_URL": url,
            "VENDGW_MASTER_KEY": load.MASTER_KEY,
            "VENDGW_HOME": tempfile.gettempdir(),
        }
    )
    return make_engine(url, limits=settings.database.limits(batch=True))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def create(url: str, count: int, *, trace: bool) -> tuple[int, float, float, float]:
    """A batch of `count`: (batch id, seconds, peak RSS MB after, tracemalloc peak MB)."""
    engine = _engine(url)
    sessions = make_session_factory(engine)
    master = bytes.fromhex(load.MASTER_KEY)
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with transaction(sessions) as session:
        vendor = vendors.get_vendor(session, CLIENT_ID)
        created = batches.create_batch(
            session,
            vendor_id=vendor.id,
            denomination_cents=FACE,
            count=count,
            expires_on=None,
            actor="bench",
            lookup_key=derive_voucher_key(master),
            seal_key=derive_voucher_seal_key(master),
        )
    seconds = time.perf_counter() - started
    traced = 0.0
    if trace:
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    engine.dispose()
    return created.batch_id, seconds, _peak_rss_mb(), traced


def export_and_activate(url: str, batch_id: int) -> list[str]:
    engine = _engine(url)
    sessions = make_session_factory(engine)
    printer = x25519.Identity.generate()
    master = bytes.fromhex(load.MASTER_KEY)
    with transaction(sessions) as session:
        encrypted = batches.export_batch(
            session,
            batch_id,
            recipient=str(printer.to_public()),
            actor="bench",
            seal_key=derive_voucher_seal_key(master),
        )
    lines = pyrage.decrypt(encrypted, [printer]).decode().splitlines()[1:]
    drawn = [line.split(",")[1] for line in lines]
    with transaction(sessions) as session:
        low, high = activation.batch_range(session, batch_id)
        activation.activate(
            session,
            low,
            high,
            actor="bench",
            today=local_day(utcnow(), utility_zone("Africa/Johannesburg")),
        )
    engine.dispose()
    return drawn


def add_redeem_terminals(url: str, clients: int) -> None:
    engine = _engine(url)
    with transaction(make_session_factory(engine)) as session:
        for t in range(clients):
            vendors.add_terminal(
                session,
                client_id=CLIENT_ID,
                terminal_code=f"VBENCH-{t:03d}",
                actor="bench",
                secret=SECRET,
                privileges=("vend", "redeem"),
            )
    engine.dispose()


def voucher_xml(terminal: str, unique: int, meter: str, pin: str) -> bytes:
    head = (
        f"<clientID>{CLIENT_ID}</clientID><terminalID>{terminal}</terminalID><msgID>"
        f"<dateTime>{time.strftime('%Y%m%d%H%M%S')}</dateTime>"
        f"<uniqueNumber>{unique}</uniqueNumber></msgID>"
    )
    return load.envelope(
        f"<VoucherVendReq>{head}<pin>{pin}</pin><meterNumber>{meter}</meterNumber></VoucherVendReq>"
    )


def credit_xml(terminal: str, unique: int, meter: str, pin: str) -> bytes:
    return load.request_xml("CreditVend", terminal, unique, meter)


def client(
    args: tuple[str, str, int, int, list[str], list[str] | None, float, float, int],
) -> load.Result:
    base, operation, index, clients, meters, my_pins, start_at, seconds, round_no = args
    terminal = f"VBENCH-{index:03d}"
    host, port = base.removeprefix("http://").split(":")
    credentials = base64.b64encode(f"{CLIENT_ID}/{terminal}:{SECRET}".encode()).decode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": f"Basic {credentials}"}
    build = voucher_xml if operation == "VoucherVend" else credit_xml
    mine = meters[index::clients] or meters
    latencies: list[float] = []
    errors, first_error, n = 0, "", 0
    unique_base = (index + 1) * 10**13 + (round_no * 2 + (operation == "VoucherVend")) * 10**8
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline and (my_pins is None or n < len(my_pins)):
        pin = "" if my_pins is None else my_pins[n]
        n += 1
        body = build(terminal, unique_base + n, mine[n % len(mine)], pin)
        ok, elapsed, reason = load.timed_post(host, port, "/vend", body, headers, b"receiptNo>")
        if ok:
            latencies.append(elapsed)
        else:
            errors += 1
            first_error = first_error or reason
    return load.Result(latencies, errors, first_error)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--trace-count", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    seconds = min(args.seconds, load.MAX_SECONDS)

    name = f"vendgw_bench_vouchers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{load.SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{load.SERVER}/{name}"
    home = Path(tempfile.mkdtemp(prefix="vendgw-bench-vouchers-"))
    process = None
    try:
        meters = load.meter_numbers(args.meters)
        load.setup(url, home, meters, 0)
        add_redeem_terminals(url, args.clients)

        rss_before = _peak_rss_mb()
        batch_id, took, rss_after, _ = create(url, args.count, trace=False)
        print(
            f"batch create     {args.count} vouchers in {took:.1f} s "
            f"({args.count / took:,.0f}/s; target < 30 s)   peak RSS {rss_after:.0f} MB "
            f"(was {rss_before:.0f} MB before; target < 300 MB)"
        )
        _, traced_took, _, traced = create(url, args.trace_count, trace=True)
        print(
            f"tracemalloc      {args.trace_count} vouchers: Python's peak allocations "
            f"{traced:.1f} MB ({traced * args.count / args.trace_count:.0f} MB scaled to "
            f"{args.count}), {traced_took:.1f} s traced"
        )
        started = time.perf_counter()
        drawn = export_and_activate(url, batch_id)
        print(f"export+activate  {len(drawn)} vouchers in {time.perf_counter() - started:.1f} s")

        process, base = load.start_server(url, home, args.workers)
        # Each client redeems PINs of its own, fresh ones each round (the warm-up is round 0).
        per_client = len(drawn) // (args.clients * (args.rounds + 1))
        slices = [
            drawn[i * per_client : (i + 1) * per_client]
            for i in range(args.clients * (args.rounds + 1))
        ]
        phases = {"CreditVend": load.Phase(), "VoucherVend": load.Phase()}
        with mp.Pool(args.clients) as pool:

            def run(operation: str, round_no: int, secs: float) -> list[load.Result]:
                start_at = time.time() + 0.3
                offset = round_no * args.clients
                return pool.map(
                    client,
                    [
                        (
                            base,
                            operation,
                            i,
                            args.clients,
                            meters,
                            slices[offset + i] if operation == "VoucherVend" else None,
                            start_at,
                            secs,
                            round_no,
                        )
                        for i in range(args.clients)
                    ],
                    chunksize=1,
                )

            for operation in phases:  # warm-up, untimed
                run(operation, 0, args.warmup / 2)
            each = seconds / args.rounds
            for r in range(1, args.rounds + 1):
                for operation, phase in phases.items():
                    rate = phase.add(each, run(operation, r, each))
                    print(f"  round {r} {operation:12s} {rate:8.1f} req/s")
        for operation, phase in phases.items():
            load.report(operation, phase)
        credit, voucher = phases["CreditVend"].rate, phases["VoucherVend"].rate
        if credit:
            print(f"VoucherVend / CreditVend = {voucher / credit:.0%} (target >= 90 %)")
    finally:
        load.tear_down(process, admin, name, home)


if __name__ == "__main__":
    main()
