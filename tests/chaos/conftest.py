"""The fault-injection suite's fixtures: a PostgreSQL cluster of its own, the demo utility in it,
two gateway nodes on it, and a bank that records every answer.

`make chaos` runs this suite (it sets VENDGW_CHAOS=1); `make test` does not collect it: it takes
minutes, starts and kills servers and a database cluster, and needs root (to run PostgreSQL as
the `postgres` user). Everything is session-scoped: the scenarios run one after another against
the same nodes and database, and the invariants hold over the whole history, so each scenario's
check also covers every earlier one.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from sts import luhn_check_digit
from tests.chaos.client import ATM, POS, RETRY_SECONDS, Bank, LoadResult
from tests.chaos.cluster import ROOT, Node, PgCluster
from tests.chaos.invariants import SEP, Baseline, check_all, take_baseline

if os.environ.get("VENDGW_CHAOS") != "1":
    # Not part of `make test`: collected only by `make chaos` (VENDGW_CHAOS=1).
    collect_ignore_glob = ["test_*.py"]

MASTER_KEY = "33" * 32  # a throw-away key for the suite's throw-away database
DATABASE = "vendgw_chaos"


def _meter(n: int) -> str:
    drn = f"06{n:08d}"
    return drn + luhn_check_digit(drn)


# Meters of the suite's own: the load's (no debt) and the advice races' (with debt to restore).
LOAD_METERS = [_meter(n) for n in range(1, 9)]
RACE_METERS = [_meter(n) for n in range(11, 15)]
DEBT_CENTS = 100000  # 1000.00 each, recovered at 20 %: a 50.00 vend recovers 10.00


def _meter_csv(path: Path) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "meter_number",
                "iin",
                "sgc",
                "ti",
                "krn",
                "kt",
                "ea",
                "tct",
                "base_date",
                "tariff",
                "status",
                "account_no",
                "customer_name",
                "address",
                "debt",
                "recovery_rate_pct",
                "fbe",
            ]
        )
        for i, number in enumerate(LOAD_METERS + RACE_METERS, start=1):
            race = number in RACE_METERS
            out.writerow(
                [
                    number,
                    "600727",
                    "123456",
                    "01",
                    "1",
                    "2",
                    "07",
                    "02",
                    "2014",
                    "DOMESTIC",
                    "active",
                    f"CHAOS-{i:03d}",
                    f"Chaos Customer {i}",
                    f"{i} Fault Road",
                    f"{DEBT_CENTS / 100:.2f}" if race else "0.00",
                    "20" if race else "0",
                    "yes" if i % 3 == 0 else "no",
                ]
            )


@dataclass
class Chaos:
    cluster: PgCluster
    engine: Engine
    env: dict[str, str]
    nodes: list[Node]
    bank: Bank
    baseline: Baseline

    reported: set[str] = field(default_factory=set)

    def invariant_problems(self) -> list[str]:
        """Broken invariants not reported by an earlier scenario. The invariants hold over the
        whole run, so one scenario's breakage would otherwise fail every later one too; what
        was reported already is printed as carried over, and fails nothing twice."""
        problems = check_all(self.engine, self.baseline, self.bank.exchanges(), self.env)
        new = [p for p in problems if p.split(SEP)[0] not in self.reported]
        carried = len(problems) - len(new)
        if carried:
            print(f"\n  ({carried} invariant problem(s) carried over from earlier scenarios)")
        self.reported |= {p.split(SEP)[0] for p in problems}
        return new

    def ensure_nodes(self) -> None:
        """Both nodes serving before a scenario, whatever the last one left behind."""
        for node in self.nodes:
            if not node.healthy():
                node.kill_group()
                node.start()


def vendgw(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vendgw.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"vendgw {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def cluster() -> Iterator[PgCluster]:
    # `make chaos` runs under timeout(1): its SIGTERM must still stop the nodes and the cluster
    # (pytest runs the finalizers on KeyboardInterrupt, not on a bare SIGTERM).
    signal.signal(signal.SIGTERM, _interrupt)
    pg = PgCluster()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="session")
def chaos(cluster: PgCluster) -> Iterator[Chaos]:
    admin = create_engine(f"{cluster.server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    url = f"{cluster.server_url}/{DATABASE}"
    home = Path(tempfile.mkdtemp(prefix="vendgw-chaos-home-"))
    env = {"VENDGW_DATABASE_URL": url, "VENDGW_MASTER_KEY": MASTER_KEY, "VENDGW_HOME": str(home)}
    vendgw(env, "db", "upgrade")
    vendgw(env, "demo", "seed")
    _meter_csv(home / "chaos-meters.csv")
    vendgw(env, "meter", "import", str(home / "chaos-meters.csv"))
    # Enough float that no scenario runs out: the load is about vends, not VendorCreditEx.
    vendgw(
        env,
        "float",
        "deposit",
        "--vendor",
        ATM.client_id,
        "--amount",
        "1000000.00",
        "--ref",
        "CHAOS-FUND-ATM",
    )
    vendgw(
        env,
        "float",
        "deposit",
        "--vendor",
        POS.client_id,
        "--amount",
        "100000.00",
        "--ref",
        "CHAOS-FUND-POS",
    )
    # pool_pre_ping: the suite's own reads survive the PostgreSQL restarts it causes.
    engine = create_engine(url, pool_pre_ping=True)
    baseline = take_baseline(engine)
    nodes = [Node(name, env, home) for name in ("chaos-a", "chaos-b")]
    try:
        for node in nodes:
            node.start()
        bank = Bank([(n.name, n.base_url) for n in nodes])
        yield Chaos(cluster, engine, env, nodes, bank, baseline)
    finally:
        for node in nodes:
            node.stop()
        engine.dispose()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def system(chaos: Chaos) -> Chaos:
    """The running system, both nodes serving, for one scenario."""
    chaos.ensure_nodes()
    return chaos


def load_findings(load: LoadResult, what: str = "the load") -> list[str]:
    """What a vend load must show whatever the fault: every vend answered, and answered with a
    vend (a load refused wholesale would prove nothing about the vend path)."""
    print(f"\n  {what}: {load.summary()}")
    problems = []
    if load.unanswered:
        sample = [str(a) for a in load.unanswered[0].attempts[-3:]]
        problems.append(
            f"{what}: {len(load.unanswered)} of {len(load.exchanges)} vends never got "
            f"an answer in {RETRY_SECONDS:.0f} s of retries (same msgID), e.g. "
            f"{load.unanswered[0].msg_id.key}: {sample}"
        )
    refused = [e.answer for e in load.exchanges if e.answer is not None and not e.acknowledged]
    if len(refused) > len(load.exchanges) // 20:
        problems.append(
            f"{what}: {len(refused)} of {len(load.exchanges)} vends were refused, "
            f"e.g. {refused[0]}: {refused[0].detail}"
        )
    return problems


def report(scenario: list[str], chaos: Chaos) -> None:
    """Fail with the scenario's own findings and every broken invariant, all at once."""
    problems = scenario + chaos.invariant_problems()
    assert not problems, "\n".join(problems)
