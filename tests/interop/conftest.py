"""The real-client interop matrix's fixtures: the demo utility on a fresh PostgreSQL database and
the real server (`vendgw serve` under gunicorn, tests/e2e/conftest.py's start_server) for the whole
session; every (stack, endpoint) test calls it with a client its stack generated from the WSDL the
server serves.

`make interop` runs this suite (it sets VENDGW_INTEROP=1 after installing the toolchains: PHP,
node `soap`, suds-community, JAX-WS RI, Mono); `make test` does not collect it: it needs those
system packages and takes minutes (javac, mcs, a JVM per run). At the end of the run the matrix
(stack x endpoint x step) is printed, and written to var/interop/matrix.json.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core.db import make_engine, make_session_factory, transaction
from core.runtime import Runtime
from tests.conftest import PG_SERVER, TestDatabase, settings_for
from tests.e2e.conftest import ROOT, Server, start_server, stop_server
from tests.interop.matrix import (
    ENDPOINTS,
    FENCED_ALLOW,
    FENCED_SECRET,
    RESULTS,
    STACKS,
    fenced_terminal,
)
from tests.support.soap import ATM
from vendgw import demo, migrate
from vendor_accounts import add_terminal

if os.environ.get("VENDGW_INTEROP") != "1":
    # The matrix is not part of `make test`: collected only by `make interop` (VENDGW_INTEROP=1).
    # test_expectations.py (the expectations on hand-made results) always runs.
    collect_ignore = ["test_matrix.py"]

REPORT = ROOT / "var" / "interop" / "matrix.json"


def add_fenced_terminals(database: TestDatabase) -> None:
    """The demo ATM vendor's terminals callable only from outside loopback (matrix.py), one per
    (stack, endpoint): refusals count towards the login throttle of their (terminal, address), so
    a shared one would be throttled (429) after five tests."""
    with transaction(database.sessions) as session:
        for stack in STACKS:
            for endpoint in ENDPOINTS:
                add_terminal(
                    session,
                    client_id=ATM.client_id,
                    terminal_code=fenced_terminal(stack, endpoint),
                    actor="interop-tests",
                    secret=FENCED_SECRET,
                    allowed_cidrs=(FENCED_ALLOW,),
                    verifier_key=database.runtime.verifier_key,
                )


@pytest.fixture(scope="session")
def interop_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """The demo utility in a fresh PostgreSQL database, dropped afterwards."""
    home = tmp_path_factory.mktemp("interop")
    name = f"vendgw_interop_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    runtime = None
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        settings = settings_for(url, home)
        runtime = Runtime(settings, _engine=engine)
        database = TestDatabase(
            "postgresql", url, engine, make_session_factory(engine), settings, runtime
        )
        with transaction(database.sessions) as session:
            demo.seed(session, runtime.security_module, runtime.verifier_key)
        add_fenced_terminals(database)
        yield database
    finally:
        if runtime is not None:
            runtime.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def interop_server(
    interop_db: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    running = start_server(interop_db, tmp_path_factory.mktemp("interop-server-log"))
    try:
        yield running
    finally:
        stop_server(running)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        json.dumps({f"{s} {e}": r for (s, e), r in sorted(RESULTS.items())}, indent=2) + "\n"
    )
    write = terminalreporter.write_line
    write("")
    write("real-client interop matrix (pass / FAIL: why); full results in " + str(REPORT))
    for (stack, endpoint), result in sorted(RESULTS.items()):
        write(f"  {stack:6} {endpoint:8} {result['summary']}")
        for failure in result["failures"]:
            write(f"      - {failure}")
