"""How fast can terminals debit floats, and how much does one hot vendor cost?

Every vend ends with ``vendor_accounts.post_vend`` and a commit; the float row of the vendor is
locked from the debit's UPDATE until that commit. When all terminals belong to ONE vendor (a bank's
ATM network) they queue on that lock, so the time the lock is held sets the ceiling. This measures
debits per second and the latency of a whole debit transaction (p50/p99) on PostgreSQL:

* 1, 8 and 32 worker processes debiting ONE hot vendor;
* 32 workers spread over 32 vendors (no shared row: the best the machine can do);

and prints hot/spread at 32 workers. Those two are measured by the same 32 processes switching
between them every ``seconds / rounds`` (2.5 s by default), so that other load on a shared
machine weighs on both alike. Processes, not threads, so the GIL does not serialise the clients.
Each transaction is what the vend path does at the end of a request: begin, post_vend, commit.
``--work-ms`` is the request work done before the debit, as busy CPU: 3 ms by default, because a
CreditVend spends about that much before its debit (4.2 ms from request start to the debit,
part of it waiting on PostgreSQL, measured in-process on this machine); ``--work-ms 0`` measures
the bare debit. ``--lock-early`` takes the float row lock at the start of the request instead,
to show what holding the lock across the whole request costs.

Usage: .venv/bin/python bench/float_contention.py [--seconds 10] [--rounds 4] [--work-ms 3]
       [--lock-early]

A scratch database is created, migrated with the real migrations and dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db import make_engine, make_session_factory, transaction
from vendgw import migrate
from vendor_accounts import (
    VendSplit,
    add_vendor,
    check_invariants,
    deposit,
    ean13_check_digit,
    post_vend,
)

SERVER = os.environ.get("VENDGW_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
VENDORS = 32
AMOUNT = 1_000  # 10.00 per debit
SPLIT = VendSplit(energy_excl_vat=870, vat=130)
TZ = "Africa/Johannesburg"


def client_id(n: int) -> str:
    body = f"600499{n:06d}"
    return body + str(ean13_check_digit(body))


def setup(url: str) -> list[int]:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            ids = []
            for n in range(VENDORS):
                v = add_vendor(
                    s, client_id=client_id(n), name=f"Bench {n}", kind="bank", actor="bench"
                )
                # Enough float that no scenario runs out: every debit succeeds.
                deposit(
                    s, vendor_id=v.id, amount_cents=10**13, bank_reference=f"B-{n}", actor="bench"
                )
                ids.append(v.id)
        return ids
    finally:
        engine.dispose()


def worker(
    url: str,
    plan: tuple[int, ...],
    worker_no: int,
    start_at: float,
    slice_s: float,
    slices: int,
    work_ms: float,
    lock_early: bool,
    out: mp.Queue,
) -> None:
    """Debit until the last slice ends; in slice k debit vendor plan[k % len(plan)]."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine)
    samples: list[list[float]] = [[] for _ in plan]
    n = 0

    def one(vendor_id: int) -> float:
        nonlocal n
        n += 1
        began = time.perf_counter()
        with transaction(sessions) as s:
            if lock_early:
                s.execute(
                    text("SELECT 1 FROM float_account WHERE vendor_id = :v FOR UPDATE"),
                    {"v": vendor_id},
                )
            if work_ms:
                _busy(work_ms / 1000)
            post_vend(
                s,
                vendor_id=vendor_id,
                amount_cents=AMOUNT,
                split=SPLIT,
                reference=f"W{worker_no}-{n}",
                timezone=TZ,
            )
        return time.perf_counter() - began

    for vendor_id in plan:  # warm up the connection and statement caches
        for _ in range(3):
            one(vendor_id)
    while time.time() < start_at:
        time.sleep(0.001)
    stop_at = start_at + slice_s * slices
    while (now := time.time()) < stop_at:
        mode = int((now - start_at) // slice_s) % len(plan)
        samples[mode].append(one(plan[mode]))
    engine.dispose()
    out.put(samples)


def _busy(seconds: float) -> None:
    """CPU work standing in for pricing and token generation (not a sleep: it competes for CPU)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@dataclass(frozen=True)
class Result:
    name: str
    workers: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def debits(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.debits / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def scenario(
    url: str,
    names: tuple[str, ...],
    plans: list[tuple[int, ...]],
    seconds: float,
    rounds: int,
    work_ms: float,
    lock_early: bool,
) -> list[Result]:
    """Run one worker process per plan; with two modes per plan, alternate them every slice
    (``rounds`` slices of each), so other load on the machine weighs on both modes alike."""
    modes = len(names)
    slices = modes * rounds
    slice_s = seconds / rounds
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 2.0  # time for every worker to connect and warm up
    procs = [
        ctx.Process(
            target=worker, args=(url, plan, i, start_at, slice_s, slices, work_ms, lock_early, out)
        )
        for i, plan in enumerate(plans)
    ]
    for p in procs:
        p.start()
    per_mode: list[list[float]] = [[] for _ in names]
    for _ in procs:
        for mode, samples in enumerate(out.get(timeout=seconds * modes + 60)):
            per_mode[mode].extend(samples)
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a worker failed in scenario {names}")
    return [
        Result(name, len(plans), seconds, tuple(latencies))
        for name, latencies in zip(names, per_mode, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per scenario")
    parser.add_argument(
        "--work-ms",
        type=float,
        default=3.0,
        help="simulated request work before the debit, in ms of CPU",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="slices of each of the two alternating 32-worker scenarios",
    )
    parser.add_argument(
        "--lock-early",
        action="store_true",
        help="lock the float row at the start of the request (the anti-pattern)",
    )
    args = parser.parse_args()

    name = f"vendgw_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{SERVER}/{name}"
    try:
        vendor_ids = setup(url)
        hot = vendor_ids[0]
        print(
            f"PostgreSQL float debits: {args.seconds:g} s per scenario, request work "
            f"{args.work_ms:g} ms, lock {'at request start' if args.lock_early else 'at debit'}"
            f", {os.cpu_count()} CPUs"
        )
        print(
            f"{'scenario':20} {'workers':>7} {'debits':>8} {'debits/s':>10} {'p50 ms':>8} "
            f"{'p99 ms':>8}"
        )
        results: dict[str, Result] = {}

        def show(r: Result) -> None:
            results[r.name] = r
            print(
                f"{r.name:20} {r.workers:>7} {r.debits:>8} {r.rate:>10.0f} "
                f"{r.percentile(0.50):>8.2f} {r.percentile(0.99):>8.2f}",
                flush=True,
            )

        for workers in (1, 8):
            for r in scenario(
                url,
                (f"hot, {workers} worker" + "s" * (workers > 1),),
                [(hot,)] * workers,
                args.seconds,
                1,
                args.work_ms,
                args.lock_early,
            ):
                show(r)
        # The two 32-worker scenarios are what the ratio compares: the same 32 processes
        # alternate between them every slice.
        for r in scenario(
            url,
            ("hot, 32 workers", "spread, 32 workers"),
            [(hot, vendor_ids[i]) for i in range(32)],
            args.seconds,
            args.rounds,
            args.work_ms,
            args.lock_early,
        ):
            show(r)
        ratio = results["hot, 32 workers"].rate / results["spread, 32 workers"].rate
        print(f"hot/spread at 32 workers: {ratio:.2f} (target >= 0.70)")

        engine = make_engine(url)
        with transaction(make_session_factory(engine)) as s:
            problems = check_invariants(s)
        engine.dispose()
        print("ledger check after the run:", "clean" if not problems else problems[:5])
        if problems:
            raise SystemExit(1)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
