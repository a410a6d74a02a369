"""The console's own pages, on real data: dashboard, vendors, meters, audit."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import select

from core.db import transaction
from core.models import AuditEvent
from gateway import errors
from gateway.models import Meter
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader, VendReceipt
from tests.console.conftest import Console, csrf_token
from vendor_accounts import authenticate_terminal, get_terminal, get_vendor
from vendor_accounts.models import Terminal

BANK, ATM = "6004000000019", "ATM-0001"
METER = "01234567897"
_numbers = itertools.count(1)


def vend(console: Console, meter: str = METER, cents: int = 5000) -> VendReceipt:
    db = console.db
    with db.sessions() as session:
        vendor = get_vendor(session, BANK)
        terminal = get_terminal(session, BANK, ATM)
        who = Principal(vendor.id, BANK, ATM, frozenset(terminal.privileges), vendor.kind)
    head = RequestHeader(BANK, ATM, MsgID("20261201090000", 7_000_000 + next(_numbers)))
    return DatabaseVendingService(db.runtime).credit_vend(who, head, meter, cents, "cash")


def audit_actions(console: Console) -> list[tuple[str, str, str]]:
    with transaction(console.db.sessions) as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.subject).order_by(AuditEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# --- dashboard -------------------------------------------------------------------------------


def test_the_dashboard_shows_todays_sales_hours_faults_and_low_floats(console: Console) -> None:
    vend(console, cents=5000)
    vend(console, cents=2500)
    with pytest.raises(errors.BlockedMeter):
        vend(console, meter="04000000010")  # blocked: a refusal
    page = console.client("auditor").get("/").get_data(as_text=True)
    assert "ZAR75.00" in page  # 50.00 + 25.00
    assert "2 vends" in page
    assert "BlockedMeterEx" in page
    assert "<svg" in page and "Vends per hour" in page
    assert "Every float is above its alert level." in page  # no level is set yet


def test_the_dashboard_lists_the_floats_below_their_alert_level(console: Console) -> None:
    from vendor_accounts.alerts import set_alert_level

    with transaction(console.db.sessions) as session:
        # Corner Shop holds 50.00: below a level of 100.00; Demo Bank (10000.00) is not below 500
        set_alert_level(session, client_id="6004000000026", level_cents=10000, actor="t")
        set_alert_level(session, client_id=BANK, level_cents=50000, actor="t")
    page = console.client("finance").get("/").get_data(as_text=True)
    low = page.split('id="low-floats"', 1)[1]
    assert "Corner Shop" in low and "ZAR100.00" in low and "Demo Bank" not in low


# --- vendors ---------------------------------------------------------------------------------


def test_a_supervisor_adds_a_vendor_and_a_terminal_whose_secret_is_shown_once(
    console: Console,
) -> None:
    client = console.client("supervisor")
    page = client.get("/vendors/")
    assert "Demo Bank" in page.get_data(as_text=True)
    response = client.post(
        "/vendors/",
        data={
            "csrf_token": csrf_token(page),
            "client_id": "6004000000101",
            "name": "New Agent",
            "kind": "agent",
            "credit_line": "0",
            "low_float": "100.00",
            "commission_percent": "1.25",
        },
    )
    assert response.status_code == 302
    detail = client.get("/vendors/6004000000101")
    added = client.post(
        "/vendors/6004000000101/terminals",
        data={
            "csrf_token": csrf_token(detail),
            "terminal_code": "POS-9",
            "can_vend": "1",
            "allowed_cidrs": "10.0.0.0/8",
        },
    )
    html = added.get_data(as_text=True)
    secret = html.split('id="secret-value">', 1)[1].split("<", 1)[0]
    assert len(secret) >= 16
    # the secret works, and is never shown again
    with transaction(console.db.sessions) as session:
        who = authenticate_terminal(
            session,
            "6004000000101",
            "POS-9",
            secret,
            source_ip="10.1.2.3",
            verifier_key=console.db.runtime.verifier_key,
        )
        assert who.client_id == "6004000000101"
    assert secret not in client.get("/vendors/6004000000101").get_data(as_text=True)
    actions = audit_actions(console)
    assert ("console:supervisor-user", "vendor.add", "6004000000101") in actions
    assert ("console:supervisor-user", "terminal.add", "6004000000101/POS-9") in actions
    assert all(secret not in json.dumps(a) for a in actions)


def test_an_invalid_client_id_is_refused_and_nothing_is_added(console: Console) -> None:
    client = console.client("admin")
    page = client.get("/vendors/")
    response = client.post(
        "/vendors/",
        data={"csrf_token": csrf_token(page), "client_id": "1234", "name": "X", "kind": "agent"},
    )
    assert response.status_code == 400
    assert "not a valid client ID" in response.get_data(as_text=True)
    assert "1234" not in {a[2] for a in audit_actions(console)}


def test_rotate_suspend_and_allowlist(console: Console) -> None:
    client = console.client("admin")
    detail = client.get(f"/vendors/{BANK}")
    token = csrf_token(detail)
    rotated = client.post(f"/vendors/{BANK}/terminals/{ATM}/rotate", data={"csrf_token": token})
    secret = rotated.get_data(as_text=True).split('id="secret-value">', 1)[1].split("<", 1)[0]
    assert secret != "demo-pass-1"
    client.post(
        f"/vendors/{BANK}/terminals/{ATM}/allowlist",
        data={"csrf_token": token, "allowed_cidrs": "192.0.2.0/24"},
    )
    bad = client.post(
        f"/vendors/{BANK}/terminals/{ATM}/allowlist",
        data={"csrf_token": token, "allowed_cidrs": "not-an-address"},
    )
    assert bad.status_code == 400
    client.post(
        f"/vendors/{BANK}/status",
        data={"csrf_token": token, "status": "suspended", "reason": "audit"},
    )
    with transaction(console.db.sessions) as session:
        terminal = session.scalar(select(Terminal).where(Terminal.code == ATM))
        assert terminal is not None and terminal.allowed_cidrs == "192.0.2.0/24"
        assert get_vendor(session, BANK).status == "suspended"
    actions = {a[1] for a in audit_actions(console)}
    assert {"terminal.rotate", "terminal.allowlist", "vendor.suspended"} <= actions


# --- meters ----------------------------------------------------------------------------------


def test_the_call_centre_finds_a_meter_by_number_account_or_name(console: Console) -> None:
    client = console.client("operator")
    by_number = client.get(f"/meters?q={METER}")
    assert by_number.status_code == 302 and by_number.headers["Location"].endswith(METER)
    by_account = client.get("/meters?q=ACC-0002").get_data(as_text=True)
    assert "04000000010" in by_account
    by_name = client.get("/meters?q=dlamini")
    # the contract's address answers the search itself (no redirect to /meters/)
    assert by_name.status_code == 200
    assert "Sipho Dlamini" in by_name.get_data(as_text=True)
    assert "Sipho Dlamini" in client.get("/meters/?q=dlamini").get_data(as_text=True)
    nothing = client.get("/meters?q=zzzz-nobody").get_data(as_text=True)
    assert 'id="no-hits"' in nothing
    # LIKE wildcards are text, not patterns
    assert 'id="no-hits"' in client.get("/meters?q=%25").get_data(as_text=True)


def test_a_meters_vends_show_their_tokens_and_reprint_the_same_receipt(console: Console) -> None:
    receipt = vend(console)
    tokens = [t for line in receipt.lines for t in line.tokens]
    assert tokens
    client = console.client("supervisor")
    page = client.get(f"/meters/{METER}")
    html = page.get_data(as_text=True)
    spaced = " ".join(tokens[0][i : i + 4] for i in range(0, 20, 4))
    assert receipt.receipt_no in html and spaced in html
    reprint = client.post(
        f"/meters/{METER}/receipts/{receipt.receipt_no}", data={"csrf_token": csrf_token(page)}
    )
    assert reprint.status_code == 200 and spaced in reprint.get_data(as_text=True)
    assert ("console:supervisor-user", "console.reprint", receipt.receipt_no) in audit_actions(
        console
    )


def test_block_and_unblock_need_a_reason_and_are_audited(console: Console) -> None:
    client = console.client("operator")
    page = client.get(f"/meters/{METER}")
    token = csrf_token(page)
    refused = client.post(
        f"/meters/{METER}/status", data={"csrf_token": token, "status": "blocked"}
    )
    assert refused.status_code == 400
    client.post(
        f"/meters/{METER}/status",
        data={"csrf_token": token, "status": "blocked", "reason": "tamper report"},
    )
    with transaction(console.db.sessions) as session:
        assert session.scalar(select(Meter.status).where(Meter.meter_number == METER)) == "blocked"
    with pytest.raises(errors.BlockedMeter):
        vend(console)
    client.post(
        f"/meters/{METER}/status",
        data={"csrf_token": token, "status": "active", "reason": "inspected"},
    )
    vend(console)
    actions = [a for a in audit_actions(console) if a[1].startswith("meter.")]
    assert actions == [
        ("console:operator-user", "meter.block", METER),
        ("console:operator-user", "meter.unblock", METER),
    ]


def test_the_customers_debt_is_shown(console: Console) -> None:
    html = console.client("operator").get("/meters/04000000036").get_data(as_text=True)
    assert "ZAR500.00" in html


# --- audit -----------------------------------------------------------------------------------


def test_the_audit_trail_filters_by_user_action_and_date(console: Console) -> None:
    console.client("operator").get(f"/meters?q={METER}")
    client = console.client("auditor")
    everything = client.get("/audit/").get_data(as_text=True)
    assert "console.meter_search" in everything and "console.login" in everything
    mine = client.get("/audit/?user=console:operator").get_data(as_text=True)
    assert "console.meter_search" in mine
    searches = client.get("/audit/?action=console.meter_search").get_data(as_text=True)
    searches = searches.split('id="audit-events"', 1)[1]
    assert "console.meter_search" in searches and "console.user_added" not in searches
    past = client.get("/audit/?from=2020-01-01&to=2020-01-02").get_data(as_text=True)
    assert "No event matches." in past
