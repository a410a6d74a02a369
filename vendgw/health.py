"""GET /healthz: 200 when the database answers `SELECT 1`, 503 when it does not, within a deadline
whatever the database does.

A load balancer polls this to take a node out, so the answer must come in time exactly when the
database misbehaves. A frozen PostgreSQL (SIGSTOP, a hung host with a live kernel) accepts TCP
connections and acknowledges every byte but never answers: no server-side time-out runs, TCP
keepalives and tcp_user_timeout see a healthy peer, and libpq's connect_timeout is whole seconds,
at least 2, per address. So the check keeps a deadline of its own on the client: a connection of
its own per check (never the vend pool, which a frozen database may have exhausted), opened and
queried through psycopg2's asynchronous interface, and each wait a poll of the socket bounded by
what is left of the deadline (`[database] health_timeout_ms`, 1.5 s by default).

SQLite has no server to freeze: a plain `SELECT 1` on a raw connection (outside the engine's
`BEGIN IMMEDIATE`, so a writer holding the lock cannot delay it).
"""

from __future__ import annotations

import json
import logging
import selectors
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine

from core.runtime import Runtime

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

log = logging.getLogger("gateway.health")


class DeadlineExceeded(Exception):
    """The database did not answer before the health check's deadline."""


def database_answers(engine: Engine, timeout_seconds: float) -> None:
    """Return when the database answers `SELECT 1` within `timeout_seconds`; raise otherwise."""
    if engine.dialect.name != "postgresql":
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            if cursor.fetchone() != (1,):
                raise RuntimeError("SELECT 1 did not answer 1")
            cursor.close()
        finally:
            connection.close()
        return
    _postgresql_answers(engine, time.monotonic() + timeout_seconds)


def _postgresql_answers(engine: Engine, deadline: float) -> None:
    import psycopg2

    # The engine's own view of its URL as libpq keywords (host, port, user, password, dbname
    # and any query options such as sslmode), so the check reaches what the pool reaches.
    _, params = engine.dialect.create_connect_args(engine.url)
    params = {k: v for k, v in params.items() if k != "async_"}
    connection = psycopg2.connect(**params, async_=True)
    try:
        _wait(connection, deadline)
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        _wait(connection, deadline)
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 did not answer 1")
    finally:
        # Never waits: a closing asynchronous connection only queues its goodbye in the socket.
        connection.close()


def _wait(connection: Any, deadline: float) -> None:
    import psycopg2.extensions as ext

    with selectors.DefaultSelector() as selector:
        while True:
            state = connection.poll()
            if state == ext.POLL_OK:
                return
            events = {
                ext.POLL_READ: selectors.EVENT_READ,
                ext.POLL_WRITE: selectors.EVENT_WRITE,
            }.get(state)
            if events is None:
                raise RuntimeError(f"unexpected poll state {state}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded("the database did not answer in time")
            selector.register(connection.fileno(), events)
            try:
                selector.select(remaining)
            finally:
                selector.unregister(connection.fileno())


def health_app(runtime: Runtime) -> WsgiApp:
    """GET /healthz: 200 when the database answers, 503 when it does not (within the deadline)."""
    timeout = runtime.settings.database.health_timeout_ms / 1000
    healthy: list[bool] = [True]  # the last state, so a failing database is logged once

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            database_answers(runtime.engine, timeout)
            ok, reason = True, ""
        except Exception as exc:  # any failure to reach the database means not healthy
            ok, reason = False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if ok != healthy[0]:
            healthy[0] = ok
            if ok:
                log.warning("health: the database answers again")
            else:
                log.warning("health: the database does not answer (%s)", reason)
        if ok:
            status, body = "200 OK", {"status": "ok", "database": "ok"}
        else:
            status, body = "503 Service Unavailable", {"status": "fail", "database": "unreachable"}
        payload = json.dumps(body).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    return app
