"""A vending day through DatabaseVendingService on both databases: every vended token is typed
into a simulated meter, which must credit exactly the receipt's units, once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from core.db import transaction
from gateway import errors
from gateway.models import Customer, Meter
from gateway.tariffs import ensure_tariff_version
from gateway.vend import flow, meters
from gateway.vend.models import MeterMonth, VendRequest, VendToken, VendTransaction
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader, VendReceipt
from sts import MeterSimulator
from tests.conftest import TestDatabase
from vendor_accounts import floats
from vendor_accounts.ledger import check_invariants
from vendor_accounts.vendors import get_terminal, get_vendor

BANK, SHOP, OFFICE = "6004000000019", "6004000000026", "6004000000095"
BANK_COMMISSION_BP = 150  # Demo Bank earns 1.50 % of sales, credited to its float per vend
TERMINALS = {BANK: "ATM-0001", SHOP: "POS-0001", OFFICE: "OFFICE-1"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(demo_db: TestDatabase, clock: Clock) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=clock)


def principal(db: TestDatabase, client_id: str) -> Principal:
    with db.sessions() as session:
        vendor = get_vendor(session, client_id)
        terminal = get_terminal(session, client_id, TERMINALS[client_id])
        privileges = (
            frozenset(terminal.privileges.split(","))
            if isinstance(terminal.privileges, str)
            else frozenset(terminal.privileges)
        )
        return Principal(vendor.id, client_id, TERMINALS[client_id], privileges, vendor.kind)


_counter = iter(range(1, 10**9))


def header(client_id: str = BANK, unique: int | None = None) -> RequestHeader:
    return RequestHeader(
        client_id, TERMINALS[client_id], MsgID("20261120103000", unique or next(_counter))
    )


def simulator(db: TestDatabase, meter_number: str) -> MeterSimulator:
    """The meter as it stands now, holding the decoder key of its current key data."""
    with db.sessions() as session:
        meter = meters.find_meter(session, meter_number)
        keys = meters.current_keys(meter)
    decoder_key = db.runtime.security_module.decoder_key(
        keys.wrapped_key, keys.key_id, keys.key_data
    )
    return MeterSimulator.for_meter(decoder_key, keys.key_data)


def tokens_of(receipt: VendReceipt, kind: str) -> list[str]:
    return [t for line in receipt.lines if line.type == kind for t in line.tokens]


def available(db: TestDatabase, client_id: str) -> int:
    with db.sessions() as session:
        return floats.balance(session, get_vendor(session, client_id).id).available_cents


def counts(db: TestDatabase) -> tuple[int, ...]:
    with db.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (VendTransaction, VendToken, MeterMonth)
        )


def test_a_vend_credits_the_meter_exactly_once(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    meter = simulator(demo_db, "01234567897")
    before = available(demo_db, BANK)
    receipt = service.credit_vend(principal(demo_db, BANK), header(), "01234567897", 10000, "cash")
    assert receipt.units_tenths == 673  # the worked example: 67.3 kWh for 100.00
    commission = 10000 * BANK_COMMISSION_BP // 10000
    assert receipt.avail_credit_cents == before - 10000 + commission == available(demo_db, BANK)
    [credit] = tokens_of(receipt, "credit")
    assert len(credit) == 20 and credit.isdigit()
    first = meter.accept(credit)
    assert first.accepted, first.message
    assert meter.credit_tenths() == receipt.units_tenths
    assert meter.accept(credit).rejected
    assert meter.credit_tenths() == 673
    with demo_db.sessions() as session:
        assert check_invariants(session) == []


def test_a_retry_returns_the_same_receipt_and_debits_once(
    demo_db: TestDatabase, service: DatabaseVendingService, clock: Clock
) -> None:
    who, h = principal(demo_db, BANK), header()
    first = service.credit_vend(who, h, "01234567897", 2500, "cash")
    clock.now += timedelta(minutes=3)
    again = service.credit_vend(who, h, "01234567897", 2500, "cash")
    assert again == first
    assert available(demo_db, BANK) == first.avail_credit_cents
    assert counts(demo_db)[0] == 1
    with pytest.raises(errors.DuplicateMsgID):
        service.credit_vend(who, h, "01234567897", 2600, "cash")


def test_a_refused_vend_changes_nothing_and_stays_refused_after_a_top_up(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, SHOP), header(SHOP)
    before = (available(demo_db, SHOP), counts(demo_db))
    with pytest.raises(errors.VendorCredit):
        service.credit_vend(who, h, "01234567897", 10000, "cash")  # float is 50.00
    assert (available(demo_db, SHOP), counts(demo_db)) == before
    with demo_db.sessions() as session, session.begin():
        floats.deposit(
            session,
            vendor_id=who.vendor_id,
            amount_cents=100000,
            bank_reference="TOPUP-1",
            actor="test",
        )
    with pytest.raises(errors.VendorCredit):
        service.credit_vend(who, h, "01234567897", 10000, "cash")
    receipt = service.credit_vend(who, header(SHOP), "01234567897", 10000, "cash")
    assert receipt.units_tenths == 673


@pytest.mark.parametrize(
    ("meter_number", "amount", "error"),
    [
        ("04000000010", 10000, errors.BlockedMeter),
        ("04000000994", 10000, errors.UnknownMeter),
        ("04000000011", 10000, errors.MeterCheckDigit),
        ("0400000001", 10000, errors.SchemaError),
        ("01234567897", 499, errors.VendAmount),
        ("01234567897", 500001, errors.VendAmount),
    ],
)
def test_refusals_are_typed_and_change_nothing(
    demo_db: TestDatabase,
    service: DatabaseVendingService,
    meter_number: str,
    amount: int,
    error: type[errors.GatewayError],
) -> None:
    before = (available(demo_db, BANK), counts(demo_db))
    with pytest.raises(error):
        service.credit_vend(principal(demo_db, BANK), header(), meter_number, amount, "cash")
    assert (available(demo_db, BANK), counts(demo_db)) == before


def test_a_pending_key_change_comes_with_the_vend_and_the_meter_takes_it(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    meter = simulator(demo_db, "04000000069")  # still on KRN 1
    receipt = service.credit_vend(principal(demo_db, BANK), header(), "04000000069", 5000, "cash")
    assert [line.type for line in receipt.lines] == ["keychange", "credit"]
    key_change = tokens_of(receipt, "keychange")
    assert len(key_change) == 2
    for token in key_change:
        assert meter.accept(token).accepted
    assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    assert meter.credit_tenths() == receipt.units_tenths > 0
    assert receipt.meter.krn == 2
    with demo_db.sessions() as session:
        row = session.scalar(select(Meter).where(Meter.meter_number == "04000000069"))
        assert row is not None and (row.krn, row.pending_krn) == (2, None)
    # The next vend is under KRN 2 alone, and the meter (now on KRN 2) takes it.
    second = service.credit_vend(principal(demo_db, BANK), header(), "04000000069", 5000, "cash")
    assert [line.type for line in second.lines] == ["credit"]
    assert meter.accept(tokens_of(second, "credit")[0]).accepted


def test_ea11_dkga04_meter(demo_db: TestDatabase, service: DatabaseVendingService) -> None:
    meter = simulator(demo_db, "04000000051")
    receipt = service.credit_vend(principal(demo_db, BANK), header(), "04000000051", 10000, "cash")
    assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    assert meter.credit_tenths() == receipt.units_tenths == 673


def test_free_basic_electricity_once_a_month(
    demo_db: TestDatabase, service: DatabaseVendingService, clock: Clock
) -> None:
    meter = simulator(demo_db, "04000000028")
    who = principal(demo_db, BANK)
    receipt = service.credit_vend(who, header(), "04000000028", 10000, "cash")
    assert [line.type for line in receipt.lines] == ["credit", "fbe"]
    for token in tokens_of(receipt, "credit") + tokens_of(receipt, "fbe"):
        assert meter.accept(token).accepted
    assert meter.credit_tenths() == 673 + 500
    with pytest.raises(errors.FBEError):
        service.fbe_vend(who, header(), "04000000028")
    again = service.credit_vend(who, header(), "04000000028", 10000, "cash")
    assert "fbe" not in [line.type for line in again.lines]
    assert meter.accept(tokens_of(again, "credit")[0]).accepted
    clock.now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 08:00 in Johannesburg: a new month
    fbe = service.fbe_vend(who, header(), "04000000028")
    assert fbe.tender_cents == 0
    assert meter.accept(tokens_of(fbe, "fbe")[0]).accepted
    assert meter.credit_tenths() == 673 + 500 + again.units_tenths + 500


def test_debt_is_recovered_and_a_reversal_puts_everything_back(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    before = available(demo_db, BANK)
    h = header()
    receipt = service.credit_vend(who, h, "04000000036", 10000, "cash")
    assert receipt.units_tenths == 561
    debt = next(line for line in receipt.lines if line.type == "debt")
    assert debt.amount_cents == 2000
    with demo_db.sessions() as session:
        debtor = session.scalar(select(Customer).where(Customer.account_no == "ACC-0004"))
        assert debtor is not None and debtor.debt_cents == 48000
    result = service.reversal_advice(who, header(), h.msg_id)
    assert result.reversed and result.avail_credit_cents == before
    assert available(demo_db, BANK) == before
    assert service.reversal_advice(who, header(), h.msg_id).reversed  # idempotent
    assert available(demo_db, BANK) == before
    with demo_db.sessions() as session:
        debtor = session.scalar(select(Customer).where(Customer.account_no == "ACC-0004"))
        assert debtor is not None and debtor.debt_cents == 50000
        month = session.scalars(select(MeterMonth)).all()
        assert [(m.units_tenths, m.fixed_charge_paid_cents) for m in month] == [(0, 0)]
        assert check_invariants(session) == []
    # A reversed vend's month position is free again: the same tender buys the same units.
    assert service.credit_vend(who, header(), "04000000036", 10000, "cash").units_tenths == 561


def test_a_new_tariff_version_prices_the_next_vend(
    demo_db: TestDatabase, service: DatabaseVendingService, clock: Clock
) -> None:
    """The service keeps versions it has read, but asks the database which is in force."""
    who = principal(demo_db, BANK)
    first = service.credit_vend(who, header(), "01234567897", 10000, "cash")
    assert first.units_tenths == 673
    clock.now += timedelta(days=1)
    with transaction(demo_db.sessions) as session:
        ensure_tariff_version(
            session, "DOMESTIC", "Domestic step tariff", clock.now.date(), [(None, 20000)]
        )
    second = service.credit_vend(who, header(), "01234567897", 10000, "cash")
    # 100.00 incl. 15 % VAT is 86.96 excl. VAT: 43.4 kWh at 2.0000 (rounded down).
    assert second.units_tenths == 434
    assert "2.0000" in second.tariff_description
    with demo_db.sessions() as session:
        versions = session.scalars(
            select(VendTransaction.tariff_version_id).order_by(VendTransaction.id)
        ).all()
    assert versions[0] != versions[1]


def test_month_figures_are_added_to_never_overwritten(demo_db: TestDatabase, clock: Clock) -> None:
    """A reversal may change a meter's month row while a vend is priced from the old figures;
    the vend adds to whatever the row holds when it writes."""
    with transaction(demo_db.sessions) as session:
        meter = meters.find_meter(session, "01234567897")
        flow.add_to_month(session, meter, "2026-11", None, 50)
    with transaction(demo_db.sessions) as session:
        session.execute(update(MeterMonth).values(units_tenths=MeterMonth.units_tenths + 7))
        flow.add_to_month(session, meter, "2026-11", None, 50)
    with demo_db.sessions() as session:
        [row] = session.scalars(select(MeterMonth)).all()
        assert (row.units_tenths, row.fbe_units_tenths) == (7, 100)


def test_reversal_policy(
    demo_db: TestDatabase, service: DatabaseVendingService, clock: Clock
) -> None:
    who = principal(demo_db, BANK)
    late, confirmed = header(), header()
    service.credit_vend(who, late, "01234567897", 1000, "cash")
    service.credit_vend(who, confirmed, "01234567897", 1000, "cash")
    assert service.confirmation_advice(who, header(), confirmed.msg_id).confirmed
    with pytest.raises(errors.ReversalError, match="was confirmed"):
        service.reversal_advice(who, header(), confirmed.msg_id)
    with pytest.raises(errors.ReversalError, match="no transaction"):
        service.reversal_advice(who, header(), MsgID("20261120103000", 999_999_999))
    clock.now += timedelta(minutes=31)
    with pytest.raises(errors.ReversalError, match="reversal window"):
        service.reversal_advice(who, header(), late.msg_id)
    shop = principal(demo_db, SHOP)
    with pytest.raises(errors.RequestAuthorisation):
        service.reversal_advice(shop, header(SHOP), late.msg_id)


def test_reprint_and_last_response_give_the_stored_tokens(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    hs = [header() for _ in range(4)]
    receipts = [
        service.credit_vend(who, h, "01234567897", 1000 + i, "cash") for i, h in enumerate(hs)
    ]
    assert service.reprint(who, header(), "01234567897", hs[1].msg_id) == (receipts[1],)
    last3 = service.reprint(who, header(), "01234567897", None)
    assert last3 == tuple(reversed(receipts[1:]))
    assert service.last_response_advice(who, header(), hs[2].msg_id) == receipts[2]
    with pytest.raises(errors.LastResponseError):
        service.last_response_advice(who, header(), MsgID("20261120103000", 888_888_888))


def test_trial_vend_stores_nothing(demo_db: TestDatabase, service: DatabaseVendingService) -> None:
    before = (available(demo_db, BANK), counts(demo_db))
    trial = service.trial_credit_vend(
        principal(demo_db, BANK), header(), "01234567897", 10000, "cash"
    )
    assert trial.units_tenths == 673
    assert tokens_of(trial, "credit") == ["0" * 20]
    assert (available(demo_db, BANK), counts(demo_db)) == before


def test_a_crash_mid_vend_leaves_nothing(
    demo_db: TestDatabase, service: DatabaseVendingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail after the float debit, tokens and meter TID were written: all of it rolls back."""
    before = (available(demo_db, BANK), counts(demo_db))
    with demo_db.sessions() as session:
        tid_before = session.scalar(
            select(Meter.last_tid).where(Meter.meter_number == "01234567897")
        )

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(flow, "build_receipt", crash)
    h = header()
    with pytest.raises(RuntimeError):
        service.credit_vend(principal(demo_db, BANK), h, "01234567897", 10000, "cash")
    assert (available(demo_db, BANK), counts(demo_db)) == before
    with demo_db.sessions() as session:
        assert (
            session.scalar(select(Meter.last_tid).where(Meter.meter_number == "01234567897"))
            == tid_before
        )
        assert session.scalar(select(func.count()).select_from(VendRequest)) == 0
    monkeypatch.undo()
    assert (
        service.credit_vend(principal(demo_db, BANK), h, "01234567897", 10000, "cash").units_tenths
        == 673
    )


