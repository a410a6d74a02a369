"""Log lines that belong to a request, and that no input can forge.

Every request gets an id: the caller's X-Request-ID when it is sane (a load balancer or the
bank's own tracing set it, so both sides can quote the same id), else a new random one. It is
returned as the X-Request-ID response header and carried in a context variable, which
`RequestIdFilter` copies onto every log record emitted while the request runs.

The line format (conf/logging.toml) is key=value, one event per line:

    ts=2026-11-20T08:30:00.123+0000 level=INFO pid=4242 logger=gateway.soap request_id=9f0c... \
msg="refused UnknownMeterEx (unknown-meter): ..."

`msg` (and `exc`, the traceback, when there is one) is always last and always double-quoted;
inside it a backslash is written `\\\\`, a double quote `\\"`, and every control character
(C0, DEL, C1) and every character that a reader could take for a line break or a reordering
of the text is escaped (`\\n`, `\\r`, `\\t`, `\\xNN`, `\\uNNNN`). So a newline smuggled into
a terminal id, a meter number or an exception message stays inside its own line, and a
traceback is one line too (expand it with `printf '%b'`). `request_id` is `-` outside a request.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REQUEST_ID_HEADER = "X-Request-ID"
ENVIRON_KEY = "vendgw.request_id"
NO_REQUEST = "-"

# What we take from a caller: what tracing systems generate (UUIDs, hex, base64url, dotted or
# colon-joined span ids), short enough to index, never anything that needs escaping.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,63}")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "vendgw_request_id", default=None
)


def current_request_id() -> str | None:
    """The id of the request this code runs for, or None outside a request."""
    return _request_id.get()


def _escape_table(quoted: bool) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = f"\\x{code:02x}"
    table.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
    # Not control characters, but str.splitlines() and many viewers break lines at them, and
    # the bidirectional overrides can make a line read as something it does not say.
    for code in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF):
        table[code] = f"\\u{code:04x}"
    if quoted:
        table[ord("\\")] = "\\\\"
        table[ord('"')] = '\\"'
    return table


_QUOTED = _escape_table(quoted=True)
_BARE = _escape_table(quoted=False)
_NEEDS_QUOTING = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ufeff]')
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ufeff]")


def quote(text: str) -> str:
    """`text` as a double-quoted value with nothing in it that can end or fake a line."""
    if _NEEDS_QUOTING.search(text) is None:  # the common case costs one regex scan
        return f'"{text}"'
    return f'"{text.translate(_QUOTED)}"'


def escape_controls(text: str) -> str:
    """`text` with its line-breaking and control characters escaped (backslashes kept)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return text.translate(_BARE)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (`-` outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or NO_REQUEST
        return True


class LineFormatter(logging.Formatter):
    """A logging.Formatter whose `%(message)s` is the escaped, quoted message, followed by
    ` exc="..."` for a traceback and ` stack="..."` for stack info, so that each record is
    exactly one line whatever its arguments, its exception or its format string hold."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):  # a handler configured without the filter
            record.request_id = _request_id.get() or NO_REQUEST
        record.message = quote(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += f" exc={quote(record.exc_text)}"
        if record.stack_info:
            line += f" stack={quote(self.formatStack(record.stack_info))}"
        # The other fields (logger names, a format string someone extended) get the same
        # guarantee: whatever the line holds, it stays one line.
        return escape_controls(line)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        # ISO 8601 with milliseconds and offset: sortable and unambiguous across nodes.
        local = time.localtime(record.created)
        return (
            time.strftime("%Y-%m-%dT%H:%M:%S", local)
            + f".{int(record.msecs):03d}"
            + time.strftime("%z", local)
        )


def _incoming_id(environ: dict[str, Any]) -> str:
    offered = environ.get("HTTP_X_REQUEST_ID")
    if isinstance(offered, str) and _SANE_ID.fullmatch(offered):
        return offered
    return os.urandom(16).hex()  # 128 random bits, as a UUID has, at half its cost


class _ClosingBody:
    """The response body, passed through; the request id ends with the body (spyne may still
    log while the body is produced), not when the application returns."""

    def __init__(self, body: Iterable[bytes], token: contextvars.Token[str | None]) -> None:
        self._body = body
        self._token = token

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            # Closed from another context: that one never saw the id.
            with contextlib.suppress(ValueError):
                _request_id.reset(self._token)


def with_request_id(app: WsgiApp) -> WsgiApp:
    """WSGI middleware: a request id per request, in the environ, the logs and the response."""

    def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = _incoming_id(environ)
        environ[ENVIRON_KEY] = request_id
        token = _request_id.set(request_id)

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [h for h in headers if h[0].lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            body = app(environ, start_with_id)
        except BaseException:
            _request_id.reset(token)
            raise
        return _ClosingBody(body, token)

    return middleware
