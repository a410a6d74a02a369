"""Scratch-card vouchers end to end: the operator's commands (`vendgw voucher ...`, `vendgw
float verify`, `vendgw report vouchers`) as subprocesses, and redemption over HTTP by a USSD
platform's terminal against two real gunicorn nodes on one database, as a load balancer would
spread it: the life of a batch, one PIN sent to both nodes at the same instant redeems once, the
guessing limit holds across workers and nodes (guesses sent one by one and all at once), an
expired voucher is refused, shown and reported, and no PIN reaches the logs or the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import zeep
from pyrage import x25519
from sqlalchemy import func, select, update

from core.db import transaction
from gateway.vend import meters
from gateway.vend.models import VendTransaction
from gateway.vouchers import pins
from gateway.vouchers.models import Voucher, VoucherAttempt, VoucherBatch
from sts import MeterSimulator
from tests.conftest import TestDatabase
from tests.e2e.conftest import ROOT, Server, start_server, stop_server
from tests.support.soap import Terminal, header, new_msg_id, zeep_client, zeep_fault_detail
from tests.support.vendor_accounts import client_id
from tests.support.vouchers import (
    PLATFORM_N,
    PLATFORM_SECRET,
    PLATFORM_TERMINAL,
    Parties,
    database_text,
    liability,
    pin_traces,
    read_print_file,
    seed_parties,
)
from vendor_accounts import floats
from vendor_accounts.vendors import add_terminal

pytestmark = pytest.mark.e2e

METER = "01234567897"
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def parties(e2e_db: TestDatabase) -> Parties:
    return seed_parties(e2e_db)


@pytest.fixture(scope="module")
def nodes(
    e2e_db: TestDatabase, parties: Parties, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("voucher-nodes")
    first = start_server(e2e_db, logs)
    try:
        second = start_server(e2e_db, logs)
        try:
            yield first, second
        finally:
            stop_server(second)
    finally:
        stop_server(first)


def platform_terminal(code: str = PLATFORM_TERMINAL, secret: str = PLATFORM_SECRET) -> Terminal:
    return Terminal(client_id(PLATFORM_N), code, secret)


def vendgw(db: TestDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vendgw.cli", *args],
        cwd=ROOT,
        env={**os.environ, **db.env(), "VENDGW_OPERATOR": "e2e-operator"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def books_verify(db: TestDatabase, *, everything: bool = False) -> None:
    """`vendgw float verify` after every step; `vendgw verify` (every invariant, the vouchers'
    tie to the ledger included) when asked."""
    ok(vendgw(db, "float", "verify"))
    if everything:
        assert "ok    vouchers" in ok(vendgw(db, "verify"))


def new_stock(db: TestDatabase, parties: Parties, count: int, tmp: Path) -> tuple[int, list[str]]:
    """`batch create` + `batch export` + `activate`, as an operator runs them: the batch id
    and the PINs read back from the print file."""
    done = ok(
        vendgw(
            db,
            "voucher",
            "batch",
            "create",
            "--vendor",
            parties.scratch_client_id,
            "--denomination",
            "20.00",
            "--count",
            str(count),
            "--expires",
            (TODAY + timedelta(days=60)).isoformat(),
            "--json",
        )
    )
    created = json.loads(done)
    printer = x25519.Identity.generate()
    out = tmp / f"batch-{created['batch_id']}.age"
    ok(
        vendgw(
            db,
            "voucher",
            "batch",
            "export",
            str(created["batch_id"]),
            "--recipient",
            str(printer.to_public()),
            "--out",
            str(out),
        )
    )
    lines = read_print_file(out.read_bytes(), printer)
    ok(vendgw(db, "voucher", "activate", "--batch", str(created["batch_id"])))
    return int(created["batch_id"]), [line["pin"] for line in lines]


def redeem(client: zeep.Client, terminal: Terminal, pin: str, **kw: Any) -> Any:
    return client.service.VoucherVend(
        **header(terminal, kw.get("msg_id")), pin=pin, meterNumber=kw.get("meter", METER)
    )


def fault(call: Any) -> dict[str, str]:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call()
    return zeep_fault_detail(caught.value)


def test_the_life_of_a_batch_over_http(
    nodes: tuple[Server, Server], e2e_db: TestDatabase, parties: Parties, tmp_path: Path
) -> None:
    db = e2e_db
    before = liability(db)
    # The plain form of `batch create`: the batch id alone on the first line, then the range.
    plain = ok(
        vendgw(
            db,
            "voucher",
            "batch",
            "create",
            "--vendor",
            parties.scratch_client_id,
            "--denomination",
            "5.00",
            "--count",
            "2",
        )
    ).splitlines()
    assert plain[0].isdigit() and len(plain) == 2
    assert plain[1].count("-") == 1 and all(p.isdigit() for p in plain[1].split("-"))
    books_verify(db)

    batch_id, drawn = new_stock(db, parties, 3, tmp_path)
    assert liability(db) == before + 6000
    books_verify(db)
    again = vendgw(
        db,
        "voucher",
        "batch",
        "export",
        str(batch_id),
        "--recipient",
        str(x25519.Identity.generate().to_public()),
        "--out",
        str(tmp_path / "again.age"),
    )
    assert again.returncode == 1 and "already-exported" in again.stderr

    terminal = platform_terminal()
    client = zeep_client(nodes[0].base_url, terminal)
    with db.sessions() as session:
        keys = meters.current_keys(meters.find_meter(session, METER))
        platform_before = floats.balance(session, parties.platform_vendor_id).available_cents
    meter = MeterSimulator.for_meter(
        db.runtime.security_module.decoder_key(keys.wrapped_key, keys.key_id, keys.key_data),
        keys.key_data,
    )

    msg_id = new_msg_id()
    receipt = redeem(client, terminal, drawn[0], msg_id=msg_id)
    assert str(receipt.tenderAmount) == "20.00"
    # Earlier vends of this module may have run on the meter: only this receipt's tokens are
    # typed in here, and it must credit exactly its units.
    start = meter.credit_tenths()
    for tx in receipt.transactions:
        for token in tx.tokens:
            assert not meter.accept(token).rejected
    assert meter.credit_tenths() - start == int(receipt.units * 10)
    assert int(receipt.availCredit * 100) == platform_before
    assert liability(db) == before + 4000
    books_verify(db)

    # The retry (the same msgID, to the other node) replays it.
    replay = redeem(zeep_client(nodes[1].base_url, terminal), terminal, drawn[0], msg_id=msg_id)
    assert replay.receiptNo == receipt.receiptNo

    used = fault(lambda: redeem(client, terminal, drawn[0], meter="04000000051"))
    assert used["faultType"] == "VoucherUsedEx" and used["code"] == "voucher-used"
    assert "04000000051" not in used["desc"] and METER not in used["desc"]

    with db.sessions() as session:
        serials = list(
            session.scalars(
                select(Voucher.serial).where(Voucher.batch_id == batch_id).order_by(Voucher.serial)
            )
        )
    shown = ok(vendgw(db, "voucher", "show", pins.format_serial(serials[0])))
    assert "redeemed" in shown and "receipt" in shown
    ok(
        vendgw(
            db,
            "voucher",
            "void",
            "--serials",
            f"{pins.format_serial(serials[1])}-{pins.format_serial(serials[2])}",
            "--reason",
            "lost in transit",
        )
    )
    assert liability(db) == before
    voided = fault(lambda: redeem(client, terminal, drawn[1]))
    assert voided["faultType"] == "VoucherInvalidEx" and voided["code"] == "voucher-voided"
    books_verify(db, everything=True)
    listing = ok(vendgw(db, "voucher", "batches"))
    assert any(line.split()[0] == str(batch_id) for line in listing.splitlines()[1:])
    report = ok(vendgw(db, "report", "vouchers", "--month", TODAY.strftime("%Y-%m")))
    assert report.splitlines()[-1].endswith(",yes")

    # No PIN anywhere: not in either node's log, not in any table.
    logs = nodes[0].log_text() + nodes[1].log_text()
    assert "/vend" in logs  # the nodes' real logs, access lines included
    assert pin_traces(logs, drawn) == []
    assert pin_traces(database_text(db), drawn) == []


def test_one_pin_sent_to_two_nodes_at_once_redeems_once(
    nodes: tuple[Server, Server], e2e_db: TestDatabase, parties: Parties, tmp_path: Path
) -> None:
    _, drawn = new_stock(e2e_db, parties, 1, tmp_path)
    (pin,) = drawn
    terminal = platform_terminal()
    clients = [zeep_client(node.base_url, terminal) for node in nodes]
    before = liability(e2e_db)
    # Domestic meters a 20.00 voucher buys energy for: on the commercial demo meter (04000000044)
    # the fixed charge takes it all (VendAmountEx), which a request that locks the voucher first
    # would answer instead of VoucherUsedEx.
    meters_ = [METER, "04000000051", "04000000028", "04000000036"] * 2

    def send(i: int) -> tuple[str, Any]:
        try:
            return "ok", redeem(clients[i % 2], terminal, pin, meter=meters_[i])
        except zeep.exceptions.Fault as refused:
            return "fault", zeep_fault_detail(refused)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))
    won = [a for kind, a in answers if kind == "ok"]
    lost = [a for kind, a in answers if kind == "fault"]
    assert len(won) == 1, answers
    assert {f["faultType"] for f in lost} == {"VoucherUsedEx"}
    assert liability(e2e_db) == before - 2000
    with e2e_db.sessions() as session:
        redeemed = session.scalar(
            select(func.count())
            .select_from(VendTransaction)
            .where(VendTransaction.receipt_no == won[0].receiptNo)
        )
        assert redeemed == 1
    books_verify(e2e_db, everything=True)


def test_the_guessing_limit_holds_across_workers_and_nodes(
    nodes: tuple[Server, Server], e2e_db: TestDatabase, parties: Parties, tmp_path: Path
) -> None:
    _, drawn = new_stock(e2e_db, parties, 1, tmp_path)
    guesser = platform_terminal("USSD-GUESS", "ussd-guessing-secret-2")
    with transaction(e2e_db.sessions) as session:
        add_terminal(
            session,
            client_id=guesser.client_id,
            terminal_code=guesser.terminal_id,
            actor="test",
            secret=guesser.secret,
            privileges=("redeem",),
            verifier_key=e2e_db.runtime.verifier_key,
        )
    # Fresh connections each time, so gunicorn spreads them over both workers of both nodes.
    guesses = [pins.new_pin() for _ in range(5)]
    for i, guess in enumerate(guesses):
        client = zeep_client(nodes[i % 2].base_url, guesser)
        assert fault(partial(redeem, client, guesser, guess))["code"] == "voucher-unknown"
    for node in nodes:  # now every worker of every node refuses it, even a good PIN
        refused = fault(partial(redeem, zeep_client(node.base_url, guesser), guesser, drawn[0]))
        assert refused["faultType"] == "RequestAuthorisationEx"
        assert refused["code"] == "voucher-attempts-exceeded"
    with e2e_db.sessions() as session:
        counted = session.scalar(
            select(func.count())
            .select_from(VoucherAttempt)
            .where(VoucherAttempt.terminal_id == guesser.terminal_id)
        )
    assert counted == 5
    # The other terminal of the same platform is not locked out.
    other = platform_terminal()
    receipt = redeem(zeep_client(nodes[0].base_url, other), other, drawn[0])
    assert str(receipt.tenderAmount) == "20.00"
    assert pin_traces(database_text(e2e_db), [*guesses, *drawn]) == []


def test_guesses_sent_at_the_same_instant_to_two_nodes_stop_at_five(
    nodes: tuple[Server, Server], e2e_db: TestDatabase, parties: Parties
) -> None:
    # A guessing script fires twelve wrong PINs at once through the load balancer: the screen
    # judges them one after another under the terminal's lock, whichever worker of whichever
    # node each reaches, so exactly five are judged and counted.
    guesser = platform_terminal("USSD-BURST", "ussd-burst-secret-3")
    with transaction(e2e_db.sessions) as session:
        add_terminal(
            session,
            client_id=guesser.client_id,
            terminal_code=guesser.terminal_id,
            actor="test",
            secret=guesser.secret,
            privileges=("redeem",),
            verifier_key=e2e_db.runtime.verifier_key,
        )
    senders = 12
    clients = [zeep_client(nodes[i % 2].base_url, guesser) for i in range(senders)]
    for client in clients:  # each client's WSDL is read before the burst starts
        assert client.service.VoucherVend is not None
    start = threading.Barrier(senders)

    def guess(client: zeep.Client) -> str:
        start.wait()
        return fault(partial(redeem, client, guesser, pins.new_pin()))["code"]

    with ThreadPoolExecutor(senders) as pool:
        outcomes = Counter(pool.map(guess, clients))
    assert outcomes == {"voucher-unknown": 5, "voucher-attempts-exceeded": 7}
    with e2e_db.sessions() as session:
        counted = session.scalar(
            select(func.count())
            .select_from(VoucherAttempt)
            .where(VoucherAttempt.terminal_id == guesser.terminal_id)
        )
    assert counted == 5


def test_an_expired_voucher_is_refused_shown_and_reported_over_http(
    nodes: tuple[Server, Server], e2e_db: TestDatabase, parties: Parties, tmp_path: Path
) -> None:
    batch_id, drawn = new_stock(e2e_db, parties, 2, tmp_path)
    # The batch's expiry date has passed (a batch made months ago): the nodes run on the real
    # clock, so the test moves the date the operator set, not the clock.
    expired_on = TODAY - timedelta(days=2)
    with transaction(e2e_db.sessions) as session:
        session.execute(
            update(VoucherBatch).where(VoucherBatch.id == batch_id).values(expires_on=expired_on)
        )
        serials = list(
            session.scalars(
                select(Voucher.serial).where(Voucher.batch_id == batch_id).order_by(Voucher.serial)
            )
        )
    terminal = platform_terminal()
    before = liability(e2e_db)
    for node, pin in zip(nodes, drawn, strict=True):
        refused = fault(partial(redeem, zeep_client(node.base_url, terminal), terminal, pin))
        assert refused["faultType"] == "VoucherInvalidEx"
        assert refused["code"] == "voucher-expired"
        assert expired_on.isoformat() in refused["desc"]
    # Nothing moved: the value stays owed (until written off), the float and books unchanged.
    assert liability(e2e_db) == before
    with e2e_db.sessions() as session:
        states = set(session.scalars(select(Voucher.status).where(Voucher.batch_id == batch_id)))
        counted = session.scalars(
            select(VoucherAttempt.serial).where(VoucherAttempt.reason == "voucher-expired")
        ).all()
    assert states == {"active"}
    assert sorted(counted) == serials  # each refusal audited with its serial, never the PIN
    books_verify(e2e_db, everything=True)
    shown = ok(vendgw(e2e_db, "voucher", "show", pins.format_serial(serials[0])))
    assert "expired" in shown
    # This month's report (the batch was made in it) still owes them: an expired voucher's
    # value is outstanding until written off, and the report ties to the ledger. (Which month
    # counts it as expired is tested in process, where the clock can move: test_vouchers.py.)
    month = ok(vendgw(e2e_db, "report", "vouchers", "--month", TODAY.strftime("%Y-%m")))
    (row,) = [
        line.split(",") for line in month.splitlines() if line.startswith(f"batch,{batch_id},")
    ]
    heads = month.splitlines()[0].split(",")
    assert row[heads.index("outstanding_count")] == "2"
    assert row[heads.index("outstanding_value")] == "40.00"
    assert month.splitlines()[-1].endswith(",yes")
