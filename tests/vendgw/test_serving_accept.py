"""A worker whose threads are all taken accepts no new connection: it leaves it in the listening
socket's queue for a free worker (vendgw.serving, Worker.pause_accepting). The real gunicorn with
vendgw.serving.Worker, two workers of one thread each, serving tests/vendgw/holding_app.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, free_port

WORKERS = 2


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    gate = tmp_path / "gate"
    gate.mkdir()
    config = tmp_path / "gunicorn.conf.py"
    port = free_port()
    config.write_text(
        f'bind = "127.0.0.1:{port}"\n'
        f"workers = {WORKERS}\n"
        "threads = 1\n"
        'worker_class = "vendgw.serving.Worker"\n'
        'asgi_loop = "asyncio"\n'
        'asgi_lifespan = "off"\n'
        "control_socket_disable = True\n"
    )
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(config),
            "tests.vendgw.holding_app:application",
        ],
        cwd=ROOT,
        env={"HOLDING_APP_GATE": str(gate), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while len(seen) < WORKERS:  # both workers serving
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "the workers did not both answer"
            try:
                seen.add(requests.get(f"{base}/", timeout=5).text)
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base, gate
    finally:
        (gate / "release").touch()
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_a_worker_with_every_thread_taken_leaves_new_connections_to_the_others(
    node: tuple[str, Path],
) -> None:
    base, gate = node
    held: list[str] = []
    holder = threading.Thread(
        target=lambda: held.append(requests.get(f"{base}/hold", timeout=90).text)
    )
    holder.start()
    deadline = time.monotonic() + 30
    while not list(gate.glob("held-*")):
        assert time.monotonic() < deadline, "the /hold request never reached a thread"
        time.sleep(0.01)
    busy = next(iter(gate.glob("held-*"))).name.removeprefix("held-")
    # Each on a new connection, one after another: had the busy worker accepted one, it would
    # wait for the held thread (released only at the end) and time out here.
    served = [
        requests.get(f"{base}/", headers={"Connection": "close"}, timeout=10).text
        for _ in range(20)
    ]
    assert busy not in served
    assert len(set(served)) == 1
    (gate / "release").touch()
    holder.join(timeout=30)
    assert held == [busy]
    # Free again, the worker accepts again: both serve.
    answers: set[str] = set()
    deadline = time.monotonic() + 30
    while len(answers) < WORKERS and time.monotonic() < deadline:
        answers.add(requests.get(f"{base}/", headers={"Connection": "close"}, timeout=10).text)
    assert busy in answers
