"""The suite's own PostgreSQL broken under a vend load: a fast restart (every session cut) and a
freeze (SIGSTOP of the postmaster and every backend, then SIGCONT).

While the database is gone the bank retries with the same msgIDs; when it is back both nodes must
vend again within seconds, and while it is frozen a load balancer must learn it from /healthz
(503 within 2 s), not from requests that hang (defect 5)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.chaos.client import ATM, Exchange, vend_load
from tests.chaos.cluster import Node
from tests.chaos.conftest import LOAD_METERS, Chaos, load_findings, report

RECOVERY_SECONDS = 20.0


def recovered(system: Chaos, node_index: int, since: float) -> tuple[float | None, Exchange]:
    """Seconds from `since` until a fresh vend sent to this node alone is answered."""
    exchange = system.bank.vend(
        ATM,
        LOAD_METERS[node_index],
        "10.00",
        only_node=node_index,
        retry_seconds=RECOVERY_SECONDS,
        timeout=5,
    )
    return (time.monotonic() - since if exchange.acknowledged else None), exchange


def recovery_findings(system: Chaos, since: float) -> list[str]:
    problems = []
    for i, node in enumerate(system.nodes):
        seconds, exchange = recovered(system, i, since)
        if seconds is None:
            problems.append(
                f"{node.name} did not vend again within {RECOVERY_SECONDS:.0f} s: "
                f"{[str(a) for a in exchange.attempts[-3:]]}"
            )
        else:
            print(f"\n  {node.name} vends again {seconds:.1f} s after the fault ended")
    return problems


def test_postgres_fast_restart_under_load(system: Chaos) -> None:
    problems: list[str] = []
    with vend_load(system.bank, ATM, LOAD_METERS, threads=3) as load:
        time.sleep(4)
        started = time.monotonic()
        system.cluster.restart_fast()
        print(f"\n  pg_ctl restart -m fast took {time.monotonic() - started:.1f} s")
        problems += recovery_findings(system, time.monotonic())
        time.sleep(3)
    problems += load_findings(load)
    report(problems, system)


def health_within(node: Node, seconds: float) -> str:
    """What /healthz answers within `seconds`: a status code, or how it failed."""
    started = time.monotonic()
    try:
        status = requests.get(f"{node.base_url}/healthz", timeout=seconds).status_code
        return f"{status} after {time.monotonic() - started:.1f} s"
    except requests.RequestException as exc:
        return f"no answer in {seconds:.0f} s ({type(exc).__name__})"


def test_postgres_frozen_under_load(system: Chaos) -> None:
    problems: list[str] = []
    freeze_seconds = 6.0
    with vend_load(system.bank, ATM, LOAD_METERS, threads=3) as load:
        time.sleep(4)
        with system.cluster.frozen(), ThreadPoolExecutor(len(system.nodes)) as pool:
            frozen_at = time.monotonic()
            time.sleep(1.0)  # the load's requests are stuck on the database by now
            probes = list(pool.map(lambda n: health_within(n, 2.0), system.nodes))
            time.sleep(max(0.0, freeze_seconds - (time.monotonic() - frozen_at)))
        thawed = time.monotonic()
        for node, probe in zip(system.nodes, probes, strict=True):
            print(f"\n  {node.name} /healthz with the database frozen: {probe}")
            if not probe.startswith("503"):
                problems.append(
                    f"{node.name}: /healthz with PostgreSQL frozen answered "
                    f"{probe}; a load balancer needs 503 within 2 s"
                )
        problems += recovery_findings(system, thawed)
        time.sleep(3)
    problems += load_findings(load)
    report(problems, system)
