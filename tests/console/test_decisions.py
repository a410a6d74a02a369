"""Approve and reject on every page that takes maker-checker requests (floats, tariffs,
vouchers), through the real application on both backends: the refusals they share
(vendgw.console.decisions) answer alike on each, each in its page's own words.

A request of another page's kind is not found on a page, the maker may not approve their own
request (but may withdraw it), a decided request is refused with 409 and the shared words, an
unknown one is a 404, a POST without its CSRF token is a 400; nothing is decided by a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import transaction, utcnow
from core.localtime import local_day, utility_zone
from core.models import AuditEvent
from tests.console.conftest import Console, csrf_token
from tests.support.vouchers import create_batch, seed_parties
from vendgw.console import approvals
from vendgw.console.approval_models import ApprovalRequest

SHOP = "6004000000026"  # the demo's Corner Shop
MAKER = "console:finance-user"  # the fixture's finance user, as the audit trail names it


def _deposit(console: Console) -> approvals.Request:
    with transaction(console.db.sessions) as s:
        return approvals.request_deposit(
            s, client_id=SHOP, amount_cents=10_000, bank_reference="EFT-DECIDE", maker=MAKER
        )


def _tariff_version(console: Console) -> approvals.Request:
    zone = console.db.settings.utility.timezone
    tomorrow = local_day(utcnow(), utility_zone(zone)) + timedelta(days=1)
    with transaction(console.db.sessions) as s:
        return approvals.request_tariff_version(
            s,
            code="DOMESTIC",
            description="Domestic step tariff",
            effective_from=tomorrow.isoformat(),
            steps=[(1000, 13_000), (None, 22_500)],
            monthly_fixed_charge_cents=0,
            maker=MAKER,
            timezone=zone,
        )


def _voucher_activation(console: Console) -> approvals.Request:
    parties = seed_parties(console.db, funded_cents=1_000_000)
    made = create_batch(console.db, parties.scratch_vendor_id, 3, 2_000)
    with transaction(console.db.sessions) as s:
        return approvals.request_voucher_activation(
            s, maker=MAKER, batch_id=made.batch_id, timezone=console.db.settings.utility.timezone
        )


@dataclass(frozen=True)
class Page:
    name: str
    index: str  # the page (its forms carry the CSRF token)
    requests: str  # the URL its approve and reject are under
    enter: Callable[[Console], approvals.Request]  # a request of the page's kind, by MAKER
    other: Callable[[Console], approvals.Request]  # a request of another page's kind
    own: str  # the page's words for the maker approving their own request
    approved: Callable[[approvals.Request], str]
    rejected: str

    def __str__(self) -> str:
        return self.name


PAGES = [
    Page(
        "floats",
        "/floats/",
        "/floats/deposits",
        _deposit,
        _tariff_version,
        "You entered this deposit: a different user must approve it.",
        lambda r: f"Deposit {r.payload['bank_reference']} approved and posted.",
        "Deposit rejected; nothing was posted.",
    ),
    Page(
        "tariffs",
        "/tariffs/",
        "/tariffs/versions",
        _tariff_version,
        _deposit,
        "You entered this version: a different user must approve it.",
        lambda r: f"Version of {r.payload['code']} from {r.payload['effective_from']} approved.",
        "Version rejected; nothing was written.",
    ),
    Page(
        "vouchers",
        "/vouchers",
        "/vouchers/requests",
        _voucher_activation,
        _deposit,
        "You entered this request: a different user must approve it.",
        lambda r: f"Activation of {r.subject} approved.",
        "Request rejected; nothing was done.",
    ),
]


def _checker(console: Console, language: str = "en"):
    console.add_user("finance-2", "finance", language=language)
    client = console.app.test_client()
    assert console.login(client, "finance-2").status_code == 302
    return client


def _decide(client, page: Page, request_id: int, decision: str, **form: str):
    token = csrf_token(client.get(page.index))
    return client.post(
        f"{page.requests}/{request_id}/{decision}", data={"csrf_token": token, **form}
    )


def _status(console: Console, request_id: int) -> str:
    with console.db.sessions() as s:
        found = s.scalar(select(ApprovalRequest.status).where(ApprovalRequest.id == request_id))
    assert found is not None
    return found


def _decisions_audited(console: Console) -> list[tuple[str, str]]:
    with console.db.sessions() as s:
        return [
            (e.actor, e.action)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action in ("approval.approve", "approval.reject")
        ]


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_the_maker_may_not_approve_their_own_request_but_may_withdraw_it(
    console: Console, page: Page
) -> None:
    made = page.enter(console)
    maker = console.client("finance")
    own = _decide(maker, page, made.id, "approve")
    assert own.status_code == 409
    assert page.own in own.get_data(as_text=True)
    assert _status(console, made.id) == "pending" and _decisions_audited(console) == []

    withdrawn = _decide(maker, page, made.id, "reject", note="entered twice")
    assert withdrawn.status_code == 302
    assert page.rejected in maker.get(page.index).get_data(as_text=True)
    assert _status(console, made.id) == "rejected"
    assert _decisions_audited(console) == [(MAKER, "approval.reject")]


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_a_request_of_another_pages_kind_is_not_found_there(console: Console, page: Page) -> None:
    other = page.other(console)
    checker = _checker(console)
    assert _decide(checker, page, other.id, "approve").status_code == 404
    assert _decide(checker, page, other.id, "reject").status_code == 404
    assert _status(console, other.id) == "pending" and _decisions_audited(console) == []


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_a_decided_request_is_refused_with_the_shared_words(console: Console, page: Page) -> None:
    made = page.enter(console)
    checker = _checker(console)
    done = _decide(checker, page, made.id, "approve")
    assert done.status_code == 302
    assert page.approved(made) in checker.get(page.index).get_data(as_text=True)
    assert _status(console, made.id) == "approved"

    for decision in ("approve", "reject"):
        again = _decide(checker, page, made.id, decision)
        assert again.status_code == 409, decision
        assert "This request was already decided." in again.get_data(as_text=True)
    assert _status(console, made.id) == "approved"
    assert _decisions_audited(console) == [("console:finance-2", "approval.approve")]


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_a_rejected_request_is_refused_in_the_users_language(console: Console, page: Page) -> None:
    made = page.enter(console)
    checker = _checker(console, language="fr")
    assert _decide(checker, page, made.id, "reject", note="pas sur le relevé").status_code == 302
    again = _decide(checker, page, made.id, "approve")
    assert again.status_code == 409
    assert "Cette demande a déjà été décidée." in again.get_data(as_text=True)
    assert _status(console, made.id) == "rejected"
    with console.db.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "approval.reject"))
    assert event is not None and "pas sur le relev" in event.detail


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_an_unknown_request_is_not_found(console: Console, page: Page) -> None:
    checker = _checker(console)
    for decision in ("approve", "reject"):
        missing = _decide(checker, page, 999_999, decision)
        assert missing.status_code == 404, decision
        html = missing.get_data(as_text=True)
        if page.name == "floats":  # the deposits' page with the words, as it always answered
            assert "No such request." in html and f'action="{page.requests}"' in html
        else:
            assert "There is no such page." in html


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_a_decision_without_its_csrf_token_is_refused(console: Console, page: Page) -> None:
    made = page.enter(console)
    checker = _checker(console)
    for decision in ("approve", "reject"):
        assert checker.post(f"{page.requests}/{made.id}/{decision}").status_code == 400
    assert _status(console, made.id) == "pending" and _decisions_audited(console) == []
