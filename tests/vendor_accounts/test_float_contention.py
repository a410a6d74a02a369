"""Many terminals of one vendor selling at once: the float never overdraws, never loses a cent.

32 threads, each with its own session, each try 50 debits of random amounts on ONE vendor whose
float (with a small credit line) covers only part of them. Afterwards the successful debits,
chained in ledger order, must explain every balance exactly.
"""

from __future__ import annotations

import random
import threading

from click.testing import CliRunner
from sqlalchemy import select

from core.db import transaction
from tests.support.vendor_accounts import TZ, new_vendor, split_of
from vendor_accounts import (
    CommissionRate,
    InsufficientFloat,
    VendPosting,
    balance,
    check_invariants,
    commission_cents,
    post_vend,
)
from vendor_accounts.cli import float_group
from vendor_accounts.models import JournalEntry, Posting

THREADS = 32
DEBITS_PER_THREAD = 50
OPENING = 2_000_000
FLOOR = -50_000
RATE = CommissionRate(basis_points=150)


def test_concurrent_debits_never_overdraw_and_add_up_exactly(db):
    with transaction(db.sessions) as s:
        vendor_id = new_vendor(
            s, funded_cents=OPENING, floor_cents=FLOOR, commission_bp=RATE.basis_points
        ).id

    successes: list[tuple[int, VendPosting]] = []
    refusals: list[InsufficientFloat] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def terminal(n: int) -> None:
        rng = random.Random(n)
        try:
            start.wait()
            for i in range(DEBITS_PER_THREAD):
                amount = rng.randint(500, 5_000)
                try:
                    with transaction(db.sessions) as s:
                        posted = post_vend(
                            s,
                            vendor_id=vendor_id,
                            amount_cents=amount,
                            split=split_of(amount),
                            reference=f"T{n}-{i}",
                            timezone=TZ,
                        )
                except InsufficientFloat as refused:
                    with lock:
                        refusals.append(refused)
                else:
                    with lock:
                        successes.append((amount, posted))
        except BaseException as exc:  # any other error fails the test below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=terminal, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(successes) + len(refusals) == THREADS * DEBITS_PER_THREAD
    # The float covers only some of the debits (about 2.75 M of demand against 2.05 M).
    assert successes and refusals
    assert all(p.balance_after_cents >= FLOOR for _, p in successes)
    assert all(r.available_cents < r.amount_cents for r in refusals)

    net = sum(amount - commission_cents(RATE, amount_cents=amount) for amount, _ in successes)
    with transaction(db.sessions) as s:
        final = balance(s, vendor_id)
        assert final.balance_cents == OPENING - net
        assert final.balance_cents >= FLOOR
        # Chained in ledger order, every debit starts where the previous one ended.
        running = OPENING
        for amount, posted in sorted(successes, key=lambda sp: sp[1].journal_entry_id):
            running -= amount - commission_cents(RATE, amount_cents=amount)
            assert posted.balance_after_cents == running
        vends = s.scalars(select(JournalEntry.id).where(JournalEntry.kind == "vend")).all()
        assert len(vends) == len(successes)
        total = sum(s.scalars(select(Posting.amount_cents)).all())
        assert total == 0
        assert check_invariants(s) == []

    result = CliRunner().invoke(float_group, ["verify"], obj=db.runtime)
    assert result.exit_code == 0, result.output
    assert "ledger verified" in result.output
