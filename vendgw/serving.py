"""How the gateway meets its clients: gunicorn's asyncio worker in front, our WSGI app behind it.

Why not sync workers: a sync worker reads a request in the process that then runs it, so a
client that sends its headers or body slowly holds a whole worker; 20 connections dripping a
byte every 3 s denied every request, and one lying Content-Length held a worker for 30 s
(issue 12, defect 4). Here each gunicorn worker runs an asyncio event loop on which an open
connection costs a coroutine, not a process or a thread, and nothing reaches the application
until the whole request is in memory:

    request line and headers  within HEADER_TIMEOUT of the connection's start (later requests
                              on a kept-alive connection: within gunicorn's `keepalive`)
    body                      within BODY_TIMEOUT of the headers, never more than
                              server.max_body_bytes + 1 bytes held (a larger declared
                              Content-Length is not read at all: the application answers 413)
    application               the unchanged WSGI application (vendgw.wsgi), called in a pool of
                              `threads` threads per worker once the request is complete

A worker stops accepting connections while every thread of its pool is taken, and starts again
when one is free (`Worker.pause_accepting`, `Worker.resume_accepting`, driven by `WsgiBridge`):
connections then wait in the listening socket's queue, which every worker of the node accepts
from, so a free worker takes them, as a sync worker only accepts when it is free. Without it an
asyncio worker kept accepting while its threads were busy (up to the accept backlog in one go),
and requests queued behind one busy worker while another sat idle: CreditVend's p99 doubled
under saturation (README "Serving", "Known cost").

A slow or silent client is answered 408 and disconnected when its deadline passes. The two
deadlines are VENDGW_GUNICORN_HEADER_TIMEOUT and VENDGW_GUNICORN_BODY_TIMEOUT (seconds,
default 10 each); the pool is gunicorn's `threads` setting (conf/gunicorn.conf.py).

What the threads share is safe to share: the spyne application keeps per-request state in its
method context; the security module's LRU, the credential verification cache and the login
throttle take locks; the TariffBook holds immutable values in a dict (a race costs one extra
read); schema validation reads its error log under a lock (service.HardenedSoap11); lxml
parsers are built per request; SQLAlchemy engines and pools are thread-safe and each thread
holds its own connection.

Pinned to gunicorn 27.0 (setup.cfg, constraints.txt): `DeadlineProtocol` and `Worker` lean on
internals of gunicorn.asgi.protocol.ASGIProtocol and gunicorn.workers.gasgi (named where used);
tests/vendgw/test_serving.py fails when they change.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

log = logging.getLogger("gateway.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    value = float(raw) if raw else default
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


HEADER_TIMEOUT = _seconds("VENDGW_GUNICORN_HEADER_TIMEOUT", 10.0)
BODY_TIMEOUT = _seconds("VENDGW_GUNICORN_BODY_TIMEOUT", 10.0)

_TIMED_OUT = (b"request timeout\n", 408)


def _nothing() -> None:
    pass


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run `callback` on `loop` from a pool thread; not at all once the loop is closed (the
    worker is exiting and accepts nothing any more)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)


class DeadlineProtocol(ASGIProtocol):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn's HTTP/1 protocol with a deadline for the first request's headers.

    gunicorn 27.0 arms its keep-alive timer only while waiting for the second and later request
    of a connection (ASGIProtocol._handle_connection, `req_count > 1`), and that timer keeps
    running while a next request's headers trickle in, so those are bounded by `keepalive`.
    The first request's headers had no bound at all: this adds one, armed when the connection
    is made and cancelled when its headers are complete (`_on_headers_complete`). On expiry it
    does what gunicorn's own keep-alive expiry does (`_keepalive_timeout`): close the transport
    and wake the connection task so that it ends.
    """

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # HTTP/1 only (the default `http_protocols = h1`): the callback parser exists.
        if self._request_ready is not None:
            self._header_timer = self.worker.loop.call_later(HEADER_TIMEOUT, self._headers_late)

    def _on_headers_complete(self) -> Any:
        self._cancel_header_timer()
        return super()._on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._closed or self._current_request is not None:
            return
        peer = self.transport.get_extra_info("peername") if self.transport else None
        log.info(
            "closing a connection from %s: no complete request headers in %.0f s",
            peer[0] if peer else "?",
            HEADER_TIMEOUT,
        )
        self._send_error_response(408, "request timeout\n")
        self._close_transport()
        self._request_ready.set()


class Worker(gasgi.ASGIWorker):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn's asyncio worker serving `WsgiBridge` with `DeadlineProtocol` connections."""

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        # The base class warns that it ignores `threads`; WsgiBridge sizes its pool with it.
        pass

    def init_process(self) -> None:
        # ASGIWorker._serve builds each connection's protocol as `ASGIProtocol(self)`, looked up
        # in its module at connection time; this worker process uses ours instead. (Only in the
        # worker: the master never serves a connection.)
        gasgi.ASGIProtocol = DeadlineProtocol
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        if isinstance(self.asgi, WsgiBridge):
            self.asgi.start(
                threads=max(1, int(self.cfg.threads)),
                on_full=self.pause_accepting,
                on_free=self.resume_accepting,
            )

    # asyncio has no public pause for a listening server: `remove_reader` (public) takes the
    # listening socket off the event loop; clearing `Server._serving` lets
    # `Server._start_serving` put it back exactly as create_server did (asyncio.base_events,
    # CPython 3.11-3.13; tests/vendgw/test_serving.py checks both are there).

    def pause_accepting(self) -> None:
        """Leave new connections in the listening socket's queue for the other workers."""
        for server in self.servers:
            if server.is_serving():
                for sock in server.sockets:
                    self.loop.remove_reader(sock.fileno())
                server._serving = False

    def resume_accepting(self) -> None:
        for server in self.servers:
            # A closed server (the worker is shutting down) has no sockets: leave it closed.
            if server.sockets and not server.is_serving():
                server._start_serving()


