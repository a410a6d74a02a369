"""Two gateway nodes on one database, as behind a load balancer: a bank that times out on one
node and retries on the other, at the same moment, still gets exactly one vend."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from gateway.vend.models import VendTransaction
from tests.conftest import TestDatabase
from tests.e2e.conftest import Server, start_server, stop_server
from tests.support.soap import ATM, METER, header, new_msg_id, zeep_client
from vendor_accounts import floats
from vendor_accounts.vendors import get_vendor

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_nodes(
    e2e_db: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("two-nodes")
    first = start_server(e2e_db, logs)
    try:
        second = start_server(e2e_db, logs)
        try:
            yield first, second
        finally:
            stop_server(second)
    finally:
        stop_server(first)


def available(db: TestDatabase) -> int:
    with db.sessions() as session:
        return floats.balance(session, get_vendor(session, ATM.client_id).id).available_cents


@pytest.mark.parametrize("round_", range(3))
def test_the_same_msg_id_on_two_nodes_at_once_vends_once(
    two_nodes: tuple[Server, Server], e2e_db: TestDatabase, round_: int
) -> None:
    clients = [zeep_client(node.base_url, ATM) for node in two_nodes]
    msg_id = new_msg_id()
    before = available(e2e_db)

    def send(i: int) -> Any:
        return clients[i % 2].service.CreditVend(
            **header(ATM, msg_id), meterNumber=METER, amount="20.00", payType="cash"
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))

    assert len({a.receiptNo for a in answers}) == 1
    assert len({tuple(a.transactions[0].tokens) for a in answers}) == 1
    key = f"{msg_id['dateTime']}{msg_id['uniqueNumber']}"
    with e2e_db.sessions() as session:
        rows = session.scalars(
            select(VendTransaction).where(
                VendTransaction.client_id == ATM.client_id, VendTransaction.msg_id == key
            )
        ).all()
    assert len(rows) == 1
    # One debit of 20.00 less the Demo Bank's 1.50 % commission (0.30), whichever node answered.
    assert available(e2e_db) == before - 2000 + 30
