"""vendgw.serving: the ASGI bridge in front of the WSGI application, and the gunicorn internals it
is pinned to. (The real server under attack: tests/e2e/test_slow_clients.py.)"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import inspect
from collections.abc import Iterable
from typing import Any

import pytest
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from vendgw.serving import DeadlineProtocol, WsgiBridge

LIMIT = 100


def test_the_gunicorn_internals_we_rely_on_are_still_there() -> None:
    # Worker.init_process swaps the protocol class that ASGIWorker._serve looks up by name.
    assert "ASGIProtocol(self)" in inspect.getsource(gasgi.ASGIWorker._serve)
    # DeadlineProtocol hooks these methods and reads these attributes.
    for method in (
        "connection_made",
        "connection_lost",
        "_on_headers_complete",
        "_send_error_response",
        "_close_transport",
    ):
        assert callable(getattr(ASGIProtocol, method))
    init = inspect.getsource(ASGIProtocol.__init__)
    for attribute in ("self._request_ready", "self._current_request", "self._closed"):
        assert attribute in init
    assert issubclass(DeadlineProtocol, ASGIProtocol)
    # Worker.pause_accepting / resume_accepting: the worker's servers, and asyncio's Server flag
    # and method that start_serving uses to add the listening socket's reader.
    assert "self.servers.append(server)" in inspect.getsource(gasgi.ASGIWorker._serve)
    start = inspect.getsource(asyncio.base_events.Server._start_serving)
    assert "self._serving = True" in start and "_start_serving(" in start


class Recorder:
    """A WSGI application that answers with what it was given."""

    def __init__(self) -> None:
        self.environ: dict[str, Any] = {}
        self.body = b""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.environ = environ
        self.body = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", "yes")])
        return [b"got ", str(len(self.body)).encode()]


def run(
    bridge: WsgiBridge, headers: list[tuple[bytes, bytes]], chunks: list[bytes | None]
) -> tuple[list[dict[str, Any]], int]:
    """Call `bridge` as gunicorn would; None in `chunks` means the client goes silent.
    Returns the messages sent and how many times the body was asked for."""
    sent: list[dict[str, Any]] = []
    asked = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        chunk = chunks.pop(0) if chunks else b""
        if chunk is None:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/vend",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 8080),
        "client": ("10.1.2.3", 40000),
        "scheme": "http",
        "http_version": "1.1",
    }
    bridge.start(threads=2)
    asyncio.run(bridge(scope, receive, send))
    return sent, asked


def test_the_whole_body_reaches_the_application() -> None:
    app = Recorder()
    sent, _ = run(
        WsgiBridge(app, max_body_bytes=LIMIT),
        [(b"content-type", b"text/xml"), (b"content-length", b"10")],
        [b"01234", b"56789"],
    )
    assert app.body == b"0123456789"
    assert app.environ["CONTENT_TYPE"] == "text/xml"
    assert app.environ["REMOTE_ADDR"] == "10.1.2.3"
    assert sent[0]["status"] == 201
    assert (b"x-seen", b"yes") in sent[0]["headers"]
    assert (b"content-length", b"6") in sent[0]["headers"]
    assert sent[1]["body"] == b"got 10"


def test_a_declared_length_over_the_limit_is_never_read() -> None:
    app = Recorder()
    _, asked = run(
        WsgiBridge(app, max_body_bytes=LIMIT),
        [(b"content-length", str(LIMIT + 1).encode())],
        [b"x" * (LIMIT + 1)],
    )
    assert asked == 0
    assert app.environ["CONTENT_LENGTH"] == str(LIMIT + 1)  # the application refuses it (413)


def test_a_chunked_body_is_held_to_one_byte_past_the_limit() -> None:
    app = Recorder()
    _, asked = run(
        WsgiBridge(app, max_body_bytes=LIMIT),
        [(b"transfer-encoding", b"chunked")],
        [b"x" * 60, b"x" * 60, b"x" * 60, b"x" * 60],
    )
    assert asked == 2
    assert len(app.body) == 120  # over the limit: the application refuses it (413)


@pytest.mark.parametrize("chunks", [[None], [b"0123", None]])
def test_a_body_that_does_not_arrive_in_time_gets_408(chunks: list[bytes | None]) -> None:
    app = Recorder()
    sent, _ = run(
        WsgiBridge(app, max_body_bytes=LIMIT, body_timeout=0.2),
        [(b"content-length", b"60")],
        chunks,
    )
    assert app.environ == {}  # the application never saw it
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]


def test_an_application_error_is_a_bare_500() -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("secret detail")

    sent, _ = run(WsgiBridge(broken, max_body_bytes=LIMIT), [], [])
    assert sent[0]["status"] == 500
    assert b"secret" not in sent[1]["body"]
