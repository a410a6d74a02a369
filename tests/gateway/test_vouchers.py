"""The life of a voucher batch through the real service on both databases: created, exported
(the print file decrypted with an age identity made here), activated (the vendor's float pays,
the liability holds the value), redeemed for tokens a simulated meter accepts for exactly the
receipt's units, refused the second time, voided and expired; the guessing limit; and no trace
of a PIN in the database or the logs. The books are checked after every step."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import transaction
from core.keys import derive_voucher_key
from gateway import errors
from gateway.vend import meters
from gateway.vend.models import VendRequest, VendTransaction
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader
from gateway.vouchers import activation, attempts, pins
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.models import Voucher, VoucherAttempt, VoucherBatch
from reconciliation.periods import MONTHLY, parse_period
from reconciliation.runs import calendar_of
from reconciliation.vouchers_report import vouchers_report
from sts import MeterSimulator
from tests.conftest import TestDatabase
from tests.support.vouchers import (
    PLATFORM_TERMINAL,
    SCRATCH_COMMISSION_BP,
    Parties,
    books_hold,
    create_batch,
    database_text,
    export_and_read,
    liability,
    pin_traces,
    seed_parties,
)
from vendor_accounts import floats
from vendor_accounts.ledger import entry_postings

METER = "01234567897"
TODAY = datetime.now(UTC).date()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


_unique = iter(range(1, 10**9))


def header(parties: Parties, unique: int | None = None) -> RequestHeader:
    return RequestHeader(
        parties.platform_client_id,
        PLATFORM_TERMINAL,
        MsgID("20261201120000", unique or next(_unique)),
    )


def platform(parties: Parties, privileges: frozenset[str] = frozenset({"redeem"})) -> Principal:
    return Principal(
        parties.platform_vendor_id,
        parties.platform_client_id,
        PLATFORM_TERMINAL,
        privileges,
        "mobile",
    )


def simulator(db: TestDatabase, meter_number: str) -> MeterSimulator:
    with db.sessions() as session:
        keys = meters.current_keys(meters.find_meter(session, meter_number))
    decoder_key = db.runtime.security_module.decoder_key(
        keys.wrapped_key, keys.key_id, keys.key_data
    )
    return MeterSimulator.for_meter(decoder_key, keys.key_data)


def balance(db: TestDatabase, vendor_id: int) -> int:
    with db.sessions() as session:
        return floats.balance(session, vendor_id).balance_cents


def check_books(db: TestDatabase) -> None:
    with db.sessions() as session:
        books_hold(session)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def parties(demo_db: TestDatabase) -> Parties:
    return seed_parties(demo_db)


@pytest.fixture
def service(demo_db: TestDatabase, clock: Clock) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=clock)


def test_pins_are_twenty_digits_with_a_luhn_check_digit() -> None:
    drawn = {pins.new_pin() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(len(p) == 20 and p.isdigit() and pins.valid_pin(p) for p in drawn)
    pin = next(iter(drawn))
    wrong = pin[:-1] + str((int(pin[-1]) + 1) % 10)
    assert not pins.valid_pin(wrong)
    assert pins.luhn_check_digit("7992739871") == 3  # the textbook example
    assert pins.pin_hash(b"k" * 32, pin) != pins.pin_hash(b"j" * 32, pin)
    assert pins.parse_serial_range("000000000010-000000000012") == (10, 12)
    with pytest.raises(ValueError):
        pins.parse_serial_range("12-10")


def test_the_attempt_limit_as_a_function() -> None:
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    four = [t0 + timedelta(minutes=i) for i in range(4)]
    assert attempts.locked_until(four) is None
    five = [*four, t0 + timedelta(minutes=9)]
    assert attempts.locked_until(five) == t0 + timedelta(minutes=19)
    spread = [t0 + timedelta(minutes=3 * i) for i in range(5)]  # 12 minutes apart end to end
    assert attempts.locked_until(spread) is None


def test_the_life_of_a_batch(
    demo_db: TestDatabase,
    parties: Parties,
    service: DatabaseVendingService,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = demo_db
    scratch_before = balance(db, parties.scratch_vendor_id)

    # Created: serials printable, PINs nowhere but sealed for the export.
    created = create_batch(db, parties.scratch_vendor_id, 5, 2000, TODAY + timedelta(days=30))
    assert created.last_serial - created.first_serial == 4
    check_books(db)
    with db.sessions() as session:
        stored = session.scalars(
            select(Voucher).where(Voucher.batch_id == created.batch_id).order_by(Voucher.serial)
        ).all()
        assert [v.status for v in stored] == ["created"] * 5
        assert all(len(v.pin_hash) == 32 for v in stored)

    # Exported once: the print file holds every serial and PIN, each PIN's keyed hash is the
    # stored one, and afterwards the PINs are gone from the gateway.
    lines = export_and_read(db, created.batch_id)
    assert [line["serial"] for line in lines] == [
        pins.format_serial(s) for s in range(created.first_serial, created.last_serial + 1)
    ]
    assert {line["denomination"] for line in lines} == {"20.00"}
    assert {line["expires"] for line in lines} == {(TODAY + timedelta(days=30)).isoformat()}
    drawn = [line["pin"] for line in lines]
    assert all(pins.valid_pin(p) for p in drawn)
    key = derive_voucher_key(db.settings.master_key())
    assert [pins.pin_hash(key, p) for p in drawn] == [v.pin_hash for v in stored]
    with db.sessions() as session:
        batch = session.get(VoucherBatch, created.batch_id)
        assert batch is not None and batch.sealed_pins is None and batch.exported_at is not None
    with pytest.raises(VoucherError) as again:
        export_and_read(db, created.batch_id)
    assert again.value.code == "already-exported"

    # Not activated yet: refused, and counted as an invalid attempt with the serial it matched.
    with pytest.raises(errors.VoucherInvalid) as not_yet:
        service.voucher_vend(platform(parties), header(parties), METER, drawn[0])
    assert not_yet.value.code == "voucher-not-activated"
    with db.sessions() as session:
        counted = session.scalars(select(VoucherAttempt)).all()
    assert [(a.reason, a.serial) for a in counted] == [
        ("voucher-not-activated", created.first_serial)
    ]
    check_books(db)

    # Activated: the scratch vendor's float pays 5 x 20.00 less 5 % commission; the liability
    # holds the face value.
    with transaction(db.sessions) as session:
        done = activation.activate(
            session, created.first_serial, created.last_serial, actor="test", today=TODAY
        )
    assert (done.count, done.face_cents, done.commission_cents) == (5, 10000, 500)
    assert SCRATCH_COMMISSION_BP == 500
    assert balance(db, parties.scratch_vendor_id) == scratch_before - 9500
    assert liability(db) == 10000
    with db.sessions() as session:
        assert entry_postings(session, done.journal_entry_id) == {
            "vendor_float": -9500,
            "commission_expense": -500,
            "voucher_liability": 10000,
        }
    check_books(db)

    # Redeemed by the platform: a vend of 20.00 priced like CreditVend, tokens the meter takes
    # for exactly the receipt's units; the platform's float is not touched.
    platform_before = balance(db, parties.platform_vendor_id)
    first = header(parties)
    receipt = service.voucher_vend(platform(parties), first, METER, drawn[0])
    assert receipt.tender_cents == 2000
    assert receipt.avail_credit_cents == platform_before
    meter = simulator(db, METER)
    credited = 0
    for line in receipt.lines:
        for token in line.tokens:
            result = meter.accept(token)
            assert not result.rejected, result
    credited = meter.credit_tenths()
    assert credited == receipt.units_tenths > 0
    assert balance(db, parties.platform_vendor_id) == platform_before
    assert liability(db) == 8000
    with db.sessions() as session:
        tx = session.scalar(
            select(VendTransaction).where(VendTransaction.receipt_no == receipt.receipt_no)
        )
        assert tx is not None and tx.kind == "voucher" and tx.tender_cents == 2000
        assert tx.vendor_id == parties.platform_vendor_id and tx.journal_entry_id is not None
        legs = entry_postings(session, tx.journal_entry_id)
        assert legs["voucher_liability"] == -2000 and "vendor_float" not in legs
        assert sum(legs.values()) == 0
    check_books(db)

    # A retry of the same msgID replays the same receipt and tokens; nothing more is spent.
    replay = service.voucher_vend(platform(parties), first, METER, drawn[0])
    assert replay == receipt
    assert liability(db) == 8000

    # A second redemption of the same PIN is VoucherUsedEx: it says when, never which meter.
    with pytest.raises(errors.VoucherUsed) as used:
        service.voucher_vend(platform(parties), header(parties), "04000000051", drawn[0])
    assert clock.now.astimezone(service.tz).strftime("%Y-%m-%d") in used.value.message
    assert METER not in used.value.message and "04000000051" not in used.value.message
    assert liability(db) == 8000
    check_books(db)

    # Voided (lost stock): the two vouchers after the redeemed one stop, and are credited back
    # at what they cost (2 x 19.00); the redeemed one is left as it is.
    scratch_mid = balance(db, parties.scratch_vendor_id)
    with transaction(db.sessions) as session:
        voided = activation.void(
            session, created.first_serial, created.first_serial + 2, reason="lost", actor="test"
        )
    assert (voided.voided, voided.credited_back_cents, voided.already_redeemed) == (2, 3800, 1)
    assert balance(db, parties.scratch_vendor_id) == scratch_mid + 3800
    assert liability(db) == 4000
    with pytest.raises(errors.VoucherInvalid) as stopped:
        service.voucher_vend(platform(parties), header(parties), METER, drawn[1])
    assert stopped.value.code == "voucher-voided"
    check_books(db)

    # Expired: past the batch's last day the vouchers stop; their value stays in the liability.
    clock.now += timedelta(days=31)
    with pytest.raises(errors.VoucherInvalid) as expired:
        service.voucher_vend(platform(parties), header(parties), METER, drawn[3])
    assert expired.value.code == "voucher-expired"
    assert liability(db) == 4000
    check_books(db)
    # Reported: the month of the batch's last day counts the two still owed as expired (their
    # value still outstanding, and tied to the ledger); the month after has none expiring.
    last_day = TODAY + timedelta(days=30)
    calendar = calendar_of(db.runtime)
    with db.sessions() as session:
        month = vouchers_report(session, parse_period(f"{last_day:%Y-%m}", MONTHLY), calendar)
        later = (last_day.replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
        after = vouchers_report(session, parse_period(later, MONTHLY), calendar)
    (batch,) = [b for b in month.batches if b.batch_id == created.batch_id]
    assert (batch.expired, batch.outstanding) == (2, 2)
    assert batch.value("expired") == 4000
    assert month.ties and month.outstanding_cents == 4000
    (batch_after,) = [b for b in after.batches if b.batch_id == created.batch_id]
    assert (batch_after.expired, batch_after.outstanding) == (0, 2)

    # Nothing about a PIN anywhere: not in any table (audit included), not in the logs.
    dump = database_text(db)
    assert "voucher.batch_export" in dump  # the dump is not empty
    assert pin_traces(dump, drawn) == []
    assert pin_traces(caplog.text, drawn) == []


def test_only_a_terminal_with_the_redeem_privilege_redeems(
    demo_db: TestDatabase, parties: Parties, service: DatabaseVendingService
) -> None:
    with pytest.raises(errors.RequestAuthorisation) as refused:
        service.voucher_vend(
            platform(parties, frozenset({"vend"})), header(parties), METER, pins.new_pin()
        )
    assert refused.value.code == "no-redeem-privilege"


def test_activation_is_refused_when_the_float_cannot_pay(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    parties = seed_parties(demo_db, funded_cents=5000)
    created = create_batch(demo_db, parties.scratch_vendor_id, 3, 2000)
    with pytest.raises(Exception) as refused, transaction(demo_db.sessions) as session:
        activation.activate(
            session, created.first_serial, created.last_serial, actor="test", today=TODAY
        )
    assert getattr(refused.value, "code", None) == "insufficient-float"
    assert balance(demo_db, parties.scratch_vendor_id) == 5000
    assert liability(demo_db) == 0
    with demo_db.sessions() as session:
        assert set(session.scalars(select(Voucher.status))) == {"created"}
        books_hold(session)


def test_five_invalid_pins_lock_the_terminal_for_ten_minutes(
    demo_db: TestDatabase, parties: Parties, service: DatabaseVendingService, clock: Clock
) -> None:
    created = create_batch(demo_db, parties.scratch_vendor_id, 1, 1000)
    (good,) = [line["pin"] for line in export_and_read(demo_db, created.batch_id)]
    with transaction(demo_db.sessions) as session:
        activation.activate(
            session, created.first_serial, created.last_serial, actor="test", today=TODAY
        )
    guesses = [pins.new_pin() for _ in range(4)]
    bad_check_digit = guesses[0][:-1] + str((int(guesses[0][-1]) + 1) % 10)
    for guess in [*guesses, bad_check_digit]:
        with pytest.raises(errors.VoucherInvalid):
            service.voucher_vend(platform(parties), header(parties), METER, guess)
        clock.now += timedelta(seconds=30)
    clock.now += timedelta(minutes=1)

    # Locked out: even the good PIN is refused now, and the refusal is not an attempt.
    with pytest.raises(errors.RequestAuthorisation) as locked:
        service.voucher_vend(platform(parties), header(parties), METER, good)
    assert locked.value.code == "voucher-attempts-exceeded"
    with demo_db.sessions() as session:
        assert len(session.scalars(select(VoucherAttempt)).all()) == 5
        audited = session.execute(
            select(VendRequest.operation).where(VendRequest.operation == "VoucherVend")
        ).all()
        # Each refused msgID is remembered (the five guesses, the check-digit one included,
        # and the locked-out request): it stays refused.
        assert len(audited) == 6
    # Ten minutes after the fifth the terminal may redeem again.
    clock.now += timedelta(minutes=10)
    receipt = service.voucher_vend(platform(parties), header(parties), METER, good)
    assert receipt.tender_cents == 1000
    with demo_db.sessions() as session:
        books_hold(session)
        audits = database_text(demo_db)
    assert audits.count("voucher.invalid_attempt") == 5
    assert pin_traces(audits, [*guesses, bad_check_digit, good]) == []


def test_guesses_sent_at_the_same_instant_stop_at_five(
    demo_db: TestDatabase, parties: Parties, service: DatabaseVendingService
) -> None:
    # Twelve workers of one terminal send a wrong PIN at once: the screen judges them one after
    # another under the terminal's lock, so five are judged and counted, seven find the limit.
    # (Before the screen, the count was read outside any lock and all twelve were judged.)
    senders = 12
    start = threading.Barrier(senders)

    def guess() -> str:
        start.wait()
        try:
            service.voucher_vend(platform(parties), header(parties), METER, pins.new_pin())
        except errors.VoucherInvalid as refused:
            return refused.code
        except errors.RequestAuthorisation as refused:
            return refused.code
        return "redeemed"

    with ThreadPoolExecutor(senders) as pool:
        outcomes = Counter(pool.map(lambda _: guess(), range(senders)))
    assert outcomes == {"voucher-unknown": 5, "voucher-attempts-exceeded": 7}
    with demo_db.sessions() as session:
        assert len(session.scalars(select(VoucherAttempt)).all()) == 5
    assert database_text(demo_db).count("voucher.invalid_attempt") == 5


def test_a_retried_invalid_msg_id_counts_once(
    demo_db: TestDatabase, parties: Parties, service: DatabaseVendingService
) -> None:
    guess = pins.new_pin()
    same = header(parties)
    for _ in range(6):
        with pytest.raises(errors.VoucherInvalid):
            service.voucher_vend(platform(parties), same, METER, guess)
    with demo_db.sessions() as session:
        assert len(session.scalars(select(VoucherAttempt)).all()) == 1


def test_voucher_redemptions_are_not_reversible(
    demo_db: TestDatabase, parties: Parties, service: DatabaseVendingService
) -> None:
    created = create_batch(demo_db, parties.scratch_vendor_id, 1, 3000)
    (pin,) = [line["pin"] for line in export_and_read(demo_db, created.batch_id)]
    with transaction(demo_db.sessions) as session:
        activation.activate(
            session, created.first_serial, created.last_serial, actor="test", today=TODAY
        )
    receipt = service.voucher_vend(platform(parties), header(parties), METER, pin)
    with pytest.raises(errors.ReversalError) as refused:
        service.reverse_by_receipt(receipt.receipt_no, "test", "operator")
    assert refused.value.code == "not-reversible"
    assert liability(demo_db) == 0
    with demo_db.sessions() as session:
        books_hold(session)


def test_the_database_refuses_a_redemption_without_its_transaction(
    demo_db: TestDatabase, parties: Parties
) -> None:
    created = create_batch(demo_db, parties.scratch_vendor_id, 1, 1000, date(2099, 1, 1))
    with demo_db.sessions() as session:
        voucher = session.scalar(select(Voucher).where(Voucher.serial == created.first_serial))
        assert voucher is not None
        voucher.status = "redeemed"  # without its transaction: the CHECK refuses it
        voucher.activated_at = datetime.now(UTC)
        with pytest.raises(Exception, match="redeemed_has_transaction"):
            session.flush()
