"""End-to-end fixtures: the real server (`vendgw serve`: gunicorn, 2 of vendgw.serving's asyncio
workers, each running requests in a small thread pool) on a seeded demo database, called over
loopback the way a bank calls it.

Starting gunicorn takes about a second, so servers live per test module (per backend), not per
test. The lead's `demo_db` fixture is function-scoped and so cannot feed a module-scoped server;
`e2e_db` builds the same thing (a TestDatabase with `.env()`) once per module and backend: a copy
of the migrated SQLite template, or a fresh PostgreSQL database migrated with `alembic upgrade`,
seeded with the demo utility, dropped afterwards. Tests share the module's database, so each uses
fresh msgIDs (support.new_msg_id) and never assumes an empty table.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from core.db import make_engine, make_session_factory, transaction
from core.runtime import Runtime
from tests.conftest import BACKENDS, PG_SERVER, TestDatabase, settings_for
from vendgw import demo, migrate

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module", params=BACKENDS)
def e2e_db(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_templates: dict[str, str],
) -> Iterator[TestDatabase]:
    """The demo utility in a database of its own, for one test module and backend."""
    backend: str = request.param
    home = tmp_path_factory.mktemp(f"e2e-{backend}")
    admin = None
    if backend == "sqlite":
        path = home / "vendgw.sqlite3"
        shutil.copyfile(migrated_templates["sqlite"], path)
        url = f"sqlite:///{path}"
    else:
        name = f"vendgw_e2e_{uuid.uuid4().hex[:12]}"
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{PG_SERVER}/{name}"
        migrate.upgrade(url)
    engine = make_engine(url)
    settings = settings_for(url, home)
    runtime = Runtime(settings, _engine=engine)
    database = TestDatabase(backend, url, engine, make_session_factory(engine), settings, runtime)
    with transaction(database.sessions) as session:
        demo.seed(session, runtime.security_module, runtime.verifier_key)
    try:
        yield database
    finally:
        runtime.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


class Server:
    """A running `vendgw serve` subprocess and its log."""

    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    database: TestDatabase,
    log_dir: Path,
    *,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    scheme: str = "http",
    health_kwargs: dict[str, Any] | None = None,
) -> Server:
    """Start the real server on a free loopback port and wait until /healthz answers 200."""
    port = free_port()
    env = {
        **os.environ,
        **database.env(),
        **(extra_env or {}),
        "VENDGW_GUNICORN_ACCESSLOG": "-",
        "PYTHONUNBUFFERED": "1",
    }
    log = log_dir / f"server-{port}.log"
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
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"{scheme}://127.0.0.1:{port}"
    server = Server(base_url, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {process.returncode}:\n{server.log_text()[-4000:]}"
            )
        try:
            response = requests.get(f"{base_url}/healthz", timeout=2, **(health_kwargs or {}))
            if response.status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"the server did not answer /healthz:\n{server.log_text()[-4000:]}")


def stop_server(server: Server) -> None:
    """SIGTERM to gunicorn (a graceful stop), SIGKILL to its group if it lingers."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(e2e_db: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`vendgw serve --workers 2` on the module's demo database."""
    running = start_server(e2e_db, tmp_path_factory.mktemp("server-log"))
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture(scope="module")
def base_url(server: Server) -> str:
    return server.base_url
