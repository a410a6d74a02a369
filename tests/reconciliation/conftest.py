"""Fixtures of the reconciliation tests: a small utility (master data, two vendors with funded
floats) on each database, a vending service with a clock the test moves, and vendor report files.

The demo vendors are not used: hashing their terminal secrets costs more than a whole test here,
and the vend path needs only the vendor and a principal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core.db import transaction
from tests.conftest import TestDatabase
from tests.support.reconciliation import BANK, SHOP, Clock, Utility
from vendgw import demo
from vendor_accounts import CommissionRate, add_vendor, deposit


@pytest.fixture
def utility(db: TestDatabase) -> Iterator[Utility]:
    """Master data and two funded vendors: Bank (1.50 % commission) and Shop (none)."""
    with transaction(db.sessions) as session:
        demo.seed_master_data(session, db.runtime.security_module)
        ids = {}
        for client_id, name, bp in ((BANK, "Bank", 150), (SHOP, "Shop", 0)):
            vendor = add_vendor(
                session,
                client_id=client_id,
                name=name,
                kind="agent",
                actor="test",
                commission=CommissionRate(bp),
            )
            deposit(
                session,
                vendor_id=vendor.id,
                amount_cents=10_000_000,
                bank_reference=f"FUND-{client_id}",
                actor="test",
                at=datetime(2026, 10, 1, tzinfo=UTC),
            )
            ids[client_id] = vendor.id
    yield Utility(db, Clock(), ids)
