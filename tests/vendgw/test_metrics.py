"""Prometheus metrics: counted around the real gateway application on the demo database (a
registry of the test's own), and end to end through gunicorn's workers in multiprocess mode,
scraped from `vendgw metrics serve` on an internal port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TestDatabase
from tests.e2e.conftest import ROOT, free_port, start_server, stop_server
from tests.support.soap import (
    ATM,
    METER,
    UNKNOWN_METER,
    Terminal,
    credit_vend_xml,
    envelope,
    session_for,
)
from vendgw.metrics import FAULT_TYPE_KEY, GatewayMetrics, PoolWatcher, with_metrics
from vendgw.wsgi import create_app

BASE = "http://vendgw.test"
XML = {"Content-Type": "text/xml"}


class Counted:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def __call__(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def counted(demo_db: TestDatabase) -> Iterator[tuple[Any, Counted]]:
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry)
    watcher = PoolWatcher(metrics)
    watcher.install()
    try:
        yield with_metrics(create_app(demo_db.runtime), metrics), Counted(registry)
    finally:
        watcher.remove()


def post(app: Any, terminal: Terminal | None, body: bytes) -> requests.Response:
    return session_for(terminal, app).post(f"{BASE}/vend", data=body, headers=XML)


def test_operations_codes_faults_and_latency(counted: tuple[Any, Counted]) -> None:
    app, value = counted
    for _ in range(3):
        assert post(app, ATM, envelope(credit_vend_xml(ATM, METER, "20.00"))).status_code == 200
    refused = post(app, ATM, envelope(credit_vend_xml(ATM, UNKNOWN_METER)))
    assert refused.status_code == 500 and b"UnknownMeterEx" in refused.content
    assert post(app, None, envelope(credit_vend_xml(ATM))).status_code == 401
    assert session_for(None, app).get(f"{BASE}/vend?wsdl").status_code == 200
    assert session_for(None, app).get(f"{BASE}/healthz").status_code == 200

    assert value("vendgw_requests_total", operation="CreditVend", code="200") == 3
    assert value("vendgw_requests_total", operation="CreditVend", code="500") == 1
    assert (
        value("vendgw_soap_faults_total", operation="CreditVend", fault_type="UnknownMeterEx") == 1
    )
    # Refused before the body was read: the operation is not known, the status is.
    assert value("vendgw_requests_total", operation="unknown", code="401") == 1
    assert value("vendgw_auth_refusals_total", code="401") == 1
    assert value("vendgw_requests_total", operation="wsdl", code="200") == 1
    assert value("vendgw_requests_total", operation="healthz", code="200") == 1
    assert value("vendgw_request_duration_seconds_count", operation="CreditVend") == 4
    total = value("vendgw_request_duration_seconds_sum", operation="CreditVend")
    assert 0 < total < 30
    assert value("vendgw_request_duration_seconds_bucket", operation="CreditVend", le="+Inf") == 4


def test_throttled_logins_are_counted_by_status(counted: tuple[Any, Counted]) -> None:
    app, value = counted
    wrong = Terminal(ATM.client_id, ATM.terminal_id, "not-the-secret")
    codes: list[int] = []
    while 500 not in codes and len(codes) < 60:
        codes.append(post(app, wrong, envelope(credit_vend_xml(ATM))).status_code)
    # Throttled: a fault, so HTTP 500 (R1126); still counted as the throttle's refusal, "429".
    assert codes[-1] == 500, codes
    assert value("vendgw_auth_refusals_total", code="401") == codes.count(401)
    assert value("vendgw_auth_refusals_total", code="429") == 1
    assert value(
        "vendgw_soap_faults_total", operation="unknown", fault_type="RequestAuthorisationEx"
    ) == len(codes)


def test_pool_use(counted: tuple[Any, Counted], demo_db: TestDatabase) -> None:
    app, value = counted
    post(app, ATM, envelope(credit_vend_xml(ATM, METER, "20.00")))
    assert value("vendgw_db_connections_checked_out") == 0  # all back after the request
    with demo_db.engine.connect(), demo_db.engine.connect():
        assert value("vendgw_db_connections_checked_out") == 2
    assert value("vendgw_db_connections_checked_out") == 0
    demo_db.engine.dispose()
    with demo_db.engine.connect():
        pass
    assert value("vendgw_db_connections_opened_total") >= 1


def test_a_fault_type_the_soap_layer_names_is_taken_as_named() -> None:
    registry = CollectorRegistry()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ[FAULT_TYPE_KEY] = "BlockedMeterEx"
        start_response("500 Internal Server Error", [("Content-Type", "text/xml")])
        return [b"<faultcode>soap11env:Client.SomethingElse</faultcode>"]

    wrapped = with_metrics(app, GatewayMetrics(registry), frozenset({"CreditVend"}))
    body = wrapped({"PATH_INFO": "/vend", "vendgw.soap.operation": "CreditVend"}, lambda *a: None)
    b"".join(body)
    body.close()  # type: ignore[attr-defined]
    assert (
        registry.get_sample_value(
            "vendgw_soap_faults_total", {"operation": "CreditVend", "fault_type": "BlockedMeterEx"}
        )
        == 1
    )


def test_an_unknown_root_element_is_not_a_label(counted: tuple[Any, Counted]) -> None:
    """Label values come from the service's own operations: a client cannot mint series."""
    app, value = counted
    body = envelope("<MintASeriesReq><x/></MintASeriesReq>")
    assert post(app, ATM, body).status_code == 500
    assert value("vendgw_requests_total", operation="unknown", code="500") == 1
    assert value("vendgw_requests_total", operation="MintASeries", code="500") == 0


