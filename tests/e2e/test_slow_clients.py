"""Slow clients cannot take the gateway offline (issue 12, defect 4): while 20 connections drip
their headers a byte at a time and two requests declare a body they never send, authenticated
vends are still served, and the server itself closes every one of the attacking connections.

On the old configuration (gunicorn sync workers facing clients) the drips took both workers
and every vend timed out.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import TestDatabase
from tests.e2e.conftest import Server, start_server, stop_server
from tests.support.soap import ATM, METER, credit_vend_xml, envelope

pytestmark = pytest.mark.e2e

DRIPS = 20
LIARS = 2
XML = {"Content-Type": "text/xml; charset=utf-8"}
# Short deadlines, so that the test sees the server close the attackers soon.
DEADLINES = {"VENDGW_GUNICORN_HEADER_TIMEOUT": "4", "VENDGW_GUNICORN_BODY_TIMEOUT": "4"}


@pytest.fixture(scope="module")
def slow_server(e2e_db: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(e2e_db, tmp_path_factory.mktemp("slow-log"), extra_env=DEADLINES)
    try:
        yield running
    finally:
        stop_server(running)


class Attack:
    """Connections that drip one header byte a second, and requests with a lying
    Content-Length (60000 declared, 10 sent): no credentials anywhere."""

    def __init__(self, port: int) -> None:
        self.drips = [
            socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(DRIPS)
        ]
        for sock in self.drips:
            sock.sendall(b"P")
        self.liars = []
        for _ in range(LIARS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(
                b"POST /vend HTTP/1.1\r\nHost: vendgw\r\nContent-Type: text/xml\r\n"
                b"Content-Length: 60000\r\n\r\n0123456789"
            )
            self.liars.append(sock)
        self.stop = threading.Event()
        self.dripper = threading.Thread(target=self._drip, daemon=True)
        self.dripper.start()

    def _drip(self) -> None:
        header = b"OST /vend HTTP/1.1\r\nX-Slow: " + b"a" * 1000
        sent = 0
        while not self.stop.wait(1.0):
            for sock in self.drips:
                with contextlib.suppress(OSError):  # closed by the server: what we want
                    sock.sendall(header[sent % len(header) :][:1])
            sent += 1

    def close(self) -> None:
        self.stop.set()
        self.dripper.join(timeout=5)
        for sock in self.drips + self.liars:
            sock.close()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes `sock` (EOF, perhaps after a 408) within `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            return False
        except OSError:
            return True  # reset by the server
    return False


def vend(base_url: str) -> requests.Response:
    return requests.post(
        f"{base_url}/vend",
        data=envelope(credit_vend_xml(ATM, METER, "5.00")),
        headers=XML,
        auth=ATM.auth,
        timeout=30,
    )


def test_vends_are_served_while_slow_clients_hold_connections(slow_server: Server) -> None:
    port = int(slow_server.base_url.rsplit(":", 1)[1])
    vend(slow_server.base_url).raise_for_status()  # each terminal's first login is the slow one
    attack = Attack(port)
    try:
        time.sleep(1.5)  # every attacking connection is open and has started its request
        for _ in range(5):
            response = vend(slow_server.base_url)
            assert response.status_code == 200, response.content[:300]
            assert b"receiptNo>" in response.content
            time.sleep(0.3)
        # the server, not the attacker, ends every attacking connection
        still_open = [
            n
            for n, sock in enumerate(attack.drips + attack.liars)
            if not closed_by_server(sock, within=30)
        ]
        assert still_open == []
    finally:
        attack.close()
    log = slow_server.log_text()
    assert "no complete request headers" in log
    assert "request body not complete" in log


def test_a_lying_content_length_gets_408(slow_server: Server) -> None:
    port = int(slow_server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /vend HTTP/1.1\r\nHost: vendgw\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 600\r\n\r\n<soapenv:Envelope"
        )
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"Traceback" not in answer


def test_the_server_log_has_no_traceback(slow_server: Server) -> None:
    vend(slow_server.base_url).raise_for_status()
    assert "Traceback" not in slow_server.log_text()
