"""The call centre's and the dashboard's queries of the vend domain, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import transaction, utcnow
from core.localtime import utility_zone
from core.models import AuditEvent
from gateway import errors
from gateway.vend import activity, customer_care
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader
from tests.conftest import TestDatabase
from vendor_accounts import get_terminal, get_vendor, list_terminals, set_allowed_addresses

BANK, ATM = "6004000000019", "ATM-0001"


def _vend(db: TestDatabase, meter: str, cents: int, unique: int) -> None:
    with db.sessions() as session:
        vendor = get_vendor(session, BANK)
        terminal = get_terminal(session, BANK, ATM)
        who = Principal(vendor.id, BANK, ATM, frozenset(terminal.privileges), vendor.kind)
    head = RequestHeader(BANK, ATM, MsgID("20261201080000", unique))
    DatabaseVendingService(db.runtime).credit_vend(who, head, meter, cents, "cash")


def test_search_by_number_account_and_name(demo_db: TestDatabase) -> None:
    with transaction(demo_db.sessions) as session:
        by_prefix = customer_care.search_meters(session, "0400000001")
        assert {h.meter_number for h in by_prefix} == {"04000000010"}
        assert [h.meter_number for h in customer_care.search_meters(session, "ACC-0001")] == [
            "01234567897"
        ]
        assert customer_care.search_meters(session, "MOKOENA")[0].customer_name == (
            "Thandi Mokoena"
        )
        assert customer_care.search_meters(session, "_") == []  # a wildcard is a character
        assert customer_care.search_meters(session, "   ") == []
        assert len(customer_care.search_meters(session, "0", limit=3)) == 3


def test_vends_tokens_receipt_and_block(demo_db: TestDatabase) -> None:
    _vend(demo_db, "01234567897", 5000, 1)
    _vend(demo_db, "01234567897", 2000, 2)
    with transaction(demo_db.sessions) as session:
        vends = customer_care.meter_vends(session, "01234567897")
        assert [v.tender_cents for v in vends] == [2000, 5000]  # newest first
        assert all(len(t.token) == 20 for v in vends for t in v.tokens)
        receipt = customer_care.stored_receipt(session, vends[0].receipt_no)
        assert receipt.tender_cents == 2000
        assert [t for line in receipt.lines for t in line.tokens] == [
            t.token for t in vends[0].tokens
        ]
        with pytest.raises(customer_care.UnknownReceipt):
            customer_care.stored_receipt(session, "nope")
        with pytest.raises(ValueError):
            customer_care.set_meter_status(session, "01234567897", "blocked", reason=" ", actor="t")
        assert (
            customer_care.set_meter_status(
                session, "01234567897", "blocked", reason="fraud", actor="t"
            )
            == "active"
        )
        with pytest.raises(errors.UnknownMeter):
            customer_care.meter_card(session, "04000000994")
        assert customer_care.meter_card(session, "04000000036").debt_cents == 50000
    with pytest.raises(errors.BlockedMeter):
        _vend(demo_db, "01234567897", 2000, 3)
    with transaction(demo_db.sessions) as session:
        detail = session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "meter.block"))
        assert detail is not None and "fraud" in detail


def test_the_days_activity(demo_db: TestDatabase) -> None:
    _vend(demo_db, "01234567897", 5000, 11)
    _vend(demo_db, "04000000044", 20000, 12)
    with pytest.raises(errors.BlockedMeter):
        _vend(demo_db, "04000000010", 5000, 13)
    now = utcnow()
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    zone = utility_zone("Africa/Johannesburg")
    with transaction(demo_db.sessions) as session:
        sold = activity.sales(session, start, end)
        assert (sold.vends, sold.tender_cents, sold.reversed_vends) == (2, 25000, 0)
        hours = activity.vends_per_hour(session, start - timedelta(hours=23), end, zone)
        assert len(hours) == 24 and sum(c for _h, c in hours) == 2
        assert activity.faults_by_type(session, start, end) == [("BlockedMeterEx", 1)]
        assert activity.sales(session, end, end + timedelta(hours=1)).vends == 0


def test_allowed_addresses_and_the_terminal_list(demo_db: TestDatabase) -> None:
    with transaction(demo_db.sessions) as session:
        before = {t.code: t for t in list_terminals(session, BANK)}[ATM]
        set_allowed_addresses(
            session,
            client_id=BANK,
            terminal_code=ATM,
            allowed_cidrs=["10.0.0.1, 10.1.0.0/16"],
            actor="t",
        )
        after = {t.code: t for t in list_terminals(session, BANK)}[ATM]
        assert after.allowed_cidrs == "10.0.0.1/32 10.1.0.0/16"
        assert after.credential_version == before.credential_version + 1
        assert "vend" in after.privileges
