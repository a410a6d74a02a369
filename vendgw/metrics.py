"""Prometheus metrics of the gateway, and the internal listener that serves them.

What is counted (every series is bounded: operations are the service's own names, fault types
the XMLVend taxonomy, codes HTTP status codes):

    vendgw_requests_total{operation,code}           every HTTP request, by SOAP operation
                                                    (or wsdl, healthz, unknown, other) and status;
                                                    a vend is operation="CreditVend",code="200"
    vendgw_soap_faults_total{operation,fault_type}  every SOAP fault, by XMLVend fault type
    vendgw_request_duration_seconds{operation}      latency, from the call until the body closed
    vendgw_auth_refusals_total{code}                refused logins on /vend: 401, 403 (refused
                                                    terminal) and 429 (the login throttle), named
                                                    by the status they had before every fault
                                                    became HTTP 500 (the SOAP layer says which)
    vendgw_db_connections_checked_out               connections in use now, summed over workers
    vendgw_db_connections_opened_total              new database connections (pool churn)

How they are served, and why so. gunicorn runs several worker processes, so the workers write
their figures to memory-mapped files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode) and `vendgw metrics serve --bind HOST:PORT`, a process of its own, merges
the files on each scrape and answers GET /metrics. A process of its own rather than a route or a
thread inside gunicorn: it listens only where it is told (a loopback or management address,
never the vendor-facing port, which serves no /metrics at all); a scrape never takes a vending
worker; and the gunicorn master holds no extra socket that its forked workers would inherit and
keep open after a kill -9 of the master. Without PROMETHEUS_MULTIPROC_DIR the gateway counts
nothing (no cost per request).

The SOAP layer may put the operation (`OPERATION_KEY`) and the XMLVend fault type
(`FAULT_TYPE_KEY`) into the WSGI environ; where it does not, the operation is read from the
envelope it already parsed (no second parse) and the fault type from the body of an error
response (only error responses are looked at).

gunicorn hooks for conf/gunicorn.conf.py: `on_starting` (empties the directory of a previous
run) and `child_exit` (drops a dead worker's live gauge).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_BIND = "127.0.0.1:9108"
OPERATION_KEY = "vendgw.soap.operation"
FAULT_TYPE_KEY = "vendgw.soap.fault_type"
AUTH_REFUSAL_KEY = "vendgw.soap.auth_refusal"  # gateway.soap.service.AUTH_REFUSAL_KEY
# The same string as gateway.soap.service.DOCUMENT_KEY; not imported, so that gunicorn's master
# (which imports this module for its hooks) does not load spyne.
DOCUMENT_KEY = "vendgw.soap.document"
SOAP_PATH = "/vend"
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_BODY_TAG = f"{{{_SOAP_ENV}}}Body"
# A vend takes about 10 ms on an idle node; the top buckets catch database stalls and time-outs.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
AUTH_CODES = frozenset({"401", "403", "429"})
# The XMLVend type in a fault's detail; SOAP's own faults (VersionMismatch, ...) have none.
_FAULT_TYPE = re.compile(rb"<(?:[A-Za-z0-9_.-]{1,40}:)?faultType>([A-Za-z]{1,40})</")
_FAULTCODE = re.compile(rb"<faultcode>(?:[^<:]{0,40}:)?([A-Za-z]{1,40})</faultcode>")

log = logging.getLogger("gateway.metrics")


class GatewayMetrics:
    """The gateway's metric families. `registry=None` in the workers (multiprocess mode: the
    figures go to files, the listener's collector reads them); a registry of its own in tests."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.requests = Counter(
            "vendgw_requests",
            "HTTP requests by SOAP operation and status",
            ["operation", "code"],
            registry=registry,
        )
        self.faults = Counter(
            "vendgw_soap_faults",
            "SOAP faults by operation and XMLVend type",
            ["operation", "fault_type"],
            registry=registry,
        )
        self.latency = Histogram(
            "vendgw_request_duration_seconds",
            "Time from the call until the response body was closed",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.auth_refusals = Counter(
            "vendgw_auth_refusals",
            "Refused logins on /vend: 401, 403, 429 (throttled)",
            ["code"],
            registry=registry,
        )
        self.db_checked_out = Gauge(
            "vendgw_db_connections_checked_out",
            "Database connections checked out of the pools now",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.db_opened = Counter(
            "vendgw_db_connections_opened",
            "Database connections opened by the pools",
            registry=registry,
        )
        # labels() takes a lock and builds a key each time; the children are few and fixed.
        self._request_children: dict[tuple[str, str], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def observe(
        self,
        operation: str,
        code: str,
        seconds: float,
        fault_type: str | None,
        path: str,
        auth_refusal: str | None = None,
    ) -> None:
        child = self._request_children.get((operation, code))
        if child is None:
            child = self._request_children[(operation, code)] = self.requests.labels(
                operation, code
            )
        child.inc()
        latency = self._latency_children.get(operation)
        if latency is None:
            latency = self._latency_children[operation] = self.latency.labels(operation)
        latency.observe(seconds)
        if fault_type is not None:
            self.faults.labels(operation, fault_type).inc()
        if auth_refusal in AUTH_CODES:
            self.auth_refusals.labels(auth_refusal).inc()
        elif auth_refusal is None and code == "401" and path == SOAP_PATH:
            self.auth_refusals.labels(code).inc()


def _operation_names() -> frozenset[str]:
    from gateway.soap.service import VendGateway

    return frozenset(VendGateway.public_methods)


def _fault_type_in(body: list[bytes]) -> str | None:
    for pattern in (_FAULT_TYPE, _FAULTCODE):
        for chunk in body:
            found = pattern.search(chunk)
            if found:
                return found.group(1).decode()
    return None


class _ObservedBody:
    """The response body, passed through; the request is measured when it is closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


def with_metrics(
    app: WsgiApp, metrics: GatewayMetrics, operations: frozenset[str] | None = None
) -> WsgiApp:
    """WSGI middleware counting every request into `metrics`."""
    known = operations if operations is not None else _operation_names()

    def operation_of(environ: dict[str, Any], path: str) -> str:
        named = environ.get(OPERATION_KEY)
        if named in known:
            return str(named)
        if path == SOAP_PATH:
            document = environ.get(DOCUMENT_KEY)
            if document is not None:  # parsed and checked by the guard: one request element
                body = document.find(_BODY_TAG)
                for child in body if body is not None else ():
                    tag = child.tag
                    if isinstance(tag, str):
                        name = tag.rpartition("}")[2].removesuffix("Req")
                        return name if name in known else "unknown"
            if str(environ.get("QUERY_STRING", "")).lower().startswith("wsdl"):
                return "wsdl"
            return "unknown"  # refused before the body was parsed: size, credentials, XML
        return "healthz" if path == "/healthz" else "other"

    def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: list[str] = []

        def observing_start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            seen[:] = [status[:3], next((v for k, v in headers if k.lower() == "content-type"), "")]
            return start_response(status, headers, exc_info)

        path = str(environ.get("PATH_INFO", ""))
        try:
            body = app(environ, observing_start)
        except BaseException:
            # The server answers 500 for an application that raised.
            metrics.observe(
                operation_of(environ, path), "500", time.perf_counter() - started, None, path
            )
            raise
        code, content_type = seen if seen else ("000", "")
        fault_type = environ.get(FAULT_TYPE_KEY)
        if fault_type is None and code >= "400" and "xml" in content_type:
            # Faults are the exception: only their (small) bodies are looked through.
            chunks = list(body)
            close = getattr(body, "close", None)
            if close is not None:
                close()
            body = chunks
            fault_type = _fault_type_in(chunks)

        def done() -> None:
            metrics.observe(
                operation_of(environ, path),
                code,
                time.perf_counter() - started,
                fault_type,
                path,
                environ.get(AUTH_REFUSAL_KEY),
            )

        return _ObservedBody(body, done)

    return middleware


# -- database pools ------------------------------------------------------------------------

_OUT = "vendgw_metrics_out"


class PoolWatcher:
    """Counts checked-out and newly opened connections of every SQLAlchemy pool in the process.

    The flag lives in the pool entry's record_info, which outlives a reconnect: a checkout that
    is retried after a dead connection (core.db pings idle ones) counts once, and every way
    a connection goes back (checkin, a failed checkout, detach) takes it off once."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def _checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        info = record.record_info
        if info is not None and not info.get(_OUT):
            info[_OUT] = True
            self.metrics.db_checked_out.inc()

    def _back(self, _dbapi: Any, record: Any) -> None:
        info = record.record_info
        if info is not None and info.pop(_OUT, False):
            self.metrics.db_checked_out.dec()

    def _connect(self, _dbapi: Any, _record: Any) -> None:
        self.metrics.db_opened.inc()

    def _events(self) -> list[tuple[str, Callable[..., None]]]:
        return [
            ("checkout", self._checkout),
            ("checkin", self._back),
            ("detach", self._back),
            ("connect", self._connect),
        ]

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.pool import Pool

        for name, fn in self._events():
            event.listen(Pool, name, fn)

    def remove(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.pool import Pool

        for name, fn in self._events():
            event.remove(Pool, name, fn)


# -- wiring ----------------------------------------------------------------------------------


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def instrument(app: WsgiApp) -> WsgiApp:
    """What vendgw.wsgi serves: `app` with request ids, and with metrics when enabled."""
    from vendgw.request_log import with_request_id

    directory = multiprocess_dir()
    if directory is not None:
        if directory.is_dir():
            metrics = GatewayMetrics()
            PoolWatcher(metrics).install()
            app = with_metrics(app, metrics)
        else:
            # A monitoring mistake must not stop vending: say so, serve without metrics.
            log.error("metrics off: %s=%s is not a directory", MULTIPROC_ENV, directory)
    return with_request_id(app)


def on_starting(_server: Any = None) -> None:
    """gunicorn hook (master, before the first worker): an empty metrics directory, so series
    of a previous run's workers (whose process ids may be reused) do not linger."""
    directory = multiprocess_dir()
    if directory is None:
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(_server: Any, worker: Any) -> None:
    """gunicorn hook (master): a dead worker's connections are no longer checked out."""
    if multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


# -- the listener ----------------------------------------------------------------------------


def metrics_app(directory: Path) -> WsgiApp:
    """GET /metrics: the merged figures of every worker that wrote to `directory`."""
    from prometheus_client import make_wsgi_app
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    exposition = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics are at /metrics\n"]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        answer: Iterable[bytes] = exposition(environ, start_response)
        return answer

    return app


def split_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bind must be HOST:PORT, not {bind!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve(bind: str, directory: Path, vendor_bind: str | None = None) -> None:
    """Serve /metrics on `bind` until interrupted (`vendgw metrics serve`)."""
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    host, port = split_bind(bind)
    if vendor_bind is not None and split_bind(vendor_bind)[1] == port:
        raise ValueError(
            f"{bind} is the vendor-facing port ({vendor_bind}): metrics stay on an internal address"
        )
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - detecting it, not binding it
        log.warning("metrics listen on every interface (%s): firewall the port", bind)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 15 s is not news

    with make_server(
        host, port, metrics_app(directory), server_class=Server, handler_class=QuietHandler
    ) as httpd:
        log.info("metrics at http://%s:%d/metrics from %s", host, port, directory)
        httpd.serve_forever()
