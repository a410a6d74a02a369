"""Banking, sales and shift batches: a shift at an attended site, counted by time window."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway import errors
from gateway.vend.models import VendBatch
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import BatchLine, BatchStatus, RequestHeader
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, SHOP, Clock, header, principal

METER, FBE_METER = "01234567897", "04000000028"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(demo_db: TestDatabase, clock: Clock) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=clock)


def by(operator: str, client_id: str = BANK) -> RequestHeader:
    return replace(header(client_id), operator=operator)


def tick(clock: Clock) -> None:
    clock.now += timedelta(minutes=1)


def open_batches(db: TestDatabase) -> int:
    with db.sessions() as session:
        return (
            session.scalar(
                select(func.count()).select_from(VendBatch).where(VendBatch.closed_at.is_(None))
            )
            or 0
        )


def test_a_shift_counts_its_vends_by_type_operator_and_pay_type(
    demo_db: TestDatabase, service: DatabaseVendingService, clock: Clock
) -> None:
    who = principal(demo_db, BANK)
    service.credit_vend(who, by("alice"), METER, 5000, "cash")  # before the shift: not in it
    tick(clock)
    assert service.batch_status(who) == BatchStatus()
    h = by("alice")
    shift = service.start_batch(who, h, "shift")
    assert service.start_batch(who, h, "shift") == shift  # a retry replays
    assert service.batch_status(who) == BatchStatus(shift=shift.batch_no)
    tick(clock)
    service.credit_vend(who, by("alice"), METER, 10000, "cash")
    service.credit_vend(who, by("alice"), METER, 2000, "cash")
    service.credit_vend(who, by("bob"), METER, 3000, "card")
    reversed_ = by("bob")
    service.credit_vend(who, reversed_, METER, 4000, "card")
    service.fbe_vend(who, by("bob"), FBE_METER)
    tick(clock)
    service.reversal_advice(who, by("bob"), reversed_.msg_id)
    running = service.total_batch(who, by("alice"), "shift")
    assert running.closed_at is None
    tick(clock)
    end = service.end_batch(who, by("carol"), "shift")
    assert end.totals == (
        BatchLine("credit_vend", "alice", "cash", 2, 12000),
        BatchLine("credit_vend", "bob", "card", 2, 7000),
        BatchLine("fbe", "bob", "", 1, 0),
        BatchLine("reversal", "bob", "card", 1, -4000),
    )
    assert (end.count, end.amount_cents) == (6, 15000)
    assert running.totals == end.totals and end.closed_at == clock.now
    assert service.batch_status(who) == BatchStatus()
    tick(clock)
    service.credit_vend(who, by("alice"), METER, 5000, "cash")  # after the shift: not in it
    assert service.reprint_end_batch(who, by("alice"), "shift", None) == end
    assert service.reprint_end_batch(who, by("alice"), "shift", end.batch_no) == end


def test_batch_refusals_are_typed_remembered_and_change_nothing(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    with pytest.raises(errors.EndBatch):
        service.end_batch(who, by("a"), "sales")
    with pytest.raises(errors.EndBatch):
        service.total_batch(who, by("a"), "sales")
    with pytest.raises(errors.ReprintEndBatch):
        service.reprint_end_batch(who, by("a"), "sales", None)
    sales = service.start_batch(who, by("a"), "sales")
    banking = service.start_batch(who, by("a"), "banking")  # kinds are independent
    again = by("a")
    with pytest.raises(errors.StartBatch) as refused:
        service.start_batch(who, again, "sales")
    assert refused.value.fault_type == "StartBatchEx"
    service.end_batch(who, by("a"), "sales")
    with pytest.raises(errors.StartBatch):  # remembered for its msgID
        service.start_batch(who, again, "sales")
    assert open_batches(demo_db) == 1
    assert service.batch_status(who) == BatchStatus(banking=banking.batch_no)
    # An open batch is not reprinted; another terminal's batch is not shown.
    with pytest.raises(errors.ReprintEndBatch):
        service.reprint_end_batch(who, by("a"), "banking", banking.batch_no)
    shop = principal(demo_db, SHOP)
    with pytest.raises(errors.ReprintEndBatch):
        service.reprint_end_batch(shop, by("a", SHOP), "sales", sales.batch_no)
    assert service.batch_status(shop) == BatchStatus()
    with pytest.raises(errors.SchemaError):
        service.start_batch(who, by("a"), "weekly")


def test_two_terminals_racing_to_open_a_batch_open_one(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            outcomes.append(service.start_batch(who, by("x"), "shift"))
        except errors.GatewayError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opened = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(opened) == 1, outcomes
    assert all(isinstance(o, errors.StartBatch) for o in outcomes if o not in opened)
    assert open_batches(demo_db) == 1
