"""The database itself guards the ledger: raw SQL that bypasses the package is refused.

These tests write SQL directly, as a careless script or a compromised process would. Journal
entries and postings are append-only on both databases; on PostgreSQL an unbalanced entry is
refused at commit, on SQLite (no deferred triggers) the invariant check finds it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.db import transaction
from tests.support.vendor_accounts import TZ, new_vendor, split_of
from vendor_accounts import check_invariants, post_vend, reverse_vend


@pytest.fixture
def ledger_db(db):
    """A vendor with a deposit and a vend, so every ledger table has rows."""
    with transaction(db.sessions) as s:
        v = new_vendor(s, funded_cents=50_000)
        vend = post_vend(
            s,
            vendor_id=v.id,
            amount_cents=1_000,
            split=split_of(1_000),
            reference="V-1",
            timezone=TZ,
        )
    db.vendor_id = v.id
    db.vend_id = vend.journal_entry_id
    return db


def _raw(db, sql: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE posting SET amount_cents = amount_cents + 1",
        "UPDATE posting SET account = 'bank' WHERE account = 'vendor_float'",
        "DELETE FROM posting",
        "UPDATE journal_entry SET reference = 'changed'",
        "DELETE FROM journal_entry WHERE kind = 'vend'",
    ],
)
def test_ledger_rows_cannot_be_updated_or_deleted(ledger_db, sql):
    with pytest.raises(DBAPIError, match="append-only"):
        _raw(ledger_db, sql)
    with transaction(ledger_db.sessions) as s:
        assert check_invariants(s) == []


def test_the_balance_cannot_be_set_below_the_floor(ledger_db):
    with pytest.raises(IntegrityError, match="balance_not_below_floor"):
        _raw(ledger_db, "UPDATE float_account SET balance_cents = floor_cents - 1")


@pytest.mark.parametrize(
    ("account", "amount", "constraint"),
    [
        ("vendor_float", 0, "amount_not_zero"),
        ("petty_cash", 5, "account_known"),
    ],
)
def test_postings_are_checked(ledger_db, account, amount, constraint):
    with pytest.raises(IntegrityError, match=constraint):
        _raw(
            ledger_db,
            "INSERT INTO posting (journal_entry_id, account, amount_cents) VALUES (:e, :a, :v)",
            e=ledger_db.vend_id,
            a=account,
            v=amount,
        )


def test_a_vend_is_reversed_at_most_once_even_by_hand(ledger_db):
    with transaction(ledger_db.sessions) as s:
        reverse_vend(s, journal_entry_id=ledger_db.vend_id, reference="R-1", timezone=TZ)
    with pytest.raises(IntegrityError):
        _raw(
            ledger_db,
            "INSERT INTO journal_entry (vendor_id, kind, reference, at, "
            "reversal_of_id, created_at) VALUES (:v, 'reversal', 'R-2', "
            "CURRENT_TIMESTAMP, :e, CURRENT_TIMESTAMP)",
            v=ledger_db.vendor_id,
            e=ledger_db.vend_id,
        )


def test_a_bank_reference_is_deposited_once_even_by_hand(ledger_db):
    with pytest.raises(IntegrityError, match=r"uq_journal_entry_deposit_reference|UNIQUE"):
        _raw(
            ledger_db,
            "INSERT INTO journal_entry (vendor_id, kind, reference, at, created_at) "
            "VALUES (:v, 'deposit', 'FUND-1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            v=ledger_db.vendor_id,
        )


def test_an_adjustment_needs_a_reason_and_an_operator(ledger_db):
    with pytest.raises(IntegrityError, match="adjustment_has_reason"):
        _raw(
            ledger_db,
            "INSERT INTO journal_entry (vendor_id, kind, reference, at, operator, "
            "reason, created_at) VALUES (:v, 'adjustment', 'A-1', CURRENT_TIMESTAMP, "
            "'ops', '', CURRENT_TIMESTAMP)",
            v=ledger_db.vendor_id,
        )


UNBALANCED = [
    "INSERT INTO journal_entry (id, vendor_id, kind, reference, at, created_at) "
    "VALUES (1000, :v, 'deposit', 'HAND-1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO posting (journal_entry_id, account, amount_cents) "
    "VALUES (1000, 'vendor_float', 500)",
    "INSERT INTO posting (journal_entry_id, account, amount_cents) VALUES (1000, 'bank', -499)",
]


def _write(db, statements: list[str]) -> None:
    with db.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql), {"v": db.vendor_id})


def test_an_unbalanced_entry_is_refused_at_commit_on_postgresql(ledger_db):
    if ledger_db.backend != "postgresql":
        pytest.skip("SQLite has no deferred triggers; see the next test")
    with pytest.raises(IntegrityError, match="journal entry 1000 is unbalanced"):
        _write(ledger_db, UNBALANCED)
    # An entry with no postings at all is refused too.
    with pytest.raises(IntegrityError, match="0 postings"):
        _write(ledger_db, UNBALANCED[:1])
    # Balanced by the time of the commit: legs written one by one are fine (the check defers).
    _write(
        ledger_db,
        [
            *UNBALANCED[:2],
            "INSERT INTO posting (journal_entry_id, account, amount_cents) "
            "VALUES (1000, 'bank', -500)",
            "UPDATE float_account SET balance_cents = balance_cents + 500",
        ],
    )
    with transaction(ledger_db.sessions) as s:
        assert check_invariants(s) == []


def test_a_posting_added_later_to_an_old_entry_is_refused_on_postgresql(ledger_db):
    if ledger_db.backend != "postgresql":
        pytest.skip("SQLite has no deferred triggers")
    with pytest.raises(IntegrityError, match="unbalanced"):
        _write(
            ledger_db,
            [
                f"INSERT INTO posting (journal_entry_id, account, amount_cents) "
                f"VALUES ({ledger_db.vend_id}, 'adjustments', 1)"
            ],
        )


def test_the_invariant_check_finds_what_sqlite_lets_through(ledger_db):
    if ledger_db.backend != "sqlite":
        pytest.skip("PostgreSQL refuses these rows at commit")
    _write(ledger_db, UNBALANCED)
    with transaction(ledger_db.sessions) as s:
        problems = check_invariants(s)
    assert {p.code for p in problems} == {"unbalanced-entry", "balance-mismatch"}
    assert any(p.journal_entry_id == 1000 for p in problems)


def test_the_invariant_check_finds_a_float_changed_by_hand(ledger_db):
    _raw(ledger_db, "UPDATE float_account SET balance_cents = balance_cents + 1")
    with transaction(ledger_db.sessions) as s:
        problems = check_invariants(s)
    assert [p.code for p in problems] == ["balance-mismatch"]
    assert problems[0].vendor_id == ledger_db.vendor_id
