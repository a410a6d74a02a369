"""Scratch-card vouchers redeemed while gateway workers are killed.

A USSD platform redeems a batch of vouchers, each PIN sent by two of its sessions at the same
instant with msgIDs of their own (a customer who pressed twice), to the two nodes, while a
the first node's workers are killed twice; every msgID is retried to an answer. Afterwards each
voucher is redeemed once, by exactly one of its two requests (the other told VoucherUsedEx),
every redemption a platform was told about is stored with its tokens, and the books hold: the
voucher liability is what the unredeemed vouchers are worth (`vendgw verify`), with every
invariant of the suite."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyrage
from pyrage import x25519
from sqlalchemy import text

from tests.chaos.client import ATM, POS, Terminal, run_together
from tests.chaos.conftest import LOAD_METERS, Chaos, report, vendgw

VOUCHERS = 150
FACE = "20.00"


def _stock(system: Chaos, tmp: Path) -> tuple[int, list[str]]:
    """A batch of the shop's (it buys the stock), exported and activated: its id and PINs."""
    created = json.loads(
        vendgw(
            system.env,
            *("voucher", "batch", "create", "--vendor", POS.client_id),
            *("--denomination", FACE, "--count", str(VOUCHERS), "--json"),
        )
    )
    printer = x25519.Identity.generate()
    out = tmp / "chaos-batch.age"
    vendgw(
        system.env,
        *("voucher", "batch", "export", str(created["batch_id"])),
        *("--recipient", str(printer.to_public()), "--out", str(out)),
    )
    plain = pyrage.decrypt(out.read_bytes(), [printer]).decode("ascii")
    pins = [line["pin"] for line in csv.DictReader(io.StringIO(plain))]
    vendgw(system.env, "voucher", "activate", "--batch", str(created["batch_id"]))
    return int(created["batch_id"]), pins


def _platform(system: Chaos) -> Terminal:
    """A terminal of the bank's that may redeem (the platform taking the USSD sessions)."""
    added = vendgw(
        system.env,
        *("terminal", "add", "--vendor", ATM.client_id, "--terminal", "USSD-CHAOS"),
        *("--privilege", "redeem", "--actor", "chaos"),
    )
    (shown,) = [line for line in added.splitlines() if line.startswith("secret for ")]
    secret = shown.rsplit(": ", 1)[1]
    return Terminal(ATM.client_id, "USSD-CHAOS", secret)


def test_vouchers_redeemed_once_while_workers_are_killed(system: Chaos, tmp_path: Path) -> None:
    batch_id, pins = _stock(system, tmp_path)
    platform = _platform(system)
    node = system.nodes[0]
    problems: list[str] = []

    def both(i: int) -> list[Any]:
        pin, meter = pins[i], LOAD_METERS[i % len(LOAD_METERS)]
        return run_together(
            lambda: system.bank.redeem(platform, meter, pin, first_node=0),
            lambda: system.bank.redeem(platform, meter, pin, first_node=1),
        )

    # Three customers at a time, each pressing twice; node a's workers die mid-load, twice.
    with ThreadPoolExecutor(max_workers=3) as pool:
        running = pool.map(both, range(len(pins)))
        for _ in range(2):
            time.sleep(0.7)
            for worker in node.wait_workers(node.workers):
                os.kill(worker, signal.SIGKILL)
        pairs = list(running)
    retried = sum(
        1 for pair in pairs for e in pair if not isinstance(e, Exception) and len(e.attempts) > 1
    )

    for pin_index, pair in enumerate(pairs):
        crashed = [r for r in pair if isinstance(r, Exception)]
        if crashed:
            problems.append(f"voucher {pin_index}: the client crashed: {crashed[0]!r}")
            continue
        answers = [e.answer for e in pair]
        if any(a is None for a in answers):
            problems.append(f"voucher {pin_index}: a request never got an answer: {answers}")
            continue
        won = [e for e in pair if e.acknowledged]
        lost = [e.answer for e in pair if not e.acknowledged]
        if len(won) != 1 or [a.faultcode for a in lost if a] != ["Client.VoucherUsedEx"]:
            problems.append(
                f"voucher {pin_index}: expected one redemption and one VoucherUsedEx, got "
                f"{[str(a) for a in answers]}"
            )
    with system.engine.connect() as conn:
        redeemed = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT v.redemption_transaction_id), "
                "count(t.id) FROM voucher v LEFT JOIN vend_transaction t "
                "ON t.id = v.redemption_transaction_id AND t.kind = 'voucher' "
                "WHERE v.batch_id = :b AND v.status = 'redeemed'"
            ),
            {"b": batch_id},
        ).one()
        stored = conn.execute(
            text(
                "SELECT count(*) FROM vend_transaction WHERE kind = 'voucher' "
                "AND terminal_id = 'USSD-CHAOS'"
            )
        ).scalar_one()
    print(
        f"\n  vouchers: {len(pins)} PINs, each sent twice at once, node a's workers killed "
        f"twice, "
        f"{retried} requests retried; "
        f"redeemed {redeemed[0]}, redemption vends stored {stored}"
    )
    if tuple(redeemed) != (VOUCHERS, VOUCHERS, VOUCHERS) or stored != VOUCHERS:
        problems.append(
            f"expected all {VOUCHERS} vouchers redeemed once, each with its own vend: "
            f"(redeemed, distinct redemptions, with a vend) = {tuple(redeemed)}, "
            f"voucher vends stored {stored}"
        )
    report(problems, system)