def test_the_same_msg_id_sent_concurrently_vends_once(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    before = available(demo_db, BANK)
    results: list[VendReceipt] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        try:
            results.append(service.credit_vend(who, h, "01234567897", 10000, "cash"))
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len({r.receipt_no for r in results}) == 1 and len(results) == 8
    assert len({tokens_of(r, "credit")[0] for r in results}) == 1
    assert available(demo_db, BANK) == before - 10000 + 10000 * BANK_COMMISSION_BP // 10000
    assert counts(demo_db)[0] == 1


def test_concurrent_vends_on_one_meter_get_distinct_increasing_tids(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    meter = simulator(demo_db, "01234567897")
    who = principal(demo_db, BANK)
    results: list[VendReceipt] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        results.append(service.credit_vend(who, header(), "01234567897", 1000, "cash"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    with demo_db.sessions() as session:
        tids = session.scalars(select(VendToken.tid).order_by(VendToken.tid)).all()
    assert len(set(tids)) == 6
    # Typed in the order they were issued, every token credits once.
    for receipt in sorted(results, key=lambda r: r.receipt_no):
        assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    assert meter.credit_tenths() == sum(r.units_tenths for r in results)


def test_engineering_tokens_need_the_privilege(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    with pytest.raises(errors.RequestAuthorisation):
        service.meter_specific_eng(
            principal(demo_db, BANK), header(), "01234567897", "ClearTamper", None
        )
    meter = simulator(demo_db, "01234567897")
    meter.set_tamper()
    result = service.meter_specific_eng(
        principal(demo_db, OFFICE), header(OFFICE), "01234567897", "ClearTamper", None
    )
    assert meter.accept(result.tokens[0]).accepted
    assert not meter.tamper
    limit = service.meter_specific_eng(
        principal(demo_db, OFFICE), header(OFFICE), "01234567897", "PowerLimit", 5000
    )
    assert meter.accept(limit.tokens[0]).accepted and meter.power_limit_watts == 5000
    with pytest.raises(errors.UseCaseSupport):
        service.meter_specific_eng(
            principal(demo_db, OFFICE), header(OFFICE), "01234567897", "Teleport", None
        )
