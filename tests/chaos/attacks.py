"""Hostile clients, all on loopback and all bounded in count and time: slowloris connections that
drip a byte every couple of seconds, bodies shorter than their Content-Length, and a flood of
wrong secrets."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tests.chaos.client import Terminal, credit_vend, new_msg_id, post


@contextmanager
def slowloris(
    port: int,
    *,
    connections: int = 20,
    drip_every: float = 2.0,
    lying_length: int = 0,
    max_seconds: float = 60.0,
) -> Iterator[list[socket.socket]]:
    """`connections` clients without credentials that send a request line and then one header
    byte every `drip_every` seconds, and `lying_length` more that send full headers announcing a
    60000-byte body and drip that; all closed when the block ends (or after `max_seconds`)."""
    stop = threading.Event()
    socks: list[socket.socket] = []

    def open_one(head: bytes) -> socket.socket | None:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return None
        try:
            s.sendall(head)
        except OSError:
            s.close()
            return None
        return s

    for _ in range(connections):
        s = open_one(b"POST /vend HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        if s is not None:
            socks.append(s)
    for _ in range(lying_length):
        s = open_one(
            b"POST /vend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 60000\r\n\r\n<"
        )
        if s is not None:
            socks.append(s)

    def drip() -> None:
        deadline = time.monotonic() + max_seconds
        while not stop.wait(drip_every) and time.monotonic() < deadline:
            for s in list(socks):
                try:
                    s.sendall(b"X")
                except OSError:
                    socks.remove(s)  # the server let go of it: that is what should happen
                    s.close()

    dripper = threading.Thread(target=drip, name="slowloris", daemon=True)
    dripper.start()
    try:
        yield socks
    finally:
        stop.set()
        dripper.join(timeout=drip_every + 5)
        for s in socks:
            s.close()


@contextmanager
def bad_logins(
    base_url: str,
    targets: Sequence[tuple[Terminal, str]],
    *,
    threads: int = 4,
    max_requests: int = 2000,
    max_seconds: float = 60.0,
) -> Iterator[list[int]]:
    """Threads sending CreditVends with wrong secrets, each (terminal, source address) of
    `targets` in turn, until the block ends; yields the HTTP statuses they got."""
    stop = threading.Event()
    statuses: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def attacker(index: int) -> None:
        rng = random.Random(index)
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if len(statuses) >= max_requests:
                    return
            terminal, source = targets[rng.randrange(len(targets))]
            body = credit_vend(terminal, new_msg_id(), "01234567897", "10.00")
            answer = post(
                base_url,
                "attacker",
                body,
                terminal.authorization(f"wrong-{rng.randrange(10**9)}"),
                timeout=10,
                source=source,
            )
            with lock:
                statuses.append(answer.status or 0)

    workers = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    try:
        yield statuses
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=15)
