"""Workers die with their master (issue 12, defect 9): after `kill -9` of the gunicorn master,
no worker keeps serving unsupervised, and the port is free for the restart within seconds.

Before, the workers went on accepting connections on the inherited socket, so the restart
that systemd (or an operator) attempted failed with "address already in use".
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import TestDatabase
from tests.e2e.conftest import start_server, stop_server

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: it only waits to be reaped
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def can_bind(port: int) -> bool:
    """What the restarted gunicorn does with the port: bind (SO_REUSEADDR) and listen."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def test_kill_9_of_the_master_frees_the_port(e2e_db: TestDatabase, tmp_path: Path) -> None:
    server = start_server(e2e_db, tmp_path)
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        master = server.process.pid
        workers = children_of(master)
        assert len(workers) == 2, workers
        assert requests.get(f"{server.base_url}/healthz", timeout=10).status_code == 200

        os.kill(master, signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not can_bind(port):
            time.sleep(0.1)
        assert can_bind(port), "the port is still held after the master died"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert [pid for pid in workers if alive(pid)] == []
    finally:
        stop_server(server)
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group
            os.killpg(server.process.pid, signal.SIGKILL)
