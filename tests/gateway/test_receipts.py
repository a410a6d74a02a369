"""The stored receipt keeps what a vend's answer showed, so a retry, a reprint and a
last-response advice show it again: the key data a key change moved the meter FROM (and to), and
the customer's address. Receipts stored before either was kept still read (see receipts.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from gateway.models import Customer, Meter
from gateway.vend import meters
from gateway.vend.models import VendRequest
from gateway.vend.receipts import receipt_from_json, receipt_to_json
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import KeyChangeData
from sts import MeterSimulator
from sts.simulator import MeterAction
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, Clock, header, principal, simulator, tokens_of

KEY_CHANGE_METER = "04000000069"  # the demo's meter with a pending change to KRN 2
METER = "01234567897"


@pytest.fixture
def service(demo_db: TestDatabase) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=Clock())


def _customer_address(db: TestDatabase, meter_number: str) -> str:
    with db.sessions() as session:
        meter = session.scalar(select(Meter).where(Meter.meter_number == meter_number))
        assert meter is not None
        customer = session.get(Customer, meter.customer_id)
        assert customer is not None and customer.address
        return customer.address


def test_a_key_change_receipt_keeps_the_key_data_the_meter_moves_from(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    with demo_db.sessions() as session:
        before = meters.find_meter(session, KEY_CHANGE_METER)
    meter: MeterSimulator = simulator(demo_db, KEY_CHANGE_METER)
    assert (meter.sgc, meter.krn, meter.ti) == (before.group.sgc, before.krn, int(before.ti))
    who, h = principal(demo_db, BANK), header()

    receipt = service.credit_vend(who, h, KEY_CHANGE_METER, 5000, "cash")

    assert receipt.key_change == KeyChangeData(
        from_sgc=before.group.sgc,
        from_krn=before.krn,
        from_ti=before.ti,
        from_kt=before.kt,
        to_sgc=receipt.meter.sgc,
        to_krn=receipt.meter.krn,
        to_ti=receipt.meter.ti,
        to_kt=receipt.meter.kt,
    )
    assert (receipt.key_change.from_krn, receipt.key_change.to_krn) == (1, 2)
    # The meter takes the set as a change from those very values to the new ones.
    first, second = tokens_of(receipt, "keychange")
    assert meter.accept(first).action == MeterAction.KEY_CHANGE_STORED
    assert meter.accept(second).action == MeterAction.KEY_CHANGED
    assert (meter.sgc, meter.krn, meter.ti) == (
        receipt.key_change.to_sgc,
        receipt.key_change.to_krn,
        int(receipt.key_change.to_ti),
    )
    assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    # A retry, a reprint and a last-response advice show the same from-values.
    assert service.credit_vend(who, h, KEY_CHANGE_METER, 5000, "cash") == receipt
    assert service.reprint(who, header(), KEY_CHANGE_METER, h.msg_id) == (receipt,)
    assert service.last_response_advice(who, header(), h.msg_id) == receipt


def test_a_trial_vend_shows_the_key_change_the_vend_would_make(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    with demo_db.sessions() as session:
        before = meters.find_meter(session, KEY_CHANGE_METER)
    who = principal(demo_db, BANK)

    trial = service.trial_credit_vend(who, header(), KEY_CHANGE_METER, 5000, "cash")
    sold = service.credit_vend(who, header(), KEY_CHANGE_METER, 5000, "cash")

    assert trial.key_change is not None
    assert (trial.key_change.from_sgc, trial.key_change.from_krn, trial.key_change.from_ti) == (
        before.group.sgc,
        before.krn,
        before.ti,
    )
    # The trial promised exactly the key change the vend then made, and showed the same meter.
    assert trial.key_change == sold.key_change
    assert trial.meter == sold.meter
    assert set(tokens_of(trial, "keychange")) == {"0" * 20}


def test_a_vend_without_a_key_change_has_none(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    receipt = service.credit_vend(principal(demo_db, BANK), header(), METER, 2000, "cash")
    assert receipt.key_change is None


def test_the_receipt_carries_the_customer_address_as_at_the_vend(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    address = _customer_address(demo_db, METER)
    who, h = principal(demo_db, BANK), header()
    receipt = service.credit_vend(who, h, METER, 2000, "cash")
    assert receipt.customer_address == address
    # The customer moves: the receipt still says where the vend was for.
    with demo_db.sessions() as session, session.begin():
        meter = session.scalar(select(Meter).where(Meter.meter_number == METER))
        assert meter is not None
        session.execute(
            update(Customer).where(Customer.id == meter.customer_id).values(address="Elsewhere")
        )
    assert service.reprint(who, header(), METER, h.msg_id)[0].customer_address == address
    assert service.last_response_advice(who, header(), h.msg_id).customer_address == address


def test_a_receipt_stored_before_key_data_and_address_were_kept_still_reads(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    receipt = service.credit_vend(who, h, KEY_CHANGE_METER, 5000, "cash")
    # The row as a gateway before this change stored it: neither key.
    with demo_db.sessions() as session, session.begin():
        row = session.scalar(
            select(VendRequest).where(
                VendRequest.client_id == h.client_id,
                VendRequest.msg_date_time == h.msg_id.date_time,
                VendRequest.msg_unique_number == h.msg_id.unique_number,
            )
        )
        assert row is not None
        stored = json.loads(row.response_json)
        assert {"key_change", "customer_address"} <= set(stored)
        del stored["key_change"], stored["customer_address"]
        row.response_json = json.dumps(stored)
    [old] = service.reprint(who, header(), KEY_CHANGE_METER, h.msg_id)
    assert (old.key_change, old.customer_address) == (None, "")
    assert old.lines == receipt.lines and old.meter == receipt.meter
    assert service.last_response_advice(who, header(), h.msg_id) == old


def test_json_round_trip_keeps_both() -> None:
    data = {
        "receipt_no": "000000000042",
        "msg_id": ["20261120103000", 7],
        "meter": {
            "meter_number": KEY_CHANGE_METER,
            "sgc": "123456",
            "krn": 2,
            "ti": "01",
            "ea": "07",
            "kt": 2,
            "tct": "02",
        },
        "customer_name": "Johan Botha",
        "customer_address": "7 Demo Street, Soweto",
        "account_no": "ACC-0007",
        "tender_cents": 5000,
        "units_tenths": 300,
        "avail_credit_cents": 100000,
        "tariff_description": "DOMESTIC",
        "issued_at": "2026-11-20T08:30:00+00:00",
        "key_change": {
            "from": {"sgc": "123456", "krn": 1, "ti": "01", "kt": 2},
            "to": {"sgc": "123456", "krn": 2, "ti": "01", "kt": 2},
        },
        "lines": [
            {
                "type": "keychange",
                "description": "Key change",
                "amount_cents": 0,
                "vat_cents": 0,
                "units_tenths": 0,
                "tokens": ["1" * 20, "2" * 20],
            },
            {
                "type": "credit",
                "description": "Electricity DOMESTIC",
                "amount_cents": 5000,
                "vat_cents": 652,
                "units_tenths": 300,
                "tokens": ["3" * 20],
            },
        ],
    }
    receipt = receipt_from_json(data)
    assert receipt.key_change == KeyChangeData("123456", 1, "01", 2, "123456", 2, "01", 2)
    assert receipt.customer_address == "7 Demo Street, Soweto"
    assert receipt_to_json(receipt) == data
