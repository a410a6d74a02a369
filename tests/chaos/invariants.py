"""What must hold after every fault, checked against the database and the bank's record.

Each check returns a list of problems (empty when it holds), each a sentence naming the rows
involved, so that a scenario can report every broken invariant at once next to its own symptom.
`check_all` runs them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from tests.chaos.client import Exchange

ROOT = Path(__file__).resolve().parents[2]
# Between what a problem is (the same while nothing new breaks) and the figures behind it (which
# move with every later vend): scenarios report a problem once, by what comes before.
SEP = " -- "


@dataclass(frozen=True)
class Baseline:
    """The state the demo seed left, before the first vend: what the vends' sums start from."""

    debts: dict[int, int]  # customer id -> debt_cents
    months: dict[tuple[int, str], tuple[int, int, int]]  # (meter, month) -> units, fixed, fbe


def take_baseline(engine: Engine) -> Baseline:
    with engine.connect() as conn:
        vends = conn.execute(text("SELECT count(*) FROM vend_transaction")).scalar_one()
        if vends:
            raise RuntimeError("the baseline must be taken before the first vend")
        debts = dict(conn.execute(text("SELECT id, debt_cents FROM customer")).all())
        months = {
            (m, mo): (u, f, b)
            for m, mo, u, f, b in conn.execute(
                text(
                    "SELECT meter_id, month, units_tenths, fixed_charge_paid_cents, "
                    "fbe_units_tenths FROM meter_month"
                )
            )
        }
    return Baseline(debts, months)


def ledger_sums_to_zero(engine: Engine) -> list[str]:
    """Double entry: all postings sum to zero, and so does every journal entry."""
    with engine.connect() as conn:
        total = conn.execute(
            text("SELECT coalesce(sum(amount_cents), 0) FROM posting")
        ).scalar_one()
        bad = conn.execute(
            text(
                "SELECT journal_entry_id, sum(amount_cents) FROM posting GROUP BY journal_entry_id "
                "HAVING sum(amount_cents) <> 0 ORDER BY 1 LIMIT 10"
            )
        ).all()
    problems = (
        [f"money not conserved: the ledger's postings sum to {total} cents, not 0"] if total else []
    )
    problems += [
        f"journal entry {e} does not balance: its postings sum to {s} cents" for e, s in bad
    ]
    return problems


def command_clean(env: dict[str, str], *command: str) -> list[str]:
    """`vendgw COMMAND...`, as an operator runs it, exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "vendgw.cli", *command],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == 0:
        return []
    return [
        f"`vendgw {' '.join(command)}` exited {done.returncode}: "
        f"{(done.stderr or done.stdout).strip()[-800:]}"
    ]


def one_vend_per_msg_id(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT client_id, msg_id, count(*), string_agg(receipt_no, ',') "
                "FROM vend_transaction GROUP BY client_id, msg_id HAVING count(*) > 1 LIMIT 10"
            )
        ).all()
    return [f"({c}, {m}) has {n} vends (receipts {r}), not one" for c, m, n, r in rows]


def meter_months_match_vends(engine: Engine, base: Baseline) -> list[str]:
    """Each meter_month row = the seed's figures + the sums of its non-reversed vends (a
    reversal takes off what its vend added: units, fixed charge, FBE units)."""
    with engine.connect() as conn:
        sums = {
            (m, mo): (int(u), int(f), int(b))
            for m, mo, u, f, b in conn.execute(
                text(
                    "SELECT meter_id, month, sum(units_tenths), sum(fixed_charge_cents), "
                    "sum(fbe_units_tenths) FROM vend_transaction "
                    "WHERE status <> 'reversed' AND meter_id IS NOT NULL "
                    "AND kind IN ('credit', 'fbe', 'voucher') "
                    "GROUP BY meter_id, month"
                )
            )
        }
        rows = {
            (m, mo): (u, f, b)
            for m, mo, u, f, b in conn.execute(
                text(
                    "SELECT meter_id, month, units_tenths, fixed_charge_paid_cents, "
                    "fbe_units_tenths FROM meter_month"
                )
            )
        }
        numbers = dict(conn.execute(text("SELECT id, meter_number FROM meter")).all())
    problems = []
    for key in sorted(set(sums) | set(rows) | set(base.months)):
        seed = base.months.get(key, (0, 0, 0))
        want = tuple(s + v for s, v in zip(seed, sums.get(key, (0, 0, 0)), strict=True))
        have = rows.get(key, (0, 0, 0))
        if have != want:
            off = tuple(h - w for h, w in zip(have, want, strict=True))
            problems.append(
                f"meter {numbers.get(key[0], key[0])} month {key[1]}: off by {off}{SEP}"
                f"meter_month says units/fixed/fbe {have}, its non-reversed vends sum to {want}"
            )
    return problems


def debts_match_vends(engine: Engine, base: Baseline) -> list[str]:
    """Each customer's debt = the seed's debt - what its non-reversed vends recovered."""
    with engine.connect() as conn:
        recovered = dict(
            conn.execute(
                text(
                    "SELECT customer_id, sum(debt_recovered_cents) FROM vend_transaction "
                    "WHERE status <> 'reversed' AND customer_id IS NOT NULL GROUP BY customer_id"
                )
            ).all()
        )
        now = conn.execute(text("SELECT id, account_no, debt_cents FROM customer")).all()
    problems = []
    for customer_id, account, debt in now:
        want = base.debts.get(customer_id, 0) - int(recovered.get(customer_id, 0))
        if debt != want:
            problems.append(
                f"customer {account}: off by {debt - want} cents{SEP}debt {debt} cents, but the "
                f"seed's "
                f"{base.debts.get(customer_id, 0)} less {int(recovered.get(customer_id, 0))} "
                f"recovered by its non-reversed vends is {want}"
            )
    return problems


def tids_increase_per_meter(engine: Engine) -> list[str]:
    """Every credit/FBE token of a meter has a TID above the one before it (in the order the
    vends were stored), and the meter's last_tid is the highest issued."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.meter_number, t.receipt_no, k.kind, k.tid FROM vend_token k "
                "JOIN vend_transaction t ON t.id = k.transaction_id "
                "JOIN meter m ON m.id = t.meter_id "
                "ORDER BY m.meter_number, t.id, k.seq"
            )
        ).all()
        last = dict(conn.execute(text("SELECT meter_number, last_tid FROM meter")).all())
    problems = []
    previous: dict[str, tuple[int, str]] = {}
    for meter, receipt, kind, tid in rows:
        if kind == "keychange":
            previous.pop(meter, None)  # a new key may roll the TID base over
            continue
        if tid is None:
            continue
        before = previous.get(meter)
        if before is not None and tid <= before[0]:
            problems.append(
                f"meter {meter}: receipt {receipt} has TID {tid}, not above TID "
                f"{before[0]} of receipt {before[1]} stored before it"
            )
        previous[meter] = (tid, receipt)
    for meter, (tid, receipt) in previous.items():
        if last.get(meter) is not None and last[meter] < tid:
            problems.append(
                f"meter {meter}: last_tid {last[meter]} is below TID {tid} issued on "
                f"receipt {receipt}"
            )
    return problems[:20]


