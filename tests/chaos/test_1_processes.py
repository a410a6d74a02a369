"""Gateway processes killed under a vend load: kill -9 of a worker, kill -9 of a node's master.

The bank retries each msgID on the other node until it gets an answer; afterwards every vend it
was told about must be stored, once, with the tokens it got (the invariants)."""

from __future__ import annotations

import os
import signal
import time

from tests.chaos.attacks import slowloris
from tests.chaos.client import ATM, vend_load
from tests.chaos.cluster import alive, group_members
from tests.chaos.conftest import LOAD_METERS, Chaos, load_findings, report


def test_kill_9_of_a_worker_under_load(system: Chaos) -> None:
    node = system.nodes[0]
    problems: list[str] = []
    with vend_load(system.bank, ATM, LOAD_METERS, threads=3) as load:
        time.sleep(3)
        for _ in range(2):  # twice, a few seconds apart: each time a worker mid-request
            victims = node.wait_workers(node.workers)
            os.kill(victims[0], signal.SIGKILL)
            time.sleep(4)
    problems += load_findings(load)
    if len(node.wait_workers(node.workers)) != node.workers:
        problems.append(
            f"node {node.name} has {node.worker_pids()} workers after the kills, not {node.workers}"
        )
    if not node.healthy():
        problems.append(f"node {node.name} stopped serving after a worker was killed")
    report(problems, system)


def test_kill_9_of_a_master_then_restart(system: Chaos) -> None:
    """The workers must die with their master, even a worker busy with a slow client (no
    unsupervised workers holding the port), and the node must come back on its port at the
    first restart (defect 9). The bank's retries go to the other node meanwhile."""
    node = system.nodes[1]
    problems: list[str] = []
    with vend_load(system.bank, ATM, LOAD_METERS, threads=3) as load:
        time.sleep(3)
        workers = node.wait_workers(node.workers)
        master = node.master_pid()
        # One slow client per worker, mid-request when the master dies (a bank on a bad line).
        with slowloris(node.port, connections=node.workers, drip_every=1.0, max_seconds=40):
            time.sleep(1)
            os.kill(master, signal.SIGKILL)
            assert node.process is not None
            node.process.wait(timeout=10)
            deadline = time.monotonic() + 10
            while any(alive(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.2)
            orphans = [w for w in workers if alive(w)]
            if orphans:
                problems.append(
                    f"kill -9 of {node.name}'s master {master}: its workers "
                    f"{orphans} still run 10 s later, unsupervised"
                )
            restarted = False
            for attempt in range(1, 4):  # what systemd's Restart=always would do
                node.spawn()
                if node.wait_healthy(15):
                    restarted = True
                    break
                last = node.log_tail(2000).strip().splitlines()[-1:]
                problems.append(
                    f"restart {attempt} of {node.name} on port {node.port} failed: {last}"
                )
                node.kill_group()
        if not restarted:
            # So that the later scenarios run: the old session's processes, by their ids.
            for pid in group_members(master):
                os.kill(pid, signal.SIGKILL)
            node.kill_group()
            node.start()
        time.sleep(3)  # vends on the restarted node as well
    problems += load_findings(load)
    report(problems, system)
