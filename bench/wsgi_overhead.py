"""What the request-id and metrics middleware add to one request (vendgw/metrics.py,
vendgw/request_log.py), in multiprocess mode as the gunicorn workers run them.

    .venv/bin/python bench/wsgi_overhead.py

Prints microseconds per request around a trivial application: bare, with request ids, and with
request ids and metrics (a 200, and a SOAP fault whose body is looked through)."""

from __future__ import annotations

import os
import sys
import tempfile
import timeit
from pathlib import Path

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="vendgw-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree

from vendgw.metrics import GatewayMetrics, with_metrics
from vendgw.request_log import with_request_id

DOC = etree.fromstring(
    b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
    b'<CreditVendReq xmlns="urn:vendgw:xmlvend:2.1"/></e:Body></e:Envelope>'
)
FAULT = (
    b"<soap11env:Envelope><soap11env:Body><soap11env:Fault>"
    b"<faultcode>soap11env:Client</faultcode><detail><tns:XMLVendFault>"
    b"<tns:faultType>UnknownMeterEx</tns:faultType></tns:XMLVendFault></detail></soap11env:Fault>"
    b"</soap11env:Body></soap11env:Envelope>"
)


def ok(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
    return [b"<ok/>"]


def fault(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
    return [FAULT]


def per_request(app, n: int = 50000) -> float:  # type: ignore[no-untyped-def]
    def one() -> None:
        environ = {"PATH_INFO": "/vend", "REQUEST_METHOD": "POST", "vendgw.soap.document": DOC}
        body = app(environ, lambda *a: None)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    one()
    return min(timeit.repeat(one, number=n, repeat=5)) / n * 1e6


metrics = GatewayMetrics()
ops = frozenset({"CreditVend"})
bare = per_request(ok)
ids = per_request(with_request_id(ok))
both = per_request(with_request_id(with_metrics(ok, metrics, ops)))
faulted = per_request(with_request_id(with_metrics(fault, metrics, ops)))
print(
    f"bare {bare:.2f} us; + request id {ids - bare:.2f} us; + metrics {both - ids:.2f} us; "
    f"fault with metrics {faulted - bare:.2f} us over bare"
)
