"""Requests about one vend sent at the same instant to both nodes (threads released by one
barrier): same-msgID CreditVend retries, ReversalAdvice against ReversalAdvice, against
ConfirmationAdvice, and advice about a vend still in flight.

Vends are on the suite's race meters, whose customers owe debt, so a reversal has debt and month
figures to put back (defect 1 shows in the debt and meter-month invariants)."""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import text

from tests.chaos.client import ATM, Exchange, MsgID, new_msg_id, run_together
from tests.chaos.conftest import RACE_METERS, Chaos, report


class RowLock:
    """A row of the suite's own session locked FOR UPDATE, released from another thread: what a
    concurrent vend holding the vendor's float row or the meter's row looks like to a request,
    made to last long enough that the racing requests all arrive inside it."""

    def __init__(self, system: Chaos, sql: str, params: dict[str, Any]) -> None:
        self.conn = system.engine.connect()
        self.tx = self.conn.begin()
        self.conn.execute(text(sql + " FOR UPDATE"), params)

    def release_after(self, seconds: float) -> None:
        time.sleep(seconds)
        self.tx.rollback()
        self.conn.close()


def float_row_lock(system: Chaos) -> RowLock:
    return RowLock(
        system,
        "SELECT f.vendor_id FROM float_account f JOIN vendor v "
        "ON v.id = f.vendor_id WHERE v.client_id = :c",
        {"c": ATM.client_id},
    )


def meter_row_lock(system: Chaos, meter: str) -> RowLock:
    return RowLock(system, "SELECT id FROM meter WHERE meter_number = :m", {"m": meter})


def stored(system: Chaos, msg_id: MsgID) -> tuple[str, str] | None:
    """(receipt, status) of the vend stored for this msgID of the demo bank, if any."""
    with system.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT receipt_no, status FROM vend_transaction "
                "WHERE client_id = :c AND msg_id = :m"
            ),
            {"c": ATM.client_id, "m": msg_id.key},
        ).first()
    return (row[0], row[1]) if row else None


def answered(exchange: Any) -> str:
    if isinstance(exchange, BaseException):
        return f"raised {exchange!r}"
    answer = exchange.answer
    return (
        str(answer)
        if answer is not None
        else "no answer: " + ", ".join(str(a) for a in exchange.attempts[-3:])
    )


def vend_first(system: Chaos, meter: str, problems: list[str]) -> Exchange | None:
    sold = system.bank.vend(ATM, meter, "50.00")
    if not sold.acknowledged:
        problems.append(f"the vend to be raced over was not sold: {answered(sold)}")
        return None
    return sold


def ok(exchange: Any, element: str) -> bool:
    return (
        not isinstance(exchange, BaseException)
        and exchange.answer is not None
        and exchange.answer.element == element
    )


def test_same_msg_id_credit_vends_on_both_nodes_at_once(system: Chaos) -> None:
    """A bank that timed out retries on the other node while the first try still runs: six
    tries of one msgID at once, three per node, must make one vend and one receipt."""
    problems: list[str] = []
    for round_ in range(8):
        msg_id = new_msg_id()
        meter = RACE_METERS[round_ % len(RACE_METERS)]
        tries = run_together(
            *[
                (
                    lambda i=i, m=msg_id, meter=meter: system.bank.vend(
                        ATM, meter, "20.00", msg_id=m, first_node=i % 2
                    )
                )
                for i in range(6)
            ]
        )
        receipts = {t.answer.receipt if ok(t, "CreditVendResp") else answered(t) for t in tries}
        if len(receipts) != 1:
            problems.append(f"msgID {msg_id.key} sent six times at once: answers {receipts}")
    report(problems, system)


def test_concurrent_reversal_advice(system: Chaos) -> None:
    """Four ReversalAdvice for one vend at once, two per node: one reversal (the float credited
    once, the debt and the month figures put back once) and four success answers (defect 1).
    In half the rounds the vendor's float row is busy (held for 0.5 s, as a concurrent vend of
    the bank holds it) while the four arrive. Each meter first gets vends that stay, so that
    its month figures could absorb a second subtraction without going negative (a CHECK
    constraint would otherwise roll the double reversal back and hide it)."""
    problems: list[str] = []
    for meter in RACE_METERS:
        for _ in range(3):
            vend_first(system, meter, problems)
    for round_ in range(8):
        sold = vend_first(system, RACE_METERS[round_ % len(RACE_METERS)], problems)
        if sold is None:
            continue
        msg_id = sold.msg_id
        calls = [
            (lambda i=i, m=msg_id: system.bank.advise("ReversalAdvice", ATM, m, first_node=i % 2))
            for i in range(4)
        ]
        if round_ % 2:
            lock = float_row_lock(system)
            advices = run_together(*calls, lambda lock=lock: lock.release_after(0.5))[:4]
        else:
            advices = run_together(*calls)
        bad = [answered(a) for a in advices if not ok(a, "ReversalAdviceResp")]
        if bad:
            problems.append(
                f"vend {sold.msg_id.key}: ReversalAdvice x4 at once, not all "
                f"answered success: {bad}"
            )
        if (row := stored(system, sold.msg_id)) is None or row[1] != "reversed":
            problems.append(f"vend {sold.msg_id.key} after four reversals: {row}")
        with system.engine.connect() as conn:
            entries = conn.execute(
                text(
                    "SELECT count(*) FROM journal_entry r JOIN vend_transaction t "
                    "ON r.reversal_of_id = t.journal_entry_id WHERE t.msg_id = :m"
                ),
                {"m": sold.msg_id.key},
            ).scalar_one()
        if entries != 1:
            problems.append(f"vend {sold.msg_id.key}: {entries} reversal journal entries, not 1")
    report(problems, system)


