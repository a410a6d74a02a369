"""What the vend path sends to PostgreSQL: the statements SQLAlchemy hands the driver (a
`before_cursor_execute` listener) and the round trips on the wire (a small TCP relay in this
process that reads the PostgreSQL protocol between the driver and the server).

psycopg2 speaks PostgreSQL's simple query protocol only: every round trip is one Query message
('Q') from the client, answered up to ReadyForQuery. That includes the `BEGIN` it sends by itself
before a transaction's first statement and the `COMMIT`/`ROLLBACK` of `connection.commit()` /
`rollback()`, which never pass through `before_cursor_execute`. Counting Query messages at the
relay therefore counts every round trip, whoever sent it.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


def normalise(sql: str) -> str:
    """Whitespace folded to single spaces (bound values are placeholders already)."""
    return re.sub(r"\s+", " ", sql).strip()


@dataclass
class WireLog:
    """The Query messages clients sent through the relay, in order, as SQL text."""

    queries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.queries)


class PostgresRelay:
    """A TCP relay to a PostgreSQL server that logs each Query message the clients send."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        self.target = (host, port)
        self.log = WireLog()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, upstream]
            threading.Thread(target=self._frontend, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _frontend(self, src: socket.socket, dst: socket.socket) -> None:
        """Client to server: relay every byte, and split the stream into protocol messages."""
        buffer = b""
        started = False  # until the startup packet, messages carry no type byte
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                buffer += data
                while True:
                    if not started:
                        if len(buffer) < 8:
                            break
                        length, code = struct.unpack("!ii", buffer[:8])
                        if len(buffer) < length:
                            break
                        buffer = buffer[length:]
                        started = code not in (_SSL_REQUEST, _GSSENC_REQUEST, _CANCEL_REQUEST)
                        continue
                    if len(buffer) < 5:
                        break
                    kind = buffer[:1]
                    (length,) = struct.unpack("!i", buffer[1:5])
                    if len(buffer) < 1 + length:
                        break
                    body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                    if kind == b"Q":
                        with self.log.lock:
                            self.log.queries.append(body.rstrip(b"\0").decode())
                    elif kind not in (b"X", b"p"):  # terminate, password
                        raise AssertionError(f"unexpected frontend message {kind!r}")
        except OSError:
            pass

    def url(self, database: str) -> str:
        return (
            f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"
            "?sslmode=disable&gssencmode=disable"
        )

    def close(self) -> None:
        self._closed = True
        self._server.close()
        for s in self._sockets:
            with suppress(OSError):
                s.close()


@contextmanager
def statements(*engines: Engine) -> Iterator[list[str]]:
    """The SQL (placeholders, not values) of every statement the engines' cursors execute."""
    seen: list[str] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        seen.append(statement)

    distinct = list({id(e): e for e in engines}.values())
    for engine in distinct:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in distinct:
            event.remove(engine, "before_cursor_execute", record)


@dataclass(frozen=True)
class CapturedVend:
    """One CreditVend as PostgreSQL saw it."""

    statements: list[str]  # what passed through before_cursor_execute, normalised
    wire: list[str]  # every Query message on the wire (values inlined by psycopg2)

    @property
    def round_trips(self) -> int:
        return len(self.wire)

    def sequence(self) -> list[str]:
        """Every round trip in order, with the driver's own BEGIN/COMMIT/ROLLBACK in place and
        each statement as SQLAlchemy sent it (placeholders, not values)."""
        own = {"BEGIN", "COMMIT", "ROLLBACK"}
        passed = iter(self.statements)
        return [q if q in own else next(passed) for q in (normalise(w) for w in self.wire)]


@contextmanager
def credit_vends(database: str, home: Any) -> Iterator[Any]:
    """A function that sends one CreditVend (HTTP Basic, the demo ATM terminal and meter)
    through the real /vend WSGI application in this process and returns what reached
    PostgreSQL. The application's runtime talks to `database` through a relay, with the
    production engines (the vend pool and the autocommit pool for one-statement reads)."""
    from core.runtime import Runtime
    from gateway.soap import create_soap_app
    from gateway.vend.service import DatabaseVendingService
    from tests.conftest import settings_for
    from tests.support.soap import ATM, credit_vend_xml, envelope, session_for

    relay = PostgresRelay()
    runtime = Runtime(settings_for(relay.url(database), home))
    app = create_soap_app(DatabaseVendingService(runtime), runtime)
    http = session_for(ATM, app)

    def vend() -> CapturedVend:
        before = len(relay.log.snapshot())
        with statements(runtime.engine, runtime.single_reads) as seen:
            response = http.post(
                "http://vendgw.test/vend",
                data=envelope(credit_vend_xml(ATM)),
                headers={"Content-Type": "text/xml"},
            )
        assert response.status_code == 200, response.text
        assert b"CreditVendResp" in response.content, response.text
        return CapturedVend([normalise(s) for s in seen], relay.log.snapshot()[before:])

    try:
        yield vend
    finally:
        runtime.close()
        relay.close()


def warmed_up(vend: Any) -> CapturedVend:
    """The third CreditVend for the meter: the first two connected, prepared every statement
    (the first with the meter's first TID, the second with a TID to compare) and read the
    tariff into the process's TariffBook, as a running server has long done."""
    vend()
    vend()
    return vend()  # type: ignore[no-any-return]
