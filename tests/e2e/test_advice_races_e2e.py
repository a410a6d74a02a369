"""Issue 12's advice races and the cross-vendor reprint, as banks meet them on the real server
(`vendgw serve`, two gunicorn workers): two clients sending at once reach two workers, each with
its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import zeep
from sqlalchemy import func, select

from gateway.vend.models import VendTransaction
from tests.support.soap import ATM, POS, header, new_msg_id, zeep_client, zeep_fault_detail

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

pytestmark = pytest.mark.e2e
ONLY_ATM_METER = "04000000044"  # COMMERCIAL; no other test of this module vends on it


@pytest.fixture(scope="module")
def atms(base_url: str) -> tuple[zeep.Client, zeep.Client]:
    return zeep_client(base_url, ATM), zeep_client(base_url, ATM)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except zeep.exceptions.Fault as fault:
        return fault


def together(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    results: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[i] = outcome(call)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results[0], results[1]


def fault_code(result: Any) -> tuple[str, str]:
    """("Client.<XMLVend type>", code): the faultcode (exactly Client or Server) and the type
    the detail carries, joined as the test names them."""
    assert isinstance(result, zeep.exceptions.Fault), result
    detail = zeep_fault_detail(result)
    return f"{result.code.split(':')[-1]}.{detail['faultType']}", detail["code"]


def status_of(db: TestDatabase, receipt_no: str) -> str:
    with db.sessions() as session:
        value = session.scalar(
            select(VendTransaction.status).where(VendTransaction.receipt_no == receipt_no)
        )
        assert value is not None
        return value


def test_reversal_and_confirmation_sent_together_end_in_one_outcome(
    atms: tuple[zeep.Client, zeep.Client], e2e_db: TestDatabase
) -> None:
    one, other = atms
    for _ in range(10):
        sold_id = new_msg_id()
        sold = one.service.CreditVend(
            **header(ATM, sold_id), meterNumber="01234567897", amount="10.00", payType="cash"
        )
        reversal, confirmation = together(
            lambda sold_id=sold_id: one.service.ReversalAdvice(
                **header(ATM), originalMsgID=sold_id
            ),
            lambda sold_id=sold_id: other.service.ConfirmationAdvice(
                **header(ATM), originalMsgID=sold_id
            ),
        )
        faults = [r for r in (reversal, confirmation) if isinstance(r, zeep.exceptions.Fault)]
        assert len(faults) == 1, (reversal, confirmation)
        if faults[0] is confirmation:
            assert fault_code(confirmation) == ("Client.ConfirmationEx", "already-reversed")
            assert status_of(e2e_db, sold.receiptNo) == "reversed"
        else:
            assert fault_code(reversal) == ("Client.ReversalEx", "already-confirmed")
            assert status_of(e2e_db, sold.receiptNo) == "confirmed"


def test_a_purchase_declared_not_processed_is_refused_when_it_arrives_late(
    atms: tuple[zeep.Client, zeep.Client], e2e_db: TestDatabase
) -> None:
    atm = atms[0].service
    lost_id = new_msg_id()
    code = fault_code(outcome(lambda: atm.LastResponseAdvice(**header(ATM), originalMsgID=lost_id)))
    assert code[0] == "Client.LastResponseEx"
    late = outcome(
        lambda: atm.CreditVend(
            **header(ATM, lost_id), meterNumber="01234567897", amount="20.00", payType="cash"
        )
    )
    assert fault_code(late) == ("Client.DuplicateMsgIDEx", "msg-id-declared-not-processed")
    with e2e_db.sessions() as session:
        key = f"{lost_id['dateTime']}{lost_id['uniqueNumber']}"
        assert (
            session.scalar(
                select(func.count())
                .select_from(VendTransaction)
                .where(VendTransaction.msg_id == key)
            )
            == 0
        )
    again = outcome(lambda: atm.LastResponseAdvice(**header(ATM), originalMsgID=lost_id))
    assert fault_code(again)[0] == "Client.LastResponseEx"


def test_a_vendor_cannot_reprint_another_vendors_receipt(
    atms: tuple[zeep.Client, zeep.Client], base_url: str
) -> None:
    sold = atms[0].service.CreditVend(
        **header(ATM), meterNumber=ONLY_ATM_METER, amount="150.00", payType="cash"
    )
    shop = zeep_client(base_url, POS)
    refused = outcome(lambda: shop.service.Reprint(**header(POS), meterNumber=ONLY_ATM_METER))
    assert fault_code(refused) == ("Client.BusinessRuleEx", "nothing-to-reprint")
    assert sold.receiptNo not in str(refused.message)
    tokens = [token for line in sold.transactions for token in line.tokens]
    assert tokens and not any(token in str(refused.message) for token in tokens)
