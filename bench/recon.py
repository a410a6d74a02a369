"""Benchmark: reconcile a 1,000,000-line monthly vendor report on PostgreSQL.

Creates a scratch database, migrates it, bulk-loads the gateway's side with COPY (vend requests
and credit vends of one vendor over November 2026), writes the vendor's report with about 1 % of
its lines planted as breaks of every category, reconciles it, and checks that every planted break
was found and nothing else. Prints import time, match time and peak memory (ru_maxrss of the
process that reconciles; the data is generated in a child process so it does not count), then
drops the database.

    .venv/bin/python bench/recon.py [--lines 1000000] [--break-every 100] [--keep]

Targets: import + match within 60 s, peak memory within 500 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402

from core.db import make_engine, transaction  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import load_settings  # noqa: E402
from reconciliation.models import ReconBreak, ReconRunTotal  # noqa: E402
from reconciliation.report_file import HEADER, identify  # noqa: E402
from reconciliation.runs import calendar_of, reconcile  # noqa: E402
from vendgw import migrate  # noqa: E402
from vendor_accounts import CommissionRate, add_vendor  # noqa: E402

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
CLIENT = "6004000000019"
TERMINAL = "ATM-0001"
TZ = ZoneInfo("Africa/Johannesburg")
MONTH_START = datetime(2026, 11, 1, tzinfo=TZ).astimezone(UTC)
MONTH_SECONDS = 30 * 24 * 3600
# Planted break kinds, taken in turn by every --break-every'th sale.
KINDS = (
    "AMOUNT_MISMATCH",
    "METER_MISMATCH",
    "STATUS_MISMATCH",
    "STATUS_MISMATCH_VENDOR",
    "MISSING_AT_GATEWAY",
    "MISSING_IN_REPORT",
    "DUPLICATE_IN_REPORT",
    "OUTSIDE_PERIOD",
    "OUTSIDE_PERIOD_GATEWAY",
)


class Sale:
    __slots__ = ("amount", "at", "i", "kind", "meter", "msg_dt", "msg_id")

    def __init__(self, i: int, total: int, break_every: int) -> None:
        self.i = i
        # Spread over the month, leaving its last hours free for the few sales beyond `total`.
        spread = (i * (MONTH_SECONDS - 6 * 3600)) // total
        self.at = MONTH_START + timedelta(seconds=spread, microseconds=i % 997)
        self.msg_dt = self.at.astimezone(TZ).strftime("%Y%m%d%H%M%S")
        self.msg_id = f"{self.msg_dt}{i + 1}"
        self.amount = 500 + (i * 37) % 99500
        self.meter = f"0{4000000000 + i % 900000:010d}"
        self.kind = KINDS[(i // break_every) % len(KINDS)] if i % break_every == 0 else ""


def _category(kind: str) -> str:
    return {
        "STATUS_MISMATCH_VENDOR": "STATUS_MISMATCH",
        "OUTSIDE_PERIOD_GATEWAY": "OUTSIDE_PERIOD",
    }.get(kind, kind)


def sales(total: int, break_every: int) -> Iterator[Sale]:
    """Enough sales for `total` report lines (a duplicate adds a line, a gateway-only none)."""
    lines = i = 0
    while lines < total:
        sale = Sale(i, total, break_every)
        if sale.kind == "DUPLICATE_IN_REPORT" and lines + 2 > total:
            sale.kind = ""
        lines += {"MISSING_IN_REPORT": 0, "DUPLICATE_IN_REPORT": 2}.get(sale.kind, 1)
        i += 1
        yield sale


class _Stream:
    def __init__(self, rows: Iterator[str]) -> None:
        self._rows = rows

    def read(self, size: int = 65536) -> str:
        parts, n = [], 0
        for row in self._rows:
            parts.append(row)
            n += len(row)
            if n >= size:
                break
        return "".join(parts)

    readline = read


def _gateway_rows(
    total: int, break_every: int, vendor_id: int
) -> tuple[Iterator[str], Iterator[str]]:
    def requests() -> Iterator[str]:
        for s in sales(total, break_every):
            if s.kind == "MISSING_AT_GATEWAY":
                continue
            yield (
                f"{s.i + 1}\t{CLIENT}\t{s.msg_dt}\t{s.i + 1}\t{TERMINAL}\tCreditVend\t"
                f"{'0' * 64}\tok\t{{}}\t{s.at.isoformat()}\n"
            )

    def transactions() -> Iterator[str]:
        for s in sales(total, break_every):
            if s.kind == "MISSING_AT_GATEWAY":
                continue
            at = s.at - timedelta(days=31) if s.kind == "OUTSIDE_PERIOD_GATEWAY" else s.at
            status, reversed_at = "issued", "\\N"
            if s.kind == "STATUS_MISMATCH":
                status, reversed_at = "reversed", (at + timedelta(minutes=5)).isoformat()
            vat = s.amount * 15 // 115
            yield (
                f"{s.i + 1}\t{s.i + 1:012d}\t{s.i + 1}\tcredit\t{status}\t{vendor_id}\t"
                f"{CLIENT}\t{TERMINAL}\t{s.msg_id}\t{s.meter}\t{at.astimezone(TZ):%Y-%m}\t"
                f"{s.amount}\t0\t0\t0\t{s.amount}\t{vat}\t{s.amount // 20}\t0\t"
                f"{at.isoformat()}\t{reversed_at}\t\n"
            )

    return requests(), transactions()


_COPY_REQUESTS = (
    "COPY vend_request (id, client_id, msg_date_time, msg_unique_number, "
    "terminal_id, operation, request_hash, outcome, response_json, created_at) "
    "FROM STDIN"
)
_COPY_TRANSACTIONS = (
    "COPY vend_transaction (id, receipt_no, request_id, kind, status, vendor_id, client_id, "
    "terminal_id, msg_id, meter_number, month, tender_cents, debt_recovered_cents, "
    "fixed_charge_cents, fixed_charge_vat_cents, energy_cents, energy_vat_cents, units_tenths, "
    "fbe_units_tenths, created_at, reversed_at, reversal_reason) FROM STDIN"
)


def _report_lines(total: int, break_every: int) -> Iterator[str]:
    for s in sales(total, break_every):
        if s.kind == "MISSING_IN_REPORT":
            continue
        amount, meter, at, status = s.amount, s.meter, s.at, "SUCCESS"
        if s.kind == "AMOUNT_MISMATCH":
            amount += 1
        elif s.kind == "METER_MISMATCH":
            meter = f"0{5000000000 + s.i % 900000:010d}"
        elif s.kind == "STATUS_MISMATCH_VENDOR":
            status = "REVERSED"
        elif s.kind == "OUTSIDE_PERIOD":
            at = s.at + timedelta(days=40)
        row = (
            f"{CLIENT},{TERMINAL},{s.msg_id},{s.i + 1:012d},{meter},{amount // 100}."
            f"{amount % 100:02d},{at.astimezone(TZ).isoformat()},{status}\n"
        )
        yield row
        if s.kind == "DUPLICATE_IN_REPORT":
            yield row


def generate(url: str, report: Path, total: int, break_every: int, vendor_id: int) -> None:
    """Child process: the gateway rows by COPY and the report file, both streamed."""
    engine = make_engine(url)
    requests, transactions = _gateway_rows(total, break_every, vendor_id)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(_COPY_REQUESTS, _Stream(requests))
            cursor.copy_expert(_COPY_TRANSACTIONS, _Stream(transactions))
            cursor.execute(
                "SELECT setval('vend_request_id_seq', (SELECT max(id) FROM "
                "vend_request)); SELECT setval('vend_transaction_id_seq', "
                "(SELECT max(id) FROM vend_transaction));"
            )
            cursor.execute("ANALYZE vend_request; ANALYZE vend_transaction")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    with report.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + "\n")
        fh.writelines(_report_lines(total, break_every))


def planted(total: int, break_every: int) -> set[tuple[str, str]]:
    out = set()
    for s in sales(total, break_every):
        if s.kind:
            out.add((_category(s.kind), s.msg_id))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--break-every",
        type=int,
        default=100,
        help="every n-th sale is a planted break (100: about 1 %%)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    name = f"vendgw_bench_recon_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    try:
        with tempfile.TemporaryDirectory() as home:
            return _run(url, Path(home), args.lines, args.break_every)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _run(url: str, home: Path, total: int, break_every: int) -> int:
    migrate.upgrade(url)
    settings = load_settings(
        {"VENDGW_DATABASE_URL": url, "VENDGW_HOME": str(home), "VENDGW_MASTER_KEY": "11" * 32}
    )
    runtime = Runtime(settings)
    with transaction(runtime.sessions) as session:
        vendor_id = add_vendor(
            session,
            client_id=CLIENT,
            name="Bench Bank",
            kind="bank",
            actor="bench",
            commission=CommissionRate(150),
        ).id
    report = home / f"{CLIENT}_202611.csv"
    runtime.engine.dispose()  # the forked child must not share the parent's connections
    clock = time.perf_counter()
    child = multiprocessing.get_context("fork").Process(
        target=generate, args=(url, report, total, break_every, vendor_id)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        print("generation failed", file=sys.stderr)
        return 2
    print(
        f"generated {total} report lines ({report.stat().st_size / 1e6:.0f} MB) and the "
        f"gateway's vends in {time.perf_counter() - clock:.1f} s"
    )

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome = reconcile(
        runtime,
        identify(report),
        actor="bench",
        now=datetime(2026, 12, 2, tzinfo=UTC),
        progress=False,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    clock = time.perf_counter()
    from reconciliation.outputs import write_outputs

    with runtime.sessions() as session:
        _, _, summary = write_outputs(
            session,
            settings,
            calendar_of(runtime),
            outcome.run_id,
            datetime(2026, 12, 2).date(),
            progress=False,
        )
    outputs_s = time.perf_counter() - clock

    expected = planted(total, break_every)
    with runtime.sessions() as session:
        found = set(
            session.execute(
                select(ReconBreak.category, ReconBreak.msg_id).where(
                    ReconBreak.last_run_id == outcome.run_id
                )
            ).all()
        )
        matched = session.scalar(
            select(ReconRunTotal.item_count).where(
                ReconRunTotal.run_id == outcome.run_id, ReconRunTotal.category == "MATCHED"
            )
        )
    runtime.close()
    t = outcome.timings
    print(summary)
    print(f"lines          {outcome.line_count}")
    print(f"import         {t['import']:.1f} s   (read, check, COPY into staging)")
    print(f"match          {t['match']:.1f} s   (pair, classify, totals)")
    print(f"record         {t['record']:.1f} s   (run, {outcome.break_count} breaks)")
    print(f"import+match   {t['import'] + t['match']:.1f} s   (target 60 s)")
    print(f"outputs        {outputs_s:.1f} s   (summary and breaks CSV)")
    print(
        f"peak memory    {peak / 1024:.0f} MB  (ru_maxrss; {before / 1024:.0f} MB before "
        "the run; target 500 MB)"
    )
    print(f"matched        {matched}")
    missed, extra = expected - found, found - expected
    print(
        f"planted breaks {len(expected)}, found {len(found)}, missed {len(missed)}, "
        f"unexpected {len(extra)}"
    )
    ok = not missed and not extra and t["import"] + t["match"] <= 60 and peak / 1024 <= 500
    for label, items in (("missed", missed), ("unexpected", extra)):
        for category, msg_id in sorted(items)[:3]:
            print(f"  {label}: {category} {msg_id}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
