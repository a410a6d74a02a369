"""Does one gateway node keep vending while slow clients attack it (issue 12, defect 4)?

The real server (`vendgw serve`) on PostgreSQL with the demo data and bench meters (as
bench/soap_load.py builds them) serves CreditVend to --clients client processes in three phases
of --seconds each, in one run:

    baseline   no attack (once first, once again last: the machine's drift)
    attack N   N connections that each drip one header byte every 3 s, without credentials,
               plus --liars requests that declare Content-Length 60000, send 10 bytes and wait;
               every attacking connection the server closes is opened again at once, so the
               attack lasts the whole phase
    (N = each --drips value)

and prints CreditVend req/s, p50/p99 and errors per phase, and how many attacking connections
the server closed. On the old configuration (gunicorn sync workers facing clients) 20 drips
denied every request.

Usage: .venv/bin/python bench/slowloris.py [--seconds 10] [--clients 4] [--workers 4]
                                           [--drips 20 200] [--liars 3]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import soap_load  # noqa: E402  # the same setup, server start and clients as the load bench

MAX_SECONDS = 60
DRIP_INTERVAL = 3.0
LIE = (
    b"POST /vend HTTP/1.1\r\nHost: vendgw\r\nContent-Type: text/xml\r\n"
    b"Content-Length: 60000\r\n\r\n0123456789"
)


class Attack:
    """`drips` header-dripping connections and `liars` lying-Content-Length requests, reopened
    whenever the server closes one."""

    def __init__(self, port: int, drips: int, liars: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.closed_by_server = 0
        self.drips = [self._open(b"P") for _ in range(drips)]
        self.liars = [self._open(LIE) for _ in range(liars)]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self, first: bytes) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(first)
        sock.setblocking(False)
        return sock

    def _gone(self, sock: socket.socket) -> bool:
        try:
            sock.recv(4096)  # EOF, or the 408 that comes before it
        except BlockingIOError:
            return False
        except OSError:
            pass
        return True

    def _run(self) -> None:
        while not self.stop.wait(DRIP_INTERVAL):
            for group, first in ((self.drips, b"P"), (self.liars, LIE)):
                for i, sock in enumerate(group):
                    gone = self._gone(sock)
                    if not gone and group is self.drips:
                        try:
                            sock.send(b"O")
                        except OSError:
                            gone = True
                    if gone:
                        self.closed_by_server += 1
                        sock.close()
                        with contextlib.suppress(OSError):
                            group[i] = self._open(first)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for sock in self.drips + self.liars:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--drips", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--liars", type=int, default=3)
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), MAX_SECONDS)

    name = f"vendgw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{soap_load.SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{soap_load.SERVER}/{name}"
    home = Path(tempfile.mkdtemp(prefix="vendgw-slowloris-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        meters = soap_load.meter_numbers(args.meters)
        soap_load.setup(url, home, meters, args.clients)
        process, base = soap_load.start_server(url, home, args.workers)
        port = int(base.rsplit(":", 1)[1])
        print(
            f"PostgreSQL, {args.workers} gunicorn workers (vendgw.serving), {args.clients} "
            f"CreditVend client processes, {seconds:.0f} s per phase, {os.cpu_count()} CPUs "
            f"shared by clients, server and database"
        )
        with mp.get_context("spawn").Pool(args.clients) as pool:
            pool.map(time.sleep, [0.2] * args.clients)
            soap_load.run_round(pool, base, "CreditVend", args.clients, meters, args.warmup)
            # A second baseline at the end shows how much the shared machine drifted meanwhile.
            phases = (
                [("baseline", 0)]
                + [(f"attack {n}", n) for n in args.drips]
                + [("baseline again", 0)]
            )
            for label, drips in phases:
                attack = Attack(port, drips, args.liars) if drips else None
                try:
                    if attack:
                        time.sleep(1.0)  # every attacking connection open and started
                    phase = soap_load.Phase()
                    phase.add(
                        seconds,
                        soap_load.run_round(
                            pool, base, "CreditVend", args.clients, meters, seconds
                        ),
                    )
                finally:
                    if attack:
                        attack.close()
                soap_load.report(label, phase)
                if attack:
                    print(
                        f"   ({drips} drips + {args.liars} liars; attacking connections "
                        f"closed by the server and reopened: {attack.closed_by_server})"
                    )
    finally:
        soap_load.tear_down(process, admin, name, home)


if __name__ == "__main__":
    main()
