"""Database time-outs (issue 12, defect 5): a stalled holder of a meter or float row costs a vend
its lock time-out, not the whole gateway; a session idle in a transaction is ended by the server;
a runaway statement is cut; each becomes a retryable Server.SystemEx that stored nothing; and
/healthz answers in time whatever the database does.

On the machine's PostgreSQL (lock, statement and idle time-outs are PostgreSQL's); the health
check also on SQLite. A frozen PostgreSQL is stood in for, at the TCP level, by a listening socket
that never answers (the chaos suite freezes a real cluster with SIGSTOP).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import zeep
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from core.runtime import Runtime
from core.settings import load_settings
from gateway.errors import as_database_unavailable
from gateway.soap import create_soap_app
from gateway.soap.faults import to_fault
from gateway.vend.models import VendRequest, VendTransaction
from gateway.vend.service import DatabaseVendingService
from tests.conftest import PG_SERVER, TEST_MASTER_KEY, TestDatabase
from tests.gateway.test_vend_flow import BANK, Clock, available, header, principal
from tests.support.soap import ATM, zeep_client, zeep_fault_detail
from vendgw.health import health_app

ROOT = Path(__file__).resolve().parents[2]
METER = "01234567897"
HANG_GUARD = 5.0  # seconds: only to fail instead of hanging; no timing is asserted tighter

# The vend path's limits, shortened (through the settings, as an operator sets them) so the
# tests wait fractions of a second.
SHORT_ENV = {
    "VENDGW_DATABASE_LOCK_TIMEOUT_MS": "400",
    "VENDGW_DATABASE_STATEMENT_TIMEOUT_MS": "800",
    "VENDGW_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": "400",
}

postgresql_only = pytest.mark.parametrize("db", ["postgresql"], indirect=True)
T = TypeVar("T")


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()`'s result or exception, failing the test instead of hanging when it takes longer
    than `seconds` (a hang guard, not a timing assertion)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
        except BaseException as exc:  # handed to the test below
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in out:
        raise out["error"]
    return cast(T, out["result"])


@pytest.fixture
def short_runtime(demo_db: TestDatabase) -> Iterator[Runtime]:
    """The demo database with SHORT limits, wired as the server wires it (settings, Runtime)."""
    runtime = Runtime(load_settings({**demo_db.env(), **SHORT_ENV}))
    yield runtime
    runtime.close()


@pytest.fixture
def holder(demo_db: TestDatabase) -> Iterator[Callable[[str, dict[str, Any]], None]]:
    """Another session (a stalled worker) that takes row locks and keeps its transaction open
    until the test releases it (or the fixture ends)."""
    engine = create_engine(demo_db.url)
    conn = engine.connect()

    def hold(sql: str, params: dict[str, Any]) -> None:
        assert conn.execute(text(sql), params).all(), "the holder locked no row"

    hold.release = conn.rollback  # type: ignore[attr-defined]
    yield hold
    conn.close()
    engine.dispose()


LOCKS = {
    "meter": ("SELECT id FROM meter WHERE meter_number = :n FOR UPDATE", {"n": METER}),
    "float": (
        "SELECT f.vendor_id FROM float_account f JOIN vendor v ON v.id = f.vendor_id "
        "WHERE v.client_id = :c FOR UPDATE OF f",
        {"c": BANK},
    ),
}


def _vend_requests(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(VendRequest)) or 0


def _vends(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(VendTransaction)) or 0


@postgresql_only
@pytest.mark.parametrize("row", sorted(LOCKS))
def test_a_stalled_holder_of_the_row_costs_a_vend_its_lock_timeout_and_changes_nothing(
    demo_db: TestDatabase,
    short_runtime: Runtime,
    holder: Any,
    row: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = DatabaseVendingService(short_runtime, clock=Clock())
    who, h = principal(demo_db, BANK), header()
    before = (available(demo_db, BANK), _vend_requests(demo_db), _vends(demo_db))
    holder(*LOCKS[row])

    with pytest.raises(DBAPIError) as failed:
        within(HANG_GUARD, lambda: service.credit_vend(who, h, METER, 5000, "cash"))
    assert failed.value.orig.pgcode == "55P03"  # type: ignore[union-attr]
    with caplog.at_level(logging.INFO, logger="gateway.soap"):
        fault = to_fault(failed.value)
    assert (fault.faultcode, fault.fault_type, fault.code) == (
        "Server",
        "SystemEx",
        "database-busy",
    )
    assert "retry with the same msgID" in fault.faultstring
    assert "SELECT" not in fault.faultstring and "meter" not in fault.faultstring
    [line] = [r for r in caplog.records if r.name == "gateway.soap"]
    assert line.exc_info is None and "\n" not in line.getMessage()
    assert "55P03" in line.getMessage()
    # Rolled back: no request claimed, no vend, the float as it was.
    assert (available(demo_db, BANK), _vend_requests(demo_db), _vends(demo_db)) == before

    holder.release()
    receipt = service.credit_vend(who, h, METER, 5000, "cash")  # the client's retry
    assert receipt.units_tenths > 0
    assert _vends(demo_db) == before[2] + 1


@postgresql_only
def test_a_lock_timeout_reaches_a_soap_client_as_a_retryable_system_fault(
    demo_db: TestDatabase, short_runtime: Runtime, holder: Any
) -> None:
    app = create_soap_app(DatabaseVendingService(short_runtime), short_runtime)
    client = zeep_client("http://vendgw.test", ATM, app)
    holder(*LOCKS["meter"])
    with pytest.raises(zeep.exceptions.Fault) as caught:
        within(
            HANG_GUARD,
            lambda: client.service.CreditVend(
                clientID=ATM.client_id,
                terminalID=ATM.terminal_id,
                msgID={"dateTime": "20261120103000", "uniqueNumber": 424242},
                meterNumber=METER,
                amount="50.00",
                payType="cash",
            ),
        )
    assert caught.value.code.endswith(":Server")
    detail = zeep_fault_detail(caught.value)
    assert (detail["faultType"], detail["code"]) == ("SystemEx", "database-busy")
    assert "Traceback" not in caught.value.message and "lock_timeout" not in caught.value.message
    assert _vend_requests(demo_db) == 0


@postgresql_only
def test_a_session_idle_in_a_transaction_is_ended_and_its_locks_released(
    demo_db: TestDatabase, short_runtime: Runtime
) -> None:
    with short_runtime.engine.connect() as stalled:
        stalled.execute(text(LOCKS["meter"][0]), LOCKS["meter"][1])  # a worker that hangs here
        pid = stalled.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # Meanwhile a vend on another connection waits at most its lock time-out per try.
        service = DatabaseVendingService(short_runtime, clock=Clock())
        who = principal(demo_db, BANK)
        deadline = time.monotonic() + HANG_GUARD
        while True:
            try:
                within(HANG_GUARD, lambda: service.credit_vend(who, header(), METER, 5000, "cash"))
                break
            except DBAPIError as exc:
                assert as_database_unavailable(exc) is not None
                assert time.monotonic() < deadline, "the stalled session was never ended"
        with demo_db.engine.connect() as observer:
            assert (
                observer.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
                ).scalar_one()
                == 0
            )
        with pytest.raises(DBAPIError) as ended:
            stalled.execute(text("SELECT 1"))
    assert as_database_unavailable(ended.value) is not None


@postgresql_only
def test_a_statement_over_its_time_becomes_the_timeout_fault(short_runtime: Runtime) -> None:
    def sleep() -> None:
        with short_runtime.engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(8)"))

    with pytest.raises(DBAPIError) as failed:
        within(HANG_GUARD, sleep)
    fault = to_fault(failed.value)
    assert (fault.faultcode, fault.fault_type, fault.code) == (
        "Server",
        "SystemEx",
        "database-timeout",
    )
    assert "retry with the same msgID" in fault.faultstring


def _session_settings(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
        )


@postgresql_only
def test_every_engine_carries_the_limits_and_batch_work_the_long_ones(
    demo_db: TestDatabase, short_runtime: Runtime
) -> None:
    vend = Runtime(demo_db.settings)
    try:
        assert _session_settings(vend.engine) == ("3s", "10s", "15s")
        assert _session_settings(vend.single_reads) == ("3s", "10s", "15s")
        with vend.engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            params = dbapi.get_dsn_parameters()  # type: ignore[union-attr]
        assert (
            params["connect_timeout"],
            params["keepalives"],
            params["keepalives_idle"],
            params["keepalives_interval"],
            params["keepalives_count"],
            params["tcp_user_timeout"],
        ) == ("3", "1", "10", "3", "3", "10000")
    finally:
        vend.close()
    batch = Runtime(demo_db.settings, batch=True)
    try:
        assert _session_settings(batch.engine) == ("30s", "1h", "10min")
    finally:
        batch.close()
    # Set and committed at connect, so a rolled-back transaction keeps them.
    with short_runtime.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.rollback()
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "400ms"
    assert _session_settings(short_runtime.engine) == ("400ms", "800ms", "400ms")


def test_the_vend_path_limits_are_settings_and_the_cli_runtime_is_batch() -> None:
    from click.testing import CliRunner

    from vendgw.cli import cli

    s = load_settings(
        {
            "VENDGW_DATABASE_LOCK_TIMEOUT_MS": "1234",
            "VENDGW_DATABASE_BATCH_STATEMENT_TIMEOUT_MS": "0",
        }
    )
    assert s.database.limits().lock_timeout_ms == 1234
    assert s.database.limits(batch=True).statement_timeout_ms == 0
    seen: list[Runtime] = []
    import click

    @cli.command("probe-runtime", hidden=True)
    @click.pass_obj
    def probe(runtime: Runtime) -> None:
        seen.append(runtime)

    try:
        result = CliRunner().invoke(
            cli, ["probe-runtime"], env={"VENDGW_DATABASE_URL": "sqlite://"}
        )
    finally:
        del cli.commands["probe-runtime"]
    assert result.exit_code == 0, result.output
    [runtime] = seen
    assert runtime.batch and runtime.limits == runtime.settings.database.limits(batch=True)


@pytest.fixture
def fresh_pg_database() -> Iterator[str]:
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"vendgw_timeouts_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_migration_runs_under_the_batch_limits_not_the_vend_paths(
    fresh_pg_database: str, tmp_path: Path
) -> None:
    """`vendgw db upgrade` on an empty database with vend-path limits no migration could meet
    (1 ms for every wait and statement): it still migrates, because it runs as batch work."""
    env = {
        **os.environ,
        "VENDGW_DATABASE_URL": fresh_pg_database,
        "VENDGW_MASTER_KEY": TEST_MASTER_KEY,
        "VENDGW_HOME": str(tmp_path),
        "VENDGW_DATABASE_LOCK_TIMEOUT_MS": "1",
        "VENDGW_DATABASE_STATEMENT_TIMEOUT_MS": "1",
        "VENDGW_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "vendgw.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    engine = create_engine(fresh_pg_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() >= 1
            assert conn.execute(text("SELECT to_regclass('vend_request')")).scalar_one()
    finally:
        engine.dispose()


# /healthz ------------------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never says a word: what a
    frozen PostgreSQL looks like from the client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()  # resets the connections still in the backlog: no client is left hanging


def _get_health(runtime: Runtime) -> tuple[str, bytes, float]:
    """GET /healthz in a thread, so that a check that hangs fails the test instead."""
    app = health_app(runtime)
    out: dict[str, Any] = {}

    def call() -> None:
        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            out["status"] = status

        out["body"] = b"".join(
            app({"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"}, start_response)
        )

    started = time.monotonic()
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"/healthz did not answer in {HANG_GUARD} s"
    return out["status"], out["body"], elapsed


def test_healthz_answers_503_when_the_database_accepts_tcp_and_never_answers(
    silent_server: int, tmp_path: Path
) -> None:
    runtime = Runtime(
        load_settings(
            {
                "VENDGW_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{silent_server}/x",
                "VENDGW_HOME": str(tmp_path),
            }
        )
    )
    try:
        status, body, _ = _get_health(runtime)
        assert status.startswith("503")
        assert body == b'{"status": "fail", "database": "unreachable"}'
        status, _, _ = _get_health(runtime)  # and again: nothing was left stuck
        assert status.startswith("503")
    finally:
        runtime.close()


def test_healthz_answers_503_when_the_database_refuses(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runtime = Runtime(
        load_settings(
            {
                "VENDGW_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{port}/x",
                "VENDGW_HOME": str(tmp_path),
            }
        )
    )
    try:
        assert _get_health(runtime)[0].startswith("503")
    finally:
        runtime.close()


def test_healthz_answers_200_when_the_database_does(db: TestDatabase) -> None:
    status, body, _ = _get_health(db.runtime)
    assert status.startswith("200")
    assert body == b'{"status": "ok", "database": "ok"}'


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_healthz_is_not_held_up_by_a_writer_on_sqlite(db: TestDatabase) -> None:
    """SQLite transactions begin IMMEDIATE and wait up to 30 s for the write lock; the health
    check takes none, so a long writer does not make the node look dead."""
    with db.engine.connect() as writer:
        writer.execute(text("SELECT 1"))  # begins IMMEDIATE: holds the write lock
        status, _, _ = _get_health(db.runtime)
        assert status.startswith("200")
