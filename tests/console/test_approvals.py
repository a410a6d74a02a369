"""Maker-checker on both databases: nothing posts before approval, the maker cannot approve their
own request, and approval posts exactly once, also when two checkers approve at the same instant."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from core.db import transaction, utcnow
from core.localtime import local_day, utility_zone
from core.models import AuditEvent
from gateway.models import Tariff, TariffVersion
from gateway.tariffs import version_in_force
from tests.support.vendor_accounts import TZ, client_id, count_entries, new_vendor
from vendgw.console import approvals
from vendgw.console.approval_models import ApprovalRequest
from vendor_accounts import DepositConflict, balance, check_invariants, deposit


def _vendor(db, n: int = 1) -> int:
    with transaction(db.sessions) as s:
        return new_vendor(s, n).id


def _deposit_request(db, *, maker: str = "mia", ref: str = "BANK-001", cents: int = 125_000):
    with transaction(db.sessions) as s:
        return approvals.request_deposit(
            s, client_id=client_id(1), amount_cents=cents, bank_reference=ref, maker=maker
        )


def _actions(db) -> list[tuple[str, str]]:
    with db.sessions() as s:
        return [
            (e.actor, e.action)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith(("approval.", "float.deposit"))
        ]


def test_a_deposit_posts_only_when_a_different_user_approves_it(db):
    vendor_id = _vendor(db)
    request = _deposit_request(db)
    assert request.status == "pending" and request.payload["amount_cents"] == 125_000

    with db.sessions() as s:  # entered, not posted
        assert balance(s, vendor_id).balance_cents == 0
        assert count_entries(s, vendor_id, "deposit") == 0

    with pytest.raises(approvals.OwnRequest), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="mia")
    with db.sessions() as s:
        assert balance(s, vendor_id).balance_cents == 0
        assert approvals.get_request(s, request.id).status == "pending"

    with transaction(db.sessions) as s:
        done = approvals.approve(s, request.id, checker="carl")
    assert (done.status, done.maker, done.checker) == ("approved", "mia", "carl")
    assert done.decided_at is not None and done.result is not None
    with db.sessions() as s:
        assert balance(s, vendor_id).balance_cents == 125_000
        assert count_entries(s, vendor_id, "deposit") == 1
        assert check_invariants(s) == []
    assert _actions(db) == [
        ("mia", "approval.request"),
        ("carl", "float.deposit"),
        ("carl", "approval.approve"),
    ]

    # Approving again changes nothing.
    with pytest.raises(approvals.AlreadyDecided), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="dora")
    with db.sessions() as s:
        assert balance(s, vendor_id).balance_cents == 125_000


def test_two_checkers_approving_at_the_same_instant_post_once(db):
    vendor_id = _vendor(db)
    request = _deposit_request(db)
    start = threading.Barrier(4)
    outcomes: list[object] = []
    lock = threading.Lock()

    def checker(name: str) -> None:
        start.wait()
        try:
            with transaction(db.sessions) as s:
                outcome: object = approvals.approve(s, request.id, checker=name)
        except approvals.ApprovalError as exc:
            outcome = exc
        except BaseException as exc:  # any other error fails the test below
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
    with db.sessions() as s:
        assert balance(s, vendor_id).balance_cents == 125_000
        assert count_entries(s, vendor_id, "deposit") == 1
        assert check_invariants(s) == []
    assert [a for a in _actions(db) if a[1] == "approval.approve"] == [
        (approved[0].checker, "approval.approve")
    ]


def test_a_rejected_deposit_never_posts_and_its_reference_can_be_entered_again(db):
    vendor_id = _vendor(db)
    request = _deposit_request(db)
    with transaction(db.sessions) as s:
        rejected = approvals.reject(s, request.id, checker="carl", note="amount\nwrong")
    assert rejected.status == "rejected" and rejected.note == "amount\nwrong"
    with pytest.raises(approvals.AlreadyDecided), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="dora")
    with db.sessions() as s:
        assert balance(s, vendor_id).balance_cents == 0
    again = _deposit_request(db, cents=120_000)
    with transaction(db.sessions) as s:
        approvals.approve(s, again.id, checker="carl")
    with db.sessions() as s:
        assert balance(s, vendor_id).balance_cents == 120_000
    reject_event = [a for a in _actions(db) if a[1] == "approval.reject"]
    assert reject_event == [("carl", "approval.reject")]


def test_a_maker_may_withdraw_their_own_request(db):
    _vendor(db)
    request = _deposit_request(db)
    with transaction(db.sessions) as s:
        assert approvals.reject(s, request.id, checker="mia").status == "rejected"


def test_bad_or_duplicate_deposits_are_refused_when_entered(db):
    vendor_id = _vendor(db)
    for kwargs, field in [
        ({"amount_cents": 0}, "amount"),
        ({"amount_cents": 10.5}, "amount"),
        ({"bank_reference": " REF"}, "bank_reference"),
        ({"bank_reference": ""}, "bank_reference"),
        ({"client_id": client_id(9)}, "client_id"),
        ({"maker": " "}, "maker"),
    ]:
        args = {
            "client_id": client_id(1),
            "amount_cents": 100,
            "bank_reference": "REF-1",
            "maker": "mia",
            **kwargs,
        }
        with pytest.raises(approvals.InvalidRequest) as refused, transaction(db.sessions) as s:
            approvals.request_deposit(s, **args)
        assert refused.value.field == field

    _deposit_request(db, ref="REF-2")
    with pytest.raises(approvals.DuplicateRequest):
        _deposit_request(db, ref="REF-2", maker="other")
    with transaction(db.sessions) as s:
        deposit(s, vendor_id=vendor_id, amount_cents=500, bank_reference="REF-3", actor="cli")
    with pytest.raises(approvals.DuplicateRequest):
        _deposit_request(db, ref="REF-3")
    with db.sessions() as s:
        assert len(approvals.list_requests(s, status="pending")) == 1


def test_a_domain_refusal_at_approval_leaves_the_request_pending(db):
    vendor_id = _vendor(db)
    request = _deposit_request(db, ref="REF-9", cents=700)
    # The same bank reference posted meanwhile with another amount (by the command line).
    with transaction(db.sessions) as s:
        deposit(s, vendor_id=vendor_id, amount_cents=900, bank_reference="REF-9", actor="cli")
    with pytest.raises(DepositConflict), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="carl")
    with db.sessions() as s:
        assert approvals.get_request(s, request.id).status == "pending"
        assert balance(s, vendor_id).balance_cents == 900


def test_the_database_refuses_an_approval_by_the_maker(db):
    _vendor(db)
    request = _deposit_request(db)
    with pytest.raises(IntegrityError, match="checker_not_maker"), db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE approval_request SET status = 'approved', checker = maker, "
                "decided_at = created_at WHERE id = :id"
            ),
            {"id": request.id},
        )
    with pytest.raises(IntegrityError, match="decision_complete"), db.engine.begin() as conn:
        conn.execute(
            text("UPDATE approval_request SET status = 'approved' WHERE id = :id"),
            {"id": request.id},
        )


def _tomorrow() -> str:
    return (local_day(utcnow(), utility_zone(TZ)) + timedelta(days=1)).isoformat()


def test_a_tariff_version_is_created_only_on_approval(db):
    day = _tomorrow()
    with transaction(db.sessions) as s:
        request = approvals.request_tariff_version(
            s,
            code="RES1",
            description="Residential",
            effective_from=day,
            steps=[(500, 12000), (None, 21000)],
            monthly_fixed_charge_cents=0,
            maker="tara",
            timezone=TZ,
        )
    with db.sessions() as s:
        assert s.scalar(select(Tariff).where(Tariff.code == "RES1")) is None
    with pytest.raises(approvals.OwnRequest), transaction(db.sessions) as s:
        approvals.approve(s, request.id, checker="tara", timezone=TZ)
    with transaction(db.sessions) as s:
        done = approvals.approve(s, request.id, checker="finn", timezone=TZ)
    with db.sessions() as s:
        tariff = s.scalar(select(Tariff).where(Tariff.code == "RES1"))
        assert tariff is not None
        version = version_in_force(
            s, tariff.id, local_day(utcnow(), utility_zone(TZ)) + timedelta(1)
        )
        assert version is not None and version.id == done.result["tariff_version_id"]
        assert [(st.upto_tenths, st.price_e4) for st in version.steps] == [
            (500, 12000),
            (None, 21000),
        ]
        approve_event = s.scalar(select(AuditEvent).where(AuditEvent.action == "approval.approve"))
        assert approve_event is not None and approve_event.subject == "RES1"
        assert json.loads(approve_event.detail)["maker"] == "tara"

    # The same day again: refused when entered.
    with pytest.raises(approvals.DuplicateRequest), transaction(db.sessions) as s:
        approvals.request_tariff_version(
            s,
            code="RES1",
            description="Residential",
            effective_from=day,
            steps=[(None, 25000)],
            monthly_fixed_charge_cents=0,
            maker="tara",
            timezone=TZ,
        )


@pytest.mark.parametrize(
    ("steps", "day", "field"),
    [
        ([(500, 12000)], None, "steps"),  # the last step must be unbounded
        ([(None, 0)], None, "price_e4"),
        ([(None, 12000)], "2020-01-01", "effective_from"),
        ([(None, 12000)], "tomorrow", "effective_from"),
        ([("x",)], None, "steps"),
    ],
)
def test_bad_tariff_versions_are_refused_when_entered(db, steps, day, field):
    with pytest.raises(approvals.InvalidRequest) as refused, transaction(db.sessions) as s:
        approvals.request_tariff_version(
            s,
            code="RES1",
            description="",
            effective_from=day or _tomorrow(),
            steps=steps,
            monthly_fixed_charge_cents=0,
            maker="tara",
            timezone=TZ,
        )
    assert refused.value.field == field
    with db.sessions() as s:
        assert s.scalar(select(ApprovalRequest.id)) is None
        assert s.scalar(select(TariffVersion.id)) is None
