"""/healthz and requests through the real server (`vendgw serve`, gunicorn) when the database does
not answer: a load balancer gets its 503 in time, and a bank gets a retryable fault rather than
a connection cut by gunicorn's worker timeout.

A listening socket that never replies stands in for a frozen PostgreSQL at the TCP level (the
chaos suite freezes a real cluster with SIGSTOP).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import TEST_MASTER_KEY
from tests.e2e.conftest import ROOT, START_TIMEOUT, Server, free_port, stop_server
from tests.support.soap import ATM, METER, credit_vend_xml, envelope, fault_of

HANG_GUARD = 5.0  # /healthz must answer well before this; the bound only stops a hang


@pytest.fixture(scope="module")
def silent_database() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture(scope="module")
def server_on_silent_database(
    silent_database: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`vendgw serve` whose VENDGW_DATABASE_URL points at the silent port; ready once its
    /healthz answers at all (it cannot answer 200)."""
    home = tmp_path_factory.mktemp("silent-db")
    port = free_port()
    env = {
        **os.environ,
        "VENDGW_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{silent_database}/vendgw",
        "VENDGW_MASTER_KEY": TEST_MASTER_KEY,
        "VENDGW_HOME": str(home),
        "VENDGW_GUNICORN_ACCESSLOG": "-",
        "PYTHONUNBUFFERED": "1",
    }
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vendgw.cli",
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, server.log_text()[-4000:]
            try:
                requests.get(f"{server.base_url}/healthz", timeout=HANG_GUARD)
                break
            # Not up yet: no listener, or a worker still booting and building the application on
            # this first request (seconds on a loaded machine). The tests below hold every later
            # answer to HANG_GUARD.
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, server.log_text()[-4000:]
                time.sleep(0.1)
        yield server
    finally:
        stop_server(server)


def test_healthz_answers_503_in_time_when_the_database_never_answers(
    server_on_silent_database: Server,
) -> None:
    for _ in range(3):  # each check on its own connection: none is left stuck for the next
        response = requests.get(f"{server_on_silent_database.base_url}/healthz", timeout=HANG_GUARD)
        assert response.status_code == 503
        assert response.json() == {"status": "fail", "database": "unreachable"}


def test_a_vend_against_a_silent_database_gets_a_retryable_fault_not_a_cut_connection(
    server_on_silent_database: Server,
) -> None:
    """Authentication needs the database first; connect_timeout (3 s) ends the wait well inside
    gunicorn's 30 s worker timeout, and the client is told to retry its msgID."""
    response = requests.post(
        f"{server_on_silent_database.base_url}/vend",
        data=envelope(credit_vend_xml(ATM, METER, "50.00")),
        auth=ATM.auth,
        headers={"Content-Type": "text/xml"},
        timeout=20,
    )
    fault = fault_of(response)
    assert response.status_code == 500
    assert (fault["faultcode"], fault["faultType"], fault["code"]) == (
        "Server",
        "SystemEx",
        "database-unavailable",
    )
    assert "retry with the same msgID" in fault["faultstring"]
    log = server_on_silent_database.log_text()
    assert "Traceback" not in log
    assert "code=database-unavailable" in log


def test_healthz_answers_200_against_the_real_database(base_url: str) -> None:
    response = requests.get(f"{base_url}/healthz", timeout=HANG_GUARD)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
