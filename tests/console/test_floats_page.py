"""/floats through the real application: balances, statements with CSV, and deposits by
maker-checker (entered by one finance user, approved by another, posted only then, once)."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from core.models import AuditEvent
from tests.console.conftest import Console, csrf_token
from vendgw.console.access import ROLES
from vendgw.console.approval_models import ApprovalRequest
from vendor_accounts import balance, get_vendor

SHOP = "6004000000026"  # the demo's Corner Shop, 50.00 of float


def _balance(console: Console) -> int:
    with console.db.sessions() as s:
        return balance(s, get_vendor(s, SHOP).id).balance_cents


def _enter(client, amount: str = "1250.00", ref: str = "EFT-7781"):
    page = client.get("/floats/")
    return client.post(
        "/floats/deposits",
        data={
            "csrf_token": csrf_token(page),
            "client_id": SHOP,
            "amount": amount,
            "bank_reference": ref,
        },
    )


def _pending_id(console: Console) -> int:
    with console.db.sessions() as s:
        found = s.scalar(select(ApprovalRequest.id).where(ApprovalRequest.status == "pending"))
    assert found is not None
    return found


def test_a_deposit_posts_only_when_another_finance_user_approves_it(console: Console) -> None:
    before = _balance(console)
    maker = console.client("finance")
    response = _enter(maker)
    assert response.status_code == 302
    page = maker.get("/floats/").get_data(as_text=True)
    request_id = _pending_id(console)
    assert "EFT-7781" in page and "Waiting for another user" in page
    assert f'id="approve-{request_id}"' not in page  # no approve button for the maker
    assert _balance(console) == before

    own = maker.post(
        f"/floats/deposits/{request_id}/approve", data={"csrf_token": csrf_token(page)}
    )
    assert own.status_code == 409
    assert "a different user must approve it" in own.get_data(as_text=True)
    assert _balance(console) == before

    console.add_user("finance-2", "finance")
    checker = console.app.test_client()
    console.login(checker, "finance-2")
    page = checker.get("/floats/").get_data(as_text=True)
    assert f'id="approve-{request_id}"' in page
    done = checker.post(
        f"/floats/deposits/{request_id}/approve", data={"csrf_token": csrf_token(page)}
    )
    assert done.status_code == 302
    assert _balance(console) == before + 125_000

    again = checker.post(
        f"/floats/deposits/{request_id}/approve", data={"csrf_token": csrf_token(page)}
    )
    assert again.status_code == 409 and _balance(console) == before + 125_000
    with console.db.sessions() as s:
        events = [
            (e.actor, e.action)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith(("approval.", "float.deposit")) and e.actor != "demo-seed"
        ]
    assert events == [
        ("console:finance-user", "approval.request"),
        ("console:finance-2", "float.deposit"),
        ("console:finance-2", "approval.approve"),
    ]


def test_a_rejected_deposit_never_posts(console: Console) -> None:
    before = _balance(console)
    maker = console.client("finance")
    _enter(maker)
    request_id = _pending_id(console)
    console.add_user("finance-2", "finance")
    checker = console.app.test_client()
    console.login(checker, "finance-2")
    page = checker.get("/floats/")
    rejected = checker.post(
        f"/floats/deposits/{request_id}/reject",
        data={"csrf_token": csrf_token(page), "note": "not on the bank statement"},
    )
    assert rejected.status_code == 302
    assert "not on the bank statement" in checker.get("/floats/").get_data(as_text=True)
    assert _balance(console) == before


@pytest.mark.parametrize(
    ("amount", "ref", "status"),
    [("12.345", "EFT-1", 400), ("0", "EFT-1", 400), ("abc", "EFT-1", 400), ("10.00", "", 400)],
)
def test_bad_deposits_are_refused_with_nothing_entered(console, amount, ref, status) -> None:
    client = console.client("finance")
    assert _enter(client, amount, ref).status_code == status
    with console.db.sessions() as s:
        assert s.scalar(select(ApprovalRequest.id)) is None


def test_the_same_bank_reference_twice_is_refused(console: Console) -> None:
    client = console.client("finance")
    assert _enter(client).status_code == 302
    assert _enter(client).status_code == 409


def test_a_post_without_its_csrf_token_is_refused(console: Console) -> None:
    client = console.client("finance")
    response = client.post(
        "/floats/deposits",
        data={"client_id": SHOP, "amount": "10.00", "bank_reference": "EFT-9"},
    )
    assert response.status_code == 400
    with console.db.sessions() as s:
        assert s.scalar(select(ApprovalRequest.id)) is None


def test_a_statement_on_screen_and_as_csv(console: Console) -> None:
    client = console.client("finance")
    page = client.get(f"/floats/{SHOP}/statement")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Opening balance" in html and "DEMO-FUND-" + SHOP in html
    download = client.get(f"/floats/{SHOP}/statement?format=csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(download.get_data(as_text=True).splitlines()))
    assert rows[0][0] == "Date and time"
    assert rows[-1][-1] == f"{_balance(console) // 100}.{_balance(console) % 100:02d}"
    assert client.get("/floats/6004000000999/statement").status_code == 404
    assert client.get(f"/floats/{SHOP}/statement?from=yesterday").status_code == 400


def test_setting_an_alert_level(console: Console) -> None:
    client = console.client("finance")
    page = client.get(f"/floats/{SHOP}/statement")
    done = client.post(
        f"/floats/{SHOP}/alert-level",
        data={"csrf_token": csrf_token(page), "level": "100.00", "notify": "shop@corner.test"},
    )
    assert done.status_code == 302
    from vendor_accounts.alerts import below_alert_level

    with console.db.sessions() as s:
        assert [low.client_id for low in below_alert_level(s)] == [SHOP]
    assert "low" in client.get("/floats/").get_data(as_text=True)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "finance"])
def test_only_finance_may_use_the_floats_page(console: Console, role: str) -> None:
    client = console.client(role)
    assert client.get("/floats/").status_code == 403
    assert client.get(f"/floats/{SHOP}/statement").status_code == 403
    token = csrf_token(client.get("/"))
    assert (
        client.post(
            "/floats/deposits",
            data={"csrf_token": token, "client_id": SHOP, "amount": "1.00", "bank_reference": "X"},
        ).status_code
        == 403
    )
    assert console.anonymous().get("/floats/").status_code == 302
