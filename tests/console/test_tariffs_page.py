"""/tariffs through the real application: versions in force and future-dated, a new version by
maker-checker (admin or finance; a different user approves), and who may see the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.localtime import local_day, utility_zone
from gateway.models import Tariff, TariffVersion
from tests.console.conftest import Console, csrf_token
from vendgw.console.access import ROLES
from vendgw.console.approval_models import ApprovalRequest
from vendgw.console.pages.tariffs import parse_steps


def _tomorrow(console: Console) -> str:
    zone = utility_zone(console.db.settings.utility.timezone)
    return (local_day(utcnow(), zone) + timedelta(days=1)).isoformat()


def _versions(console: Console, code: str) -> list[str]:
    with console.db.sessions() as s:
        return [
            v.isoformat()
            for v in s.scalars(
                select(TariffVersion.effective_from)
                .join(Tariff)
                .where(Tariff.code == code)
                .order_by(TariffVersion.effective_from)
            )
        ]


def _enter(client, day: str, steps: str = "100:1.3000\n*:2.2500", code: str = "DOMESTIC"):
    page = client.get("/tariffs/")
    return client.post(
        "/tariffs/versions",
        data={
            "csrf_token": csrf_token(page),
            "code": code,
            "description": "Domestic step tariff",
            "effective_from": day,
            "steps": steps,
            "fixed_charge": "0.00",
        },
    )


def test_steps_as_typed() -> None:
    assert parse_steps("50:1.2\n 350.5 : 1.55 \n\n*:2.1000") == [
        (500, 12000),
        (3505, 15500),
        (None, 21000),
    ]
    with pytest.raises(ValueError):
        parse_steps("fifty:1.2")


def test_a_new_version_is_written_only_when_another_user_approves_it(console: Console) -> None:
    day = _tomorrow(console)
    maker = console.client("finance")
    assert "in force" in maker.get("/tariffs/").get_data(as_text=True)
    assert _enter(maker, day).status_code == 302
    assert _versions(console, "DOMESTIC") == ["2000-01-01"]
    with console.db.sessions() as s:
        request_id = s.scalar(select(ApprovalRequest.id))
    page = maker.get("/tariffs/")
    own = maker.post(
        f"/tariffs/versions/{request_id}/approve", data={"csrf_token": csrf_token(page)}
    )
    assert own.status_code == 409 and _versions(console, "DOMESTIC") == ["2000-01-01"]

    checker = console.client("admin")
    page = checker.get("/tariffs/")
    assert f'id="approve-{request_id}"' in page.get_data(as_text=True)
    done = checker.post(
        f"/tariffs/versions/{request_id}/approve", data={"csrf_token": csrf_token(page)}
    )
    assert done.status_code == 302
    assert _versions(console, "DOMESTIC") == ["2000-01-01", day]
    html = checker.get("/tariffs/").get_data(as_text=True)
    assert "from a later date" in html and "2.2500" in html


@pytest.mark.parametrize(
    ("day", "steps", "status"),
    [
        ("2001-01-01", "*:2.0000", 400),  # in the past
        (None, "100:1.0000", 400),  # no unbounded last step
        (None, "*:0", 400),  # a price of zero
        (None, "lots", 400),
        (None, "*:1.0000", 409),  # the same tariff and day entered twice
    ],
)
def test_bad_versions_are_refused_with_nothing_entered(console, day, steps, status) -> None:
    client = console.client("admin")
    when = day or _tomorrow(console)
    if status == 409:
        assert _enter(client, when, steps).status_code == 302  # the first is entered
    assert _enter(client, when, steps).status_code == status
    with console.db.sessions() as s:
        pending = s.scalars(select(ApprovalRequest)).all()
    assert len(pending) == (1 if status == 409 else 0)
    assert _versions(console, "DOMESTIC") == ["2000-01-01"]


@pytest.mark.parametrize("role", ROLES)
def test_who_may_use_the_tariffs_page(console: Console, role: str) -> None:
    client = console.client(role)
    expected = 200 if role in ("admin", "finance") else 403
    assert client.get("/tariffs/").status_code == expected
    if expected == 403:
        token = csrf_token(client.get("/"))
        refused = client.post(
            "/tariffs/versions",
            data={"csrf_token": token, "code": "X", "effective_from": "2100-01-01", "steps": "*:1"},
        )
        assert refused.status_code == 403
    assert console.anonymous().get("/tariffs/").status_code == 302