# -- end to end: gunicorn workers, multiprocess files, the internal listener -------------------


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text[:500]
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


@pytest.mark.e2e
def test_metrics_of_every_worker_on_the_internal_port_only(
    demo_db: TestDatabase, tmp_path: Path
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    server = start_server(
        demo_db, tmp_path, workers=2, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    )
    port = free_port()
    env = {**os.environ, **demo_db.env(), "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    listener_log = tmp_path / "metrics.log"
    with listener_log.open("wb") as out:
        listener = subprocess.Popen(
            [sys.executable, "-m", "vendgw.cli", "metrics", "serve", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Several connections, so that both workers take requests.
        for _ in range(12):
            with requests.Session() as s:
                s.auth = ATM.auth
                answer = s.post(
                    f"{server.base_url}/vend",
                    headers=XML,
                    data=envelope(credit_vend_xml(ATM, METER, "10.00")),
                )
                assert answer.status_code == 200
                assert answer.headers["X-Request-ID"]
        with requests.Session() as s:
            s.auth = ATM.auth
            assert (
                s.post(
                    f"{server.base_url}/vend",
                    headers=XML,
                    data=envelope(credit_vend_xml(ATM, UNKNOWN_METER)),
                ).status_code
                == 500
            )
        # The vendor-facing port has no /metrics.
        assert requests.get(f"{server.base_url}/metrics", timeout=5).status_code == 404
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 20
        while True:
            try:
                samples = scrape(url)
                break
            except requests.ConnectionError:
                if listener.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(listener_log.read_text()) from None
                time.sleep(0.2)
        assert (
            samples[("vendgw_requests_total", (("code", "200"), ("operation", "CreditVend")))] == 12
        )
        assert (
            samples[
                (
                    "vendgw_soap_faults_total",
                    (("fault_type", "UnknownMeterEx"), ("operation", "CreditVend")),
                )
            ]
            == 1
        )
        assert (
            samples[("vendgw_request_duration_seconds_count", (("operation", "CreditVend"),))] == 13
        )
        assert samples[("vendgw_db_connections_checked_out", ())] == 0
        assert samples[("vendgw_requests_total", (("code", "200"), ("operation", "healthz")))] >= 1
        assert len(list(directory.glob("counter_*.db"))) >= 2  # one file per worker that counted
        assert requests.get(f"http://127.0.0.1:{port}/other", timeout=5).status_code == 404
    finally:
        listener.terminate()
        listener.wait(timeout=10)
        stop_server(server)


def test_the_listener_refuses_the_vendor_port(demo_db: TestDatabase, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **demo_db.env(),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "VENDGW_SERVER_BIND": "0.0.0.0:8443",
    }
    done = subprocess.run(
        [sys.executable, "-m", "vendgw.cli", "metrics", "serve", "--bind", "127.0.0.1:8443"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert b"vendor-facing" in done.stderr


def test_a_fault_type_is_read_from_the_detail_when_not_named() -> None:
    """faultcode is exactly soap:Client/Server now; the XMLVend type is the detail's faultType."""
    registry = CollectorRegistry()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/xml")])
        return [
            b"<soap11env:Fault><faultcode>soap11env:Client</faultcode><detail>"
            b"<tns:XMLVendFault><tns:faultType>BlockedMeterEx</tns:faultType>"
            b"</tns:XMLVendFault></detail></soap11env:Fault>"
        ]

    wrapped = with_metrics(app, GatewayMetrics(registry), frozenset({"CreditVend"}))
    body = wrapped({"PATH_INFO": "/vend", "vendgw.soap.operation": "CreditVend"}, lambda *a: None)
    b"".join(body)
    body.close()  # type: ignore[attr-defined]
    assert (
        registry.get_sample_value(
            "vendgw_soap_faults_total", {"operation": "CreditVend", "fault_type": "BlockedMeterEx"}
        )
        == 1
    )