def acknowledged_vends_stored(engine: Engine, journal: Iterable[Exchange]) -> list[str]:
    """Every VendResp a client received is a stored vend with that receipt and those tokens."""
    with engine.connect() as conn:
        stored = {
            (c, m): (r, s)
            for c, m, r, s in conn.execute(
                text("SELECT client_id, msg_id, receipt_no, status FROM vend_transaction")
            )
        }
        tokens: dict[str, list[str]] = defaultdict(list)
        for receipt, token in conn.execute(
            text(
                "SELECT t.receipt_no, k.token FROM vend_token k "
                "JOIN vend_transaction t ON t.id = k.transaction_id ORDER BY t.id, k.seq"
            )
        ):
            tokens[receipt].append(token)
    problems = []
    for exchange in journal:
        for answer in exchange.acknowledged:
            key = (exchange.terminal.client_id, exchange.msg_id.key)
            if key not in stored:
                problems.append(
                    f"{exchange.operation} {key} was acknowledged by "
                    f"{answer.node} with receipt {answer.receipt}, but no vend is "
                    "stored for it"
                )
                continue
            receipt, _status = stored[key]
            if receipt != answer.receipt:
                problems.append(
                    f"{key}: the client got receipt {answer.receipt} from "
                    f"{answer.node}, the database has {receipt}"
                )
            elif sorted(tokens[receipt]) != sorted(answer.tokens):
                problems.append(
                    f"{key}: receipt {receipt} was answered with tokens "
                    f"{list(answer.tokens)}, the database has {tokens[receipt]}"
                )
    return problems[:20]


def retries_get_one_receipt(journal: Iterable[Exchange]) -> list[str]:
    """A msgID asked again (a retry, on either node, by any thread) never gets another receipt
    or other tokens."""
    seen: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = defaultdict(set)
    for exchange in journal:
        key = (exchange.terminal.client_id, exchange.msg_id.key)
        seen[key] |= {(a.receipt, tuple(sorted(a.tokens))) for a in exchange.acknowledged}
    return [
        f"CreditVend {key[1]} got different receipts on retry: {sorted(answers)}"
        for key, answers in seen.items()
        if len(answers) > 1
    ]


def check_all(
    engine: Engine, base: Baseline, journal: list[Exchange], env: dict[str, str]
) -> list[str]:
    """Every invariant; each problem prefixed with the invariant's name."""
    checks = {
        "ledger": lambda: ledger_sums_to_zero(engine),
        "float verify": lambda: command_clean(env, "float", "verify"),
        # The product's own check of the ledger, the meter months and every vend's tokens.
        "vendgw verify": lambda: command_clean(env, "verify"),
        "one vend per msgID": lambda: one_vend_per_msg_id(engine),
        "meter months": lambda: meter_months_match_vends(engine, base),
        "debts": lambda: debts_match_vends(engine, base),
        "TIDs": lambda: tids_increase_per_meter(engine),
        "acknowledged vends stored": lambda: acknowledged_vends_stored(engine, journal),
        "retries": lambda: retries_get_one_receipt(journal),
    }
    return [
        f"[invariant: {name}] {problem}" for name, check in checks.items() for problem in check()
    ]
