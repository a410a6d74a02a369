"""What a bank's customer gets, end to end: tokens vended over SOAP (gunicorn, zeep) are typed
into a simulated meter, which credits exactly the receipt's units, each token once."""

from __future__ import annotations

from decimal import Decimal

import pytest
import zeep

from gateway.vend import meters
from sts import MeterSimulator
from tests.conftest import TestDatabase
from tests.support.soap import ATM, header, new_msg_id, zeep_client

pytestmark = pytest.mark.e2e


def factory_meter(db: TestDatabase, meter_number: str) -> MeterSimulator:
    """The meter as installed: holding the decoder key of its key data before any vend."""
    with db.sessions() as session:
        keys = meters.current_keys(meters.find_meter(session, meter_number))
    decoder_key = db.runtime.security_module.decoder_key(
        keys.wrapped_key, keys.key_id, keys.key_data
    )
    return MeterSimulator.for_meter(decoder_key, keys.key_data)


def tenths(kwh: Decimal) -> int:
    return int(kwh * 10)


@pytest.mark.parametrize(
    ("meter_number", "amount", "kinds"),
    [
        ("01234567897", "100.00", ["credit"]),  # DOMESTIC steps, EA07/DKGA02
        ("04000000051", "250.00", ["credit"]),  # EA11/DKGA04
        ("04000000069", "60.00", ["keychange", "credit"]),  # pending key change to KRN 2
        ("04000000028", "40.00", ["credit", "fbe"]),  # free basic electricity
        ("04000000036", "100.00", ["debt", "credit"]),  # debt recovered first
    ],
)
def test_vended_tokens_credit_the_meter_exactly_once(
    server: object,
    base_url: str,
    e2e_db: TestDatabase,
    meter_number: str,
    amount: str,
    kinds: list[str],
) -> None:
    meter = factory_meter(e2e_db, meter_number)
    client: zeep.Client = zeep_client(base_url, ATM)
    resp = client.service.CreditVend(
        **header(ATM, new_msg_id()), meterNumber=meter_number, amount=amount, payType="cash"
    )
    assert [t.type for t in resp.transactions] == kinds
    tokens = [token for t in resp.transactions for token in t.tokens]
    for token in tokens:
        result = meter.accept(token)
        assert result.accepted, f"{token}: {result.message}"
    credited = sum(tenths(t.units) for t in resp.transactions if t.type in ("credit", "fbe"))
    assert meter.credit_tenths() == credited
    assert tenths(resp.units) == sum(
        tenths(t.units) for t in resp.transactions if t.type == "credit"
    )
    for token in tokens:
        assert meter.accept(token).rejected  # typed again: USED (or an applied key change)
    assert meter.credit_tenths() == credited
