"""SQLite's "database is locked": the debit retries it instead of failing the vend."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from core.db import transaction
from tests.support.vendor_accounts import TZ, new_vendor, split_of
from vendor_accounts import balance, check_invariants, post_vend


def test_a_debit_waits_out_another_writer_without_busy_timeout(db):
    if db.backend != "sqlite":
        pytest.skip("SQLite only")
    with transaction(db.sessions) as s:
        vendor_id = new_vendor(s, funded_cents=10_000).id
    # An engine that neither waits (timeout 0) nor begins with BEGIN IMMEDIATE: the first tries
    # of the UPDATE fail at once with "database is locked".
    engine = create_engine(db.url, connect_args={"timeout": 0})
    blocker = sqlite3.connect(
        db.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, blocker.execute, args=("COMMIT",))
    release.start()
    try:
        started = time.monotonic()
        with sessionmaker(engine)() as s, s.begin():
            posted = post_vend(
                s,
                vendor_id=vendor_id,
                amount_cents=1_000,
                split=split_of(1_000),
                reference="V-1",
                timezone=TZ,
            )
        assert time.monotonic() - started >= 0.25  # it really had to wait for the blocker
    finally:
        release.join()
        blocker.close()
        engine.dispose()
    assert posted.balance_after_cents == 9_000
    with transaction(db.sessions) as s:
        assert balance(s, vendor_id).balance_cents == 9_000
        assert check_invariants(s) == []
