"""/vouchers: batches by state, and activation and void by maker-checker (both backends).

The approvals are the vouchers domain's own writes (gateway.vouchers.activation) run in the
approval's transaction: nothing moves before a different user approves, and an approval posts
exactly once, even with two checkers at the same instant; the ledger and the vouchers agree
after every step.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.db import transaction
from core.models import AuditEvent
from gateway.vouchers import batches
from gateway.vouchers.invariants import check_vouchers
from gateway.vouchers.pins import format_serial
from tests.console.conftest import Console, csrf_token
from tests.support.vendor_accounts import count_entries
from tests.support.vouchers import SCRATCH_COMMISSION_BP, create_batch, seed_parties
from vendgw.console import approvals
from vendor_accounts import balance, check_invariants

FUNDED = 1_000_000
FACE = 2_000  # 20.00 a card
NET = FACE - FACE * SCRATCH_COMMISSION_BP // 10_000  # what the vendor's float pays per card


def _states(db, batch_id: int) -> dict[str, int]:
    with db.sessions() as s:
        return batches.batch_states(s, batch_id)[0].by_status


def _books_agree(db) -> None:
    with db.sessions() as s:
        assert check_invariants(s) == []
        assert check_vouchers(s) == []


def _balance(db, vendor_id: int) -> int:
    with db.sessions() as s:
        return balance(s, vendor_id).balance_cents


# --- the approvals, on the domain --------------------------------------------------------


def test_an_activation_sells_the_stock_only_when_a_different_user_approves_it(db):
    parties = seed_parties(db, funded_cents=FUNDED)
    made = create_batch(db, parties.scratch_vendor_id, 10, FACE)
    with transaction(db.sessions) as s:
        request = approvals.request_voucher_activation(s, maker="mia", batch_id=made.batch_id)
    assert request.status == "pending"
    assert (request.payload["count"], request.payload["face_cents"]) == (10, 10 * FACE)

    # entered, not sold: the rehearsal left nothing behind
    assert _states(db, made.batch_id) == {"created": 10}
    assert _balance(db, parties.scratch_vendor_id) == FUNDED
    with db.sessions() as s:
        assert count_entries(s, parties.scratch_vendor_id, "voucher_sale") == 0
        assert not s.scalars(
            select(AuditEvent).where(AuditEvent.action == "voucher.activate")
        ).all()
    _books_agree(db)

    with pytest.raises(approvals.OwnRequest), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="mia")
    assert _states(db, made.batch_id) == {"created": 10}

    with transaction(db.sessions) as s:
        done = approvals.approve(s, request.id, checker="carl")
    assert (done.status, done.checker, done.result["activated"]) == ("approved", "carl", 10)
    assert _states(db, made.batch_id) == {"active": 10}
    assert _balance(db, parties.scratch_vendor_id) == FUNDED - 10 * NET
    _books_agree(db)

    with pytest.raises(approvals.AlreadyDecided), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="dora")
    assert _balance(db, parties.scratch_vendor_id) == FUNDED - 10 * NET


def test_two_checkers_approving_a_void_at_the_same_instant_post_it_once(db):
    parties = seed_parties(db, funded_cents=FUNDED)
    made = create_batch(db, parties.scratch_vendor_id, 10, FACE)
    low, high = made.first_serial, made.last_serial
    with transaction(db.sessions) as s:
        first = approvals.request_voucher_activation(
            s, maker="mia", first_serial=low, last_serial=low + 5
        )
    with transaction(db.sessions) as s:
        approvals.approve(s, first.id, checker="carl")
    with transaction(db.sessions) as s:
        voiding = approvals.request_voucher_void(
            s, maker="mia", first_serial=low, last_serial=high, reason="box stolen"
        )
    assert voiding.payload["count"] == 10
    assert voiding.payload["credited_back_cents"] == 6 * NET
    assert _states(db, made.batch_id) == {"active": 6, "created": 4}

    start = threading.Barrier(4)
    outcomes: list[object] = []
    lock = threading.Lock()

    def checker(name: str) -> None:
        start.wait()
        try:
            with transaction(db.sessions) as s:
                outcome: object = approvals.approve(s, voiding.id, checker=name)
        except BaseException as exc:  # any error but AlreadyDecided fails below
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=checker, args=(f"checker{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    approved = [o for o in outcomes if isinstance(o, approvals.Request)]
    refused = [o for o in outcomes if isinstance(o, approvals.AlreadyDecided)]
    assert len(approved) == 1 and len(refused) == 3, outcomes
    assert _states(db, made.batch_id) == {"voided": 10}
    assert _balance(db, parties.scratch_vendor_id) == FUNDED  # the 6 sold are credited back
    with db.sessions() as s:
        assert count_entries(s, parties.scratch_vendor_id, "voucher_sale") == 1
        voids = s.scalars(select(AuditEvent).where(AuditEvent.action == "voucher.void")).all()
        assert len(voids) == 1
    _books_agree(db)


def test_refused_voucher_requests_store_nothing(db):
    parties = seed_parties(db, funded_cents=3 * NET)  # pays for 3 cards, not 10
    made = create_batch(db, parties.scratch_vendor_id, 10, FACE)
    low, high = made.first_serial, made.last_serial
    cases = [
        (dict(batch_id=made.batch_id), approvals.DomainRefusal, "insufficient-float"),
        (dict(batch_id=999_999), approvals.InvalidRequest, None),
        (dict(first_serial=high, last_serial=low), approvals.InvalidRequest, None),
        (dict(first_serial=high + 100, last_serial=high + 200), approvals.DomainRefusal,
         "no-vouchers"),
    ]  # fmt: skip
    for kwargs, error, code in cases:
        with pytest.raises(error) as caught, transaction(db.sessions) as s:
            approvals.request_voucher_activation(s, maker="mia", **kwargs)
        if code:
            assert caught.value.domain_code == code
    with pytest.raises(approvals.InvalidRequest), transaction(db.sessions) as s:
        approvals.request_voucher_void(s, maker="mia", first_serial=low, last_serial=high,
                                       reason="  ")  # fmt: skip
    with transaction(db.sessions) as s:
        approvals.request_voucher_activation(s, maker="mia", first_serial=low, last_serial=low)
    with pytest.raises(approvals.DuplicateRequest), transaction(db.sessions) as s:
        approvals.request_voucher_activation(s, maker="ann", first_serial=low, last_serial=low)
    with db.sessions() as s:
        assert len(approvals.list_requests(s)) == 1
    assert _states(db, made.batch_id) == {"created": 10}
    assert _balance(db, parties.scratch_vendor_id) == 3 * NET
    _books_agree(db)


def test_a_domain_refusal_at_approval_leaves_the_request_pending(db):
    parties = seed_parties(db, funded_cents=FUNDED)
    made = create_batch(db, parties.scratch_vendor_id, 4, FACE)
    with transaction(db.sessions) as s:
        request = approvals.request_voucher_activation(s, maker="mia", batch_id=made.batch_id)
    with transaction(db.sessions) as s:  # the stock is stopped meanwhile, by the CLI's path
        from gateway.vouchers.activation import void

        void(s, made.first_serial, made.last_serial, reason="lost", actor="cli")
    with pytest.raises(approvals.DomainRefusal), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="carl")
    with db.sessions() as s:
        assert approvals.get_request(s, request.id).status == "pending"
    assert _balance(db, parties.scratch_vendor_id) == FUNDED
    _books_agree(db)


# --- the page ----------------------------------------------------------------------------


def _finance_pair(console: Console):
    console.add_user("finance-2", "finance")
    maker = console.client("finance")
    checker = console.app.test_client()
    assert console.login(checker, "finance-2").status_code == 302
    return maker, checker


def test_the_menu_lists_vouchers_only_once_a_batch_exists(console: Console) -> None:
    client = console.client("finance")
    page = client.get("/vouchers").get_data(as_text=True)
    assert 'id="no-batches"' in page
    assert 'href="/vouchers"' not in client.get("/").get_data(as_text=True)
    parties = seed_parties(console.db)
    create_batch(console.db, parties.scratch_vendor_id, 3, FACE)
    assert 'href="/vouchers"' in client.get("/").get_data(as_text=True)
    assert 'href="/vouchers"' not in console.client("operator").get("/").get_data(as_text=True)


def test_the_page_counts_each_batch_by_state_with_its_values(console: Console) -> None:
    parties = seed_parties(console.db, funded_cents=FUNDED)
    live = create_batch(console.db, parties.scratch_vendor_id, 5, FACE)
    old = create_batch(
        console.db, parties.scratch_vendor_id, 2, 500, expires_on=date.today() - timedelta(days=3)
    )
    with transaction(console.db.sessions) as s:
        from gateway.vouchers.activation import activate

        activate(s, live.first_serial, live.first_serial + 1, actor="cli", today=date.today())
    client = console.client("finance")
    html = client.get("/vouchers").get_data(as_text=True)
    row = html.split(f'id="batch-{live.batch_id}"')[1].split("</tr>")[0]
    cells = [c.split(">", 1)[1] for c in row.split('class="num state-')[1:]]
    assert [c.split("<")[0] for c in cells] == ["3", "2", "0", "0", "0"]
    assert "40.00" in row and "60.00" in row  # 2 active and 3 created at 20.00
    old_row = html.split(f'id="batch-{old.batch_id}"')[1].split("</tr>")[0]
    assert [c.split(">", 1)[1].split("<")[0] for c in old_row.split('class="num state-')[1:]] == [
        "0", "0", "0", "0", "2",
    ]  # fmt: skip
    detail = client.get(f"/vouchers/batches/{live.batch_id}").get_data(as_text=True)
    assert format_serial(live.first_serial) in detail and 'id="state-active"' in detail
    assert client.get("/vouchers/batches/999999").status_code == 404


def test_finance_activates_a_batch_by_maker_checker_on_the_page(console: Console) -> None:
    parties = seed_parties(console.db, funded_cents=FUNDED)
    made = create_batch(console.db, parties.scratch_vendor_id, 4, FACE)
    maker, checker = _finance_pair(console)
    url = f"/vouchers/batches/{made.batch_id}"
    page = maker.get(url)
    entered = maker.post(
        "/vouchers/activations",
        data={"csrf_token": csrf_token(page), "batch_id": made.batch_id, "scope": "batch"},
    )
    assert entered.status_code == 302 and entered.headers["Location"].endswith(url)
    assert _states(console.db, made.batch_id) == {"created": 4}
    with console.db.sessions() as s:
        (pending,) = approvals.list_requests(s, kind="voucher_activate", status="pending")
    mine = maker.get(url).get_data(as_text=True)
    assert f'id="approve-{pending.id}"' not in mine  # the maker gets no approve button
    refused = maker.post(
        f"/vouchers/requests/{pending.id}/approve", data={"csrf_token": csrf_token(mine)}
    )
    assert refused.status_code == 409
    assert _states(console.db, made.batch_id) == {"created": 4}
    # no CSRF token: refused before anything
    assert checker.post(f"/vouchers/requests/{pending.id}/approve").status_code == 400

    theirs = checker.get(url)
    assert f'id="approve-{pending.id}"' in theirs.get_data(as_text=True)
    approved = checker.post(
        f"/vouchers/requests/{pending.id}/approve",
        data={"csrf_token": csrf_token(theirs), "batch_id": made.batch_id},
    )
    assert approved.status_code == 302
    assert _states(console.db, made.batch_id) == {"active": 4}
    assert _balance(console.db, parties.scratch_vendor_id) == FUNDED - 4 * NET
    again = checker.post(
        f"/vouchers/requests/{pending.id}/approve", data={"csrf_token": csrf_token(theirs)}
    )
    assert again.status_code == 409
    assert _balance(console.db, parties.scratch_vendor_id) == FUNDED - 4 * NET
    _books_agree(console.db)


def test_finance_voids_a_range_with_a_reason_on_the_page(console: Console) -> None:
    parties = seed_parties(console.db, funded_cents=FUNDED)
    made = create_batch(console.db, parties.scratch_vendor_id, 4, FACE)
    maker, checker = _finance_pair(console)
    page = maker.get("/vouchers")
    low = format_serial(made.first_serial)
    high = format_serial(made.first_serial + 1)
    no_reason = maker.post(
        "/vouchers/voids",
        data={"csrf_token": csrf_token(page), "first_serial": low, "last_serial": high},
    )
    assert no_reason.status_code == 400 and "Give the reason" in no_reason.get_data(as_text=True)
    bad = maker.post(
        "/vouchers/voids",
        data={"csrf_token": csrf_token(page), "first_serial": "12x", "reason": "lost"},
    )
    assert bad.status_code == 400
    entered = maker.post(
        "/vouchers/voids",
        data={
            "csrf_token": csrf_token(page),
            "first_serial": low,
            "last_serial": high,
            "reason": "box of cards lost",
        },
    )
    assert entered.status_code == 302
    assert _states(console.db, made.batch_id) == {"created": 4}
    with console.db.sessions() as s:
        (pending,) = approvals.list_requests(s, kind="voucher_void", status="pending")
    theirs = checker.get("/vouchers")
    assert "box of cards lost" in theirs.get_data(as_text=True)
    checker.post(
        f"/vouchers/requests/{pending.id}/approve", data={"csrf_token": csrf_token(theirs)}
    )
    assert _states(console.db, made.batch_id) == {"created": 2, "voided": 2}
    _books_agree(console.db)


def test_the_vouchers_page_speaks_french_and_arabic(console: Console) -> None:
    parties = seed_parties(console.db)
    create_batch(console.db, parties.scratch_vendor_id, 2, FACE)
    console.add_user("finance-fr", "finance", language="fr")
    console.add_user("finance-ar", "finance", language="ar")
    fr = console.app.test_client()
    console.login(fr, "finance-fr")
    html = fr.get("/vouchers").get_data(as_text=True)
    assert "Activate a serial range" not in html and "Void a serial range" not in html
    ar = console.app.test_client()
    console.login(ar, "finance-ar")
    html = ar.get("/vouchers").get_data(as_text=True)
    assert 'dir="rtl"' in html and "Void a serial range" not in html


def test_finance_finds_one_voucher_by_its_serial(console: Console) -> None:
    # A customer says their card "did not work": finance looks the printed serial up and sees
    # whether, when and through which channel it was redeemed; never the PIN.
    from gateway.vend.service import DatabaseVendingService
    from gateway.vend.types import MsgID, Principal, RequestHeader
    from gateway.vouchers.activation import activate, void
    from tests.support.vouchers import PLATFORM_TERMINAL, export_and_read

    parties = seed_parties(console.db, funded_cents=FUNDED)
    stock = create_batch(console.db, parties.scratch_vendor_id, 3, FACE)
    drawn = [line["pin"] for line in export_and_read(console.db, stock.batch_id)]
    first, second, third = range(stock.first_serial, stock.last_serial + 1)
    with transaction(console.db.sessions) as s:
        activate(s, first, third, actor="cli", today=date.today())
    with transaction(console.db.sessions) as s:
        void(s, third, third, reason="lost in transit", actor="cli")
    redeemer = Principal(
        parties.platform_vendor_id,
        parties.platform_client_id,
        PLATFORM_TERMINAL,
        frozenset({"redeem"}),
        "mobile",
    )
    receipt = DatabaseVendingService(console.db.runtime).voucher_vend(
        redeemer,
        RequestHeader(parties.platform_client_id, PLATFORM_TERMINAL, MsgID("20261201120000", 7)),
        "01234567897",
        drawn[0],
    )
    client = console.client("finance")

    def found(serial: int) -> str:
        answer = client.get(f"/vouchers/voucher?serial={format_serial(serial)}")
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    redeemed = found(first)
    state = redeemed.split('id="voucher-state"')[1].split("</td>")[0]
    assert state.endswith(">redeemed")
    row = redeemed.split('id="voucher-redeemed"')[1].split("</tr>")[0]
    assert receipt.receipt_no in row and parties.platform_client_id in row
    assert found(second).split('id="voucher-state"')[1].split("</td>")[0].endswith(">active")
    voided = found(third)
    assert "lost in transit" in voided.split('id="voucher-voided"')[1].split("</tr>")[0]
    assert not any(pin in redeemed + voided for pin in drawn)  # the PINs are nowhere

    assert client.get("/vouchers/voucher?serial=12ab").status_code == 400
    missing = client.get("/vouchers/voucher?serial=999999999999")
    assert missing.status_code == 404
    assert "No voucher has the serial 999999999999." in missing.get_data(as_text=True)
    assert console.client("operator").get(f"/vouchers/voucher?serial={first}").status_code == 403
