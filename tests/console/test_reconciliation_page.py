"""/reconciliation through the real application: a vendor's file uploaded and reconciled, its
breaks by vendor and age, one resolved with a note; refusals change nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from reconciliation.models import ReconBreak, ReconRun
from tests.console.conftest import Console, csrf_token
from tests.support.reconciliation import BANK, Clock, Utility, line, local
from vendgw.console.access import ROLES
from vendor_accounts import get_vendor


def _day_file(console: Console) -> tuple[str, bytes]:
    """A vend on 18 November 2026 reported as sold, and a sale the gateway never made."""
    with console.db.sessions() as s:
        ids = {BANK: get_vendor(s, BANK).id}
    utility = Utility(console.db, Clock(), ids)
    sold, _receipt = utility.vend(local(2026, 11, 18, 10, 0), 5000)
    ghost = "20261118110000" + "999"
    lines = [
        "client_id,terminal_id,msg_id,receipt_no,meter_number,amount,vended_at,status",
        line(sold, 5000, local(2026, 11, 18, 10, 0)),
        line(ghost, 2500, local(2026, 11, 18, 11, 0)),
    ]
    return f"{BANK}_20261118.csv", ("\n".join(lines) + "\n").encode()


def _upload(client, name: str, data: bytes, replace: bool = False):
    page = client.get("/reconciliation/")
    form = {"csrf_token": csrf_token(page), "file": (io.BytesIO(data), name)}
    if replace:
        form["replace"] = "yes"
    return client.post("/reconciliation/upload", data=form, content_type="multipart/form-data")


def test_upload_a_file_see_its_break_and_resolve_it(console: Console) -> None:
    name, data = _day_file(console)
    client = console.client("finance")
    done = _upload(client, name, data)
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    page = client.get("/reconciliation/").get_data(as_text=True)
    assert "Demo Bank" in page and name in page
    # The break's category in words, its code kept in the cell's title.
    assert '<td title="MISSING_AT_GATEWAY">Not at the gateway</td>' in page
    for language, words in (("fr", "Absente de la passerelle"), ("ar", "غير موجودة في البوابة")):
        console.add_user(f"finance-{language}", "finance", language=language)
        reader = console.app.test_client()
        assert console.login(reader, f"finance-{language}").status_code == 302
        shown = reader.get("/reconciliation/").get_data(as_text=True)
        assert f'<td title="MISSING_AT_GATEWAY">{words}</td>' in shown
    # The runs table shows the voucher redemptions the settlement due leaves out.
    assert "Voucher redemptions" in page and "Settlement due" in page
    with console.db.sessions() as s:
        run = s.scalar(select(ReconRun))
        found = s.scalar(select(ReconBreak))
    assert run is not None and run.actor == "console:finance-user" and run.line_count == 2
    assert found is not None and found.status == "open"
    assert f'id="resolve-{found.id}"' in page

    token = csrf_token(page)
    empty = client.post(f"/reconciliation/breaks/{found.id}/resolve", data={"csrf_token": token})
    assert empty.status_code == 400
    resolved = client.post(
        f"/reconciliation/breaks/{found.id}/resolve",
        data={"csrf_token": token, "note": "vendor's test sale, confirmed by phone"},
    )
    assert resolved.status_code == 302
    with console.db.sessions() as s:
        after = s.get(ReconBreak, found.id)
        assert after is not None and after.status == "resolved"
        assert after.resolved_by == "console:finance-user"
        assert after.resolution_note == "vendor's test sale, confirmed by phone"
    again = client.post(
        f"/reconciliation/breaks/{found.id}/resolve", data={"csrf_token": token, "note": "x"}
    )
    assert again.status_code == 409
    assert (
        client.post(
            "/reconciliation/breaks/999999/resolve", data={"csrf_token": token, "note": "x"}
        ).status_code
        == 404
    )

    # The same day again: refused unless replacing, and then replaced.
    assert _upload(client, name, data).status_code == 409
    assert _upload(client, name, data, replace=True).status_code == 302
    with console.db.sessions() as s:
        assert [r.status for r in s.scalars(select(ReconRun).order_by(ReconRun.id))] == [
            "replaced",
            "current",
        ]


def test_files_the_reconciliation_refuses_change_nothing(console: Console) -> None:
    name, data = _day_file(console)
    client = console.client("finance")
    badly_named = _upload(client, "november.csv", data)
    assert badly_named.status_code == 400
    assert "clientID" in badly_named.get_data(as_text=True)
    malformed = _upload(client, name, data.replace(b"50.00", b"fifty"))
    assert malformed.status_code == 400
    assert "bad lines" in malformed.get_data(as_text=True)
    future = _upload(client, f"{BANK}_21000101.csv", data)
    assert future.status_code == 400
    with console.db.sessions() as s:
        assert s.scalar(select(ReconRun.id)) is None


@pytest.mark.parametrize("role", [r for r in ROLES if r != "finance"])
def test_only_finance_may_use_the_reconciliation_page(console: Console, role: str) -> None:
    client = console.client(role)
    assert client.get("/reconciliation/").status_code == 403
    token = csrf_token(client.get("/"))
    refused = client.post(
        "/reconciliation/breaks/1/resolve", data={"csrf_token": token, "note": "x"}
    )
    assert refused.status_code == 403
    assert console.anonymous().get("/reconciliation/").status_code == 302
