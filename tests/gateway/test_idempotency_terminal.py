"""A retry is the same request from the same terminal (issue 14).

(clientID, msgID) is the idempotency key, so two terminals of one vendor share a msgID space. A
second terminal that reuses the first one's msgID with the same meter and amount is not
retrying: it must get the DuplicateMsgIDEx a differing retry gets, never the first terminal's
receipt and token. Records stored before the terminal was checked keep answering their own
terminal's retries (a retry across the deploy is still a retry). On both databases, through the
real DatabaseVendingService.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.db import transaction
from gateway import errors
from gateway.vend import idempotency
from gateway.vend.models import VendRequest, VendTransaction
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader
from tests.conftest import TestDatabase
from vendor_accounts import floats, vendors

BANK = "6004000000019"
METER = "01234567897"
BLOCKED_METER = "04000000010"


def principal(db: TestDatabase, terminal_id: str) -> Principal:
    with db.sessions() as session:
        vendor = vendors.get_vendor(session, BANK)
        terminal = vendors.get_terminal(session, BANK, terminal_id)
        privileges = (
            frozenset(terminal.privileges.split(","))
            if isinstance(terminal.privileges, str)
            else frozenset(terminal.privileges)
        )
        return Principal(vendor.id, BANK, terminal_id, privileges, vendor.kind)


@pytest.fixture
def terminals(demo_db: TestDatabase) -> tuple[Principal, Principal]:
    with transaction(demo_db.sessions) as session:
        vendors.add_terminal(
            session,
            client_id=BANK,
            terminal_code="ATM-0002",
            actor="test",
            privileges=("vend", "reprint"),
            verifier_key=demo_db.runtime.verifier_key,
        )
    return principal(demo_db, "ATM-0001"), principal(demo_db, "ATM-0002")


def head(who: Principal, unique: int) -> RequestHeader:
    return RequestHeader(who.client_id, who.terminal_id, MsgID("20261120103000", unique))


def available(db: TestDatabase, who: Principal) -> int:
    with db.sessions() as session:
        return floats.balance(session, who.vendor_id).available_cents


def vends(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(VendTransaction)) or 0


def test_another_terminal_reusing_a_msgid_gets_duplicate_not_the_receipt(
    demo_db: TestDatabase, terminals: tuple[Principal, Principal]
) -> None:
    first, second = terminals
    service = DatabaseVendingService(demo_db.runtime)
    receipt = service.credit_vend(first, head(first, 41), METER, 2000, "cash")
    float_after, vends_after = available(demo_db, first), vends(demo_db)

    with pytest.raises(errors.DuplicateMsgID) as caught:
        service.credit_vend(second, head(second, 41), METER, 2000, "cash")
    assert caught.value.fault_type == "DuplicateMsgIDEx"
    assert receipt.lines[-1].tokens[0] not in caught.value.message

    # Nothing moved, and the first terminal's own retry still gets its receipt.
    assert (available(demo_db, first), vends(demo_db)) == (float_after, vends_after)
    assert service.credit_vend(first, head(first, 41), METER, 2000, "cash") == receipt


def test_another_terminal_does_not_get_a_remembered_refusal_either(
    demo_db: TestDatabase, terminals: tuple[Principal, Principal]
) -> None:
    first, second = terminals
    service = DatabaseVendingService(demo_db.runtime)
    with pytest.raises(errors.BlockedMeter):
        service.credit_vend(first, head(first, 42), BLOCKED_METER, 2000, "cash")
    with pytest.raises(errors.DuplicateMsgID):
        service.credit_vend(second, head(second, 42), BLOCKED_METER, 2000, "cash")
    with pytest.raises(errors.BlockedMeter):  # the first terminal's retry: the same refusal
        service.credit_vend(first, head(first, 42), BLOCKED_METER, 2000, "cash")


def test_an_fbe_vend_is_bound_to_its_terminal_too(
    demo_db: TestDatabase, terminals: tuple[Principal, Principal]
) -> None:
    first, second = terminals
    service = DatabaseVendingService(demo_db.runtime)
    receipt = service.fbe_vend(first, head(first, 43), "04000000028")
    with pytest.raises(errors.DuplicateMsgID):
        service.fbe_vend(second, head(second, 43), "04000000028")
    assert service.fbe_vend(first, head(first, 43), "04000000028") == receipt


def test_a_record_stored_before_the_terminal_check_still_answers_its_own_retry(
    demo_db: TestDatabase, terminals: tuple[Principal, Principal]
) -> None:
    """The fingerprint of a stored request is unchanged (operation and arguments, as before):
    what a retry must match now also includes the row's terminal_id, which every record has
    carried since the first migration. So a record written by the old code answers its own
    terminal's retry after the deploy and refuses another terminal's."""
    first, second = terminals
    service = DatabaseVendingService(demo_db.runtime)
    receipt = service.credit_vend(first, head(first, 44), METER, 2500, "cash")
    old_fingerprint = idempotency.request_hash(
        "CreditVend", meter=METER, amount=2500, pay_type="cash"
    )
    with demo_db.sessions() as session:
        row = idempotency.find(session, BANK, MsgID("20261120103000", 44))
        assert row is not None
        assert (row.request_hash, row.terminal_id) == (old_fingerprint, "ATM-0001")

    # A record exactly as the old code wrote it (a different msgID, stored by hand).
    with transaction(demo_db.sessions) as session:
        session.add(
            VendRequest(
                client_id=BANK,
                msg_date_time="20261120103000",
                msg_unique_number=45,
                terminal_id="ATM-0001",
                operation="CreditVend",
                request_hash=old_fingerprint,
                outcome="ok",
                response_json=row.response_json,
                created_at=row.created_at,
            )
        )
    replayed = service.credit_vend(first, head(first, 45), METER, 2500, "cash")
    assert replayed.receipt_no == receipt.receipt_no
    assert json.loads(row.response_json)["receipt_no"] == receipt.receipt_no
    with pytest.raises(errors.DuplicateMsgID):
        service.credit_vend(second, head(second, 45), METER, 2500, "cash")


def test_check_same_request_compares_the_terminal() -> None:
    outcome = idempotency.StoredOutcome("CreditVend", "abc", "ok", {}, terminal_id="ATM-0001")
    msg_id = MsgID("20261120103000", 1)
    idempotency.check_same_request(outcome, "CreditVend", "abc", msg_id, "ATM-0001")
    with pytest.raises(errors.DuplicateMsgID):
        idempotency.check_same_request(outcome, "CreditVend", "abc", msg_id, "ATM-0002")
