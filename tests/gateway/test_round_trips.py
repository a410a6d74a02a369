"""The round trips of one CreditVend on PostgreSQL, authentication included, pinned to README.

How they are counted: the application (the real /vend WSGI app in this process, its production
engines) reaches PostgreSQL through a TCP relay (tests/support/sql_capture.py) that reads the
client's side of the PostgreSQL protocol. psycopg2 uses the simple query protocol only, so each
round trip is exactly one Query message, answered by the server before the next is sent; the
relay counts them, including the `BEGIN` psycopg2 sends by itself before a transaction's first
statement and the `COMMIT` of `connection.commit()`, which SQLAlchemy's `before_cursor_execute`
never sees. The listener counts the statements; the wire must hold those statements, in order,
plus only BEGIN/COMMIT. The vend measured is the third for the meter: the first two opened the
pools' connections, prepared every statement and read the tariff, as on a running server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import TestDatabase
from tests.support.sql_capture import credit_vends, normalise, warmed_up

README = Path(__file__).resolve().parents[2] / "README.md"
WORDS = {
    w: n
    for n, w in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        )
    )
}


def readme_figures() -> tuple[int, int]:
    """README's figures for one CreditVend: (round trips, statements)."""
    text = " ".join(README.read_text().split())
    found = re.search(
        r"a warmed-up CreditVend costs (\w+) round trips, authentication included: "
        r"(\w+) statements",
        text,
    )
    assert found, "README no longer states a CreditVend's round trips and statements"
    return WORDS[found.group(1)], WORDS[found.group(2)]


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_credit_vend_round_trips_are_readmes(demo_db: TestDatabase, tmp_path: Path) -> None:
    round_trips, statements = readme_figures()
    with credit_vends(str(demo_db.engine.url.database), tmp_path) as vend:
        captured = warmed_up(vend)
    wire = [normalise(q) for q in captured.wire]
    driver_own = [q for q in wire if q in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert driver_own == ["BEGIN", "COMMIT"], wire
    # The wire holds the listener's statements, in order, with their values bound.
    sent = [q for q in wire if q not in driver_own]
    assert [q.split("(")[0] for q in sent] == [s.split("(")[0] for s in captured.statements]
    assert len(captured.statements) == statements, captured.sequence()
    assert captured.round_trips == round_trips, captured.sequence()
    # Authentication reads outside the vend's transaction (the autocommit pool): before BEGIN.
    assert captured.sequence()[0].startswith("EXECUTE vendgw_credentials(")
    assert wire.index("BEGIN") == 1
