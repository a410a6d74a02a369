"""The parts the fault-injection suite breaks: a private PostgreSQL cluster and gateway nodes.

The cluster is the suite's own (initdb in a temporary directory, on a free port, its socket in
that directory): the machine's PostgreSQL on 5432 is never stopped, restarted or frozen. We run as
root, and PostgreSQL refuses to run as root, so initdb, pg_ctl and the postmaster run as the
`postgres` user. Nodes are `vendgw serve` processes (gunicorn, sync workers) started in their own
session, so a node's whole process group can be killed by its id even when its master is gone.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pg_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian layout)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def children(pid: int) -> list[int]:
    """The direct children of `pid` (from /proc, so no ps output to parse)."""
    out: list[int] = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process exited while we looked
        if int(fields[1]) == pid:
            out.append(int(Path(stat).parent.name))
    return sorted(out)


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    out: list[int] = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(Path(stat).parent.name))
    return sorted(out)


class PgCluster:
    """A PostgreSQL cluster of the suite's own: initdb, start, restart, freeze, destroy."""

    def __init__(self) -> None:
        self.bin = pg_bin_dir()
        self.port = free_port()
        while self.port == 5432:  # never the machine's cluster, even by accident
            self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vendgw-chaos-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        # postgres must own its directory; a 0700 root-owned pytest tmp dir would not do.
        shutil.chown(self.dir, PG_USER, PG_USER)
        os.chmod(self.dir, 0o700)

    @property
    def server_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}"

    def _as_postgres(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", PG_USER, "--", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            cwd=self.dir,
        )

    def init(self) -> None:
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        # Loopback only, the socket in our directory (no clash with the machine's lock file),
        # and no fsync: these scenarios kill processes and stop PostgreSQL cleanly, never the OS.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                "full_page_writes = off\nmax_connections = 200\n"
                "shared_buffers = 64MB\n"
            )

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(timeout)),
            *args,
            timeout=timeout + 10,
        )

    def start(self) -> None:
        self.pg_ctl("start")

    def restart_fast(self) -> None:
        """What an operator's `pg_ctl restart -m fast` does: every session is cut."""
        self.pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP the postmaster and every backend; SIGCONT them all on the way out, whatever
        happened in between (a frozen database left behind would hang everything after)."""
        postmaster = self.postmaster_pid()
        stopped = [postmaster]
        os.kill(postmaster, signal.SIGSTOP)  # first, so it forks no backend we would miss
        try:
            for pid in children(postmaster):
                try:
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
                except ProcessLookupError:
                    pass
            yield
        finally:
            for pid in reversed(stopped):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    """One gateway node: `vendgw serve` (gunicorn master + sync workers) on a fixed port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, workers: int = 2) -> None:
        self.name = name
        self.port = free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            **env,
            "VENDGW_SERVER_SERVER_ID": name,
            "VENDGW_GUNICORN_ACCESSLOG": "-",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log_dir / f"node-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.pgid: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vendgw.cli",
                    "serve",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.process, self.pgid = process, process.pid
        return process

    def wait_healthy(self, timeout: float = 30.0) -> bool:
        """True once /healthz answers 200 and the master is still ours; False on exit or
        time-out (the log says why)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return self.process.poll() is None
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return False

    def start(self, timeout: float = 30.0) -> None:
        self.spawn()
        if not self.wait_healthy(timeout):
            tail = self.log_tail()
            self.kill_group()
            raise RuntimeError(f"node {self.name} did not come up:\n{tail}")

    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        return children(self.master_pid())

    def wait_workers(self, count: int, timeout: float = 20.0) -> list[int]:
        deadline = time.monotonic() + timeout
        pids = self.worker_pids()
        while len(pids) < count and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = self.worker_pids()
        return pids

    def kill_group(self) -> None:
        """SIGKILL every process of this node's session (master and any orphaned worker)."""
        if self.pgid is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        if self.process is not None:
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        """A graceful stop (SIGTERM to the master), then the whole group killed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill_group()

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            return requests.get(f"{self.base_url}/healthz", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