def test_reversal_against_confirmation(system: Chaos) -> None:
    """ReversalAdvice to one node and ConfirmationAdvice to the other at once: at most one may
    succeed, and the vend must end as the successful one said (defect 2)."""
    problems: list[str] = []
    for round_ in range(10):
        sold = vend_first(system, RACE_METERS[round_ % len(RACE_METERS)], problems)
        if sold is None:
            continue
        msg_id = sold.msg_id
        reversal, confirmation = run_together(
            lambda m=msg_id: system.bank.advise("ReversalAdvice", ATM, m, only_node=0),
            lambda m=msg_id: system.bank.advise("ConfirmationAdvice", ATM, m, only_node=1),
        )
        reversed_ok = ok(reversal, "ReversalAdviceResp")
        confirmed_ok = ok(confirmation, "ConfirmationAdviceResp")
        row = stored(system, sold.msg_id)
        status = row[1] if row else None
        if reversed_ok and confirmed_ok:
            problems.append(
                f"vend {sold.msg_id.key}: reversal and confirmation both answered "
                f"success; the vend ended {status}"
            )
        elif confirmed_ok and status != "confirmed":
            problems.append(f"vend {sold.msg_id.key}: confirmed to the client but {status}")
        elif reversed_ok and status != "reversed":
            problems.append(f"vend {sold.msg_id.key}: reversed to the client but {status}")
        elif not (reversed_ok or confirmed_ok):
            problems.append(
                f"vend {sold.msg_id.key}: neither advice succeeded: "
                f"{answered(reversal)} / {answered(confirmation)}"
            )
    report(problems, system)


def _advice_during_vend(system: Chaos, operation: str, rounds: int) -> list[str]:
    """A CreditVend to node a and, a moment later, advice about its msgID to node b (a bank
    whose vend timed out at once): the advice must wait for the vend or say it is in progress (a
    retryable SystemEx, which the bank retries), and an answer that it was never processed must
    stay true (defect 3). In even rounds the meter's row is busy for 0.8 s (as another vend for
    the meter holds it), so the vend is surely in flight when the advice comes 0.2 s after it;
    in odd rounds the advice follows 0-40 ms after the vend, with nothing held."""
    problems: list[str] = []
    rng = random.Random(operation)
    for round_ in range(rounds):
        msg_id = new_msg_id()
        held = round_ % 2 == 0
        delay = 0.2 if held else rng.uniform(0.0, 0.04)
        meter = RACE_METERS[round_ % len(RACE_METERS)]

        def late_advice(delay: float = delay, msg_id: MsgID = msg_id) -> Exchange:
            time.sleep(delay)
            return system.bank.advise(operation, ATM, msg_id, only_node=1)

        def vend(msg_id: MsgID = msg_id, meter: str = meter) -> Exchange:
            return system.bank.vend(ATM, meter, "50.00", msg_id=msg_id, only_node=0)

        if held:
            lock = meter_row_lock(system, meter)
            vend_, advice = run_together(
                vend, late_advice, lambda lock=lock: lock.release_after(0.8)
            )[:2]
        else:
            vend_, advice = run_together(vend, late_advice)
        row = stored(system, msg_id)
        said = answered(advice)
        answer = None if isinstance(advice, BaseException) else advice.answer
        never = (
            answer is not None
            and answer.kind == "fault"
            and (
                (operation == "LastResponseAdvice" and answer.faultcode == "Client.LastResponseEx")
                or (operation == "ReversalAdvice" and answer.code == "unknown-transaction")
            )
        )
        if never and row is not None and row[1] != "reversed":
            problems.append(
                f"{operation} {delay * 1000:.0f} ms after CreditVend {msg_id.key} "
                f"answered {said} (never processed), then the vend committed: "
                f"receipt {row[0]}, {row[1]} (the client was sold {answered(vend_)})"
            )
        elif operation == "LastResponseAdvice" and ok(advice, "LastResponseAdviceResp"):
            if row is None or advice.answer.receipt != row[0]:
                problems.append(
                    f"LastResponseAdvice for {msg_id.key} answered receipt "
                    f"{advice.answer.receipt}, the database has {row}"
                )
        elif operation == "ReversalAdvice" and ok(advice, "ReversalAdviceResp"):
            if row is None or row[1] != "reversed":
                problems.append(
                    f"ReversalAdvice for {msg_id.key} answered success, the vend is {row}"
                )
        elif not never:
            problems.append(f"{operation} for in-flight {msg_id.key}: unexpected answer {said}")
    return problems


def test_last_response_advice_during_the_vend(system: Chaos) -> None:
    report(_advice_during_vend(system, "LastResponseAdvice", 10), system)


def test_reversal_advice_during_the_vend(system: Chaos) -> None:
    report(_advice_during_vend(system, "ReversalAdvice", 10), system)