class WsgiBridge:
    """An ASGI application that reads the whole request on the event loop, within a deadline and
    a size bound, and only then calls a WSGI application in a bounded thread pool."""

    def __init__(
        self, app: WsgiApp, *, max_body_bytes: int, body_timeout: float = BODY_TIMEOUT
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self._pool: ThreadPoolExecutor | None = None
        self._threads = 1
        self._busy = 0  # requests handed to the pool and not finished (on the loop's thread)
        self._on_full: Callable[[], None] = _nothing
        self._on_free: Callable[[], None] = _nothing

    def start(
        self,
        *,
        threads: int,
        on_full: Callable[[], None] = _nothing,
        on_free: Callable[[], None] = _nothing,
    ) -> None:
        """Size the pool; `on_full` is called when every thread has a request, `on_free` when
        one is free again (on the event loop: the worker pauses and resumes accepting)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vendgw-app")
            self._threads = threads
            self._on_full, self._on_free = on_full, on_free

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets here: returning without accepting refuses one
        headers = _headers(scope)
        declared = headers.get("content-length")
        body = b""
        if declared is None or (declared.isdigit() and int(declared) <= self.max_body_bytes):
            # Over the limit (or not a number): not read at all; the application refuses it.
            try:
                got = await asyncio.wait_for(self._read_body(receive), self.body_timeout)
            except TimeoutError:
                log.info(
                    "closing a connection from %s: request body not complete in %.0f s",
                    _client(scope),
                    self.body_timeout,
                )
                await _respond(
                    send,
                    408,
                    [(b"content-type", b"text/plain"), (b"connection", b"close")],
                    b"request timeout\n",
                )
                return
            if got is None:
                return  # the client went away
            body = got
        environ = _environ(scope, headers, body)
        if self._pool is None:
            self.start(threads=1)
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        running = self._pool.submit(self._call, environ)
        self._taken()
        # Released when the thread is really done, not when this task is (a cancelled task
        # leaves its request running in the thread).
        running.add_done_callback(lambda _: _call_soon(loop, self._released))
        status, out_headers, content = await asyncio.wrap_future(running)
        await _respond(send, status, out_headers, content)

    def _taken(self) -> None:
        self._busy += 1
        if self._busy == self._threads:
            self._on_full()

    def _released(self) -> None:
        self._busy -= 1
        if self._busy == self._threads - 1:
            self._on_free()

    async def _read_body(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        got = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            parts.append(chunk)
            got += len(chunk)
            # One byte past the limit is enough for the application to refuse it (413).
            if got > self.max_body_bytes or not message.get("more_body", False):
                return b"".join(parts)

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the WSGI application to completion (in a pool thread)."""
        started: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and started and written:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [(status, headers)]
            return written.append

        try:
            result = self.app(environ, start_response)
            try:
                written.extend(chunk for chunk in result if chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise RuntimeError("the WSGI application did not start a response")
        except Exception:
            # vendgw.wsgi turns its own errors into SOAP faults; anything reaching here is a bug,
            # logged in full, and the client learns nothing but the status.
            log.exception(
                "the application failed on %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            return 500, [(b"content-type", b"text/plain")], b"internal error\n"
        status, headers = started[0]
        content = b"".join(written)
        out = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers
            if name.lower() != "content-length"
        ]
        out.append((b"content-length", str(len(content)).encode()))
        return int(status.split(" ", 1)[0]), out, content


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name, repeated ones joined with commas (RFC 9110 5.3)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def _environ(scope: Scope, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ of a complete request."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        # PEP 3333: the path as bytes, seen through latin-1.
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else ""),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        # The whole body is in memory: reading to the end is always safe.
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        elif key != "TRANSFER_ENCODING":
            environ[f"HTTP_{key}"] = value
    return environ


PR_SET_PDEATHSIG = 1


def die_with_master(master_pid: int) -> None:
    """Make this (freshly forked) worker receive SIGTERM when the master dies (Linux).

    Without it, a master killed with SIGKILL left its workers serving unsupervised and holding
    the port (issue 12, defect 9). The worker also checks its parent once a second (gunicorn's
    own check); the check here closes the window between the fork and the prctl call.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != master_pid:
        raise SystemExit(0)


def __getattr__(name: str) -> Any:
    # Built on first use in each gunicorn worker (after fork), never at import in the master,
    # which imports this module for the worker class.
    if name == "application":
        from core.settings import get_settings
        from vendgw import wsgi

        bridge = WsgiBridge(wsgi.application, max_body_bytes=get_settings().server.max_body_bytes)
        globals()["application"] = bridge
        return bridge
    raise AttributeError(name)
