"""Request ids on every log line of a request, and log lines that input cannot forge: the
formatter and filter as conf/logging.toml configures them, the middleware around the real /vend
application on the demo database."""

from __future__ import annotations

import base64
import io
import logging
import logging.config
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import CONF_DIR
from tests.conftest import TestDatabase
from tests.support.soap import ATM, UNKNOWN_METER, credit_vend_xml, envelope, session_for
from vendgw.request_log import current_request_id, with_request_id
from vendgw.wsgi import create_app

BASE = "http://vendgw.test"
# The documented grammar: fixed keys, then msg (and exc) quoted with backslash escapes.
QUOTED = r'"(?:[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029]|\\.)*"'
LINE = re.compile(
    r"ts=\S+ level=[A-Z]+ pid=\d+ logger=\S+ request_id=(?P<rid>\S+) "
    rf"msg=(?P<msg>{QUOTED})( exc={QUOTED})?( stack={QUOTED})?"
)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """conf/logging.toml's formatter and filter on a handler that writes to a string."""
    with (CONF_DIR / "logging.toml").open("rb") as fh:
        config: dict[str, Any] = tomllib.load(fh)
    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    for name in ("gunicorn.error", "gunicorn.access"):  # not ours to reconfigure in a test
        config["loggers"].pop(name, None)
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name in ("gateway", "vendor_accounts", "reconciliation")
        for lg in [logging.getLogger(name)]
    }
    root = logging.getLogger()
    root_saved = (root.handlers[:], root.level)
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        for name, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
        root.handlers[:], _ = root_saved
        root.setLevel(root_saved[1])


def lines(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return text.splitlines()


def unquote(value: str) -> str:
    return value[1:-1].encode().decode("unicode_escape")


def test_a_newline_in_an_argument_stays_in_one_line(log_stream: io.StringIO) -> None:
    forged = "ATM-0001\nts=2026-11-20T08:30:00.000+0000 level=INFO pid=1 logger=gateway.soap"
    hostile = f'{forged}\r\x00\x1b[2J\x7f\x85\u2028\u2029\u202e"\\'
    logging.getLogger("gateway.soap.auth").warning("login failed for %s", hostile)
    [line] = lines(log_stream)
    match = LINE.fullmatch(line)
    assert match, line
    assert match["rid"] == "-"  # outside a request
    # Nothing is lost: the message reads back exactly.
    assert unquote(match["msg"]) == f"login failed for {hostile}"


def test_a_traceback_is_one_line(log_stream: io.StringIO) -> None:
    try:
        raise KeyError("meter\nlevel=ERROR forged")
    except KeyError:
        logging.getLogger("gateway.soap").exception("Server.SystemEx correlation=%s", "abc")
    [line] = lines(log_stream)
    assert LINE.fullmatch(line), line
    assert 'exc="Traceback (most recent call last):\\n' in line
    assert "KeyError" in line


def test_a_newline_in_basic_credentials_cannot_forge_a_line(
    demo_db: TestDatabase, log_stream: io.StringIO
) -> None:
    """Defect 10: the Basic terminalID was logged raw. Through the real /vend application the
    refusal is logged, and is one line."""
    app = with_request_id(create_app(demo_db.runtime))
    terminal = 'ATM-0001\nts=2026 level=INFO logger=gateway.soap msg="vend ok"'
    token = base64.b64encode(f"{ATM.client_id}/{terminal}:wrong".encode()).decode()
    session = session_for(None, app)
    response = session.post(
        f"{BASE}/vend",
        data=envelope(credit_vend_xml(ATM)),
        headers={"Authorization": f"Basic {token}", "Content-Type": "text/xml"},
    )
    assert response.status_code in (401, 403)
    logged = lines(log_stream)
    assert logged, "the refused login was not logged"
    for line in logged:
        assert LINE.fullmatch(line), line
    assert any("vend ok" in line and line.startswith("ts=") for line in logged)


def test_every_line_of_a_request_carries_its_id(
    demo_db: TestDatabase, log_stream: io.StringIO
) -> None:
    app = with_request_id(create_app(demo_db.runtime))
    session = session_for(ATM, app)
    response = session.post(
        f"{BASE}/vend",
        data=envelope(credit_vend_xml(ATM, UNKNOWN_METER)),
        headers={"Content-Type": "text/xml", "X-Request-ID": "lb-7f3a.42"},
    )
    assert response.status_code == 500  # a SOAP fault: UnknownMeterEx
    assert response.headers["X-Request-ID"] == "lb-7f3a.42"
    logged = [LINE.fullmatch(line) for line in lines(log_stream)]
    assert logged and all(logged)
    assert {m["rid"] for m in logged if m} == {"lb-7f3a.42"}
    assert any("UnknownMeterEx" in m["msg"] for m in logged if m)
    assert current_request_id() is None  # the id ended with the request


@pytest.mark.parametrize(
    "offered",
    ["", "a" * 65, "id with space", "x\r\nSet-Cookie: a=b", "-leading-dash", "\u00e9t\u00e9"],
)
def test_an_unusable_incoming_id_is_replaced(demo_db: TestDatabase, offered: str) -> None:
    app = create_app(demo_db.runtime)
    seen: list[str | None] = []

    def probe(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(current_request_id())
        return app(environ, start_response)  # type: ignore[return-value]

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/healthz",
        "HTTP_X_REQUEST_ID": offered,
        "wsgi.input": io.BytesIO(b""),
    }
    headers: list[tuple[str, str]] = []
    body = with_request_id(probe)(environ, lambda s, h, e=None: headers.extend(h))
    b"".join(body)
    body.close()  # type: ignore[attr-defined]
    [returned] = [v for k, v in headers if k == "X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", returned)
    assert seen == [returned]
    assert current_request_id() is None


def test_generated_ids_differ(demo_db: TestDatabase) -> None:
    app = with_request_id(create_app(demo_db.runtime))
    session = session_for(None, app)
    ids = {session.get(f"{BASE}/healthz").headers["X-Request-ID"] for _ in range(20)}
    assert len(ids) == 20


def test_the_app_sees_the_same_id_while_producing_its_body() -> None:
    """spyne may log while the body is being iterated: the id lasts until close()."""
    during: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        during.append(current_request_id())
        yield b"a"
        during.append(current_request_id())

    body = with_request_id(app)({"HTTP_X_REQUEST_ID": "r-1"}, lambda s, h, e=None: None)
    assert b"".join(body) == b"a"
    assert during == ["r-1", "r-1"]
    body.close()  # type: ignore[attr-defined]
    assert current_request_id() is None
