"""Console fixtures: the real Flask application on a real, migrated database (both backends),
one user per role, and test clients logged in as any of them through the real /login form.

    def test_x(console: Console) -> None:
        client = console.client("finance")          # logged in as the finance user
        page = client.get("/floats")
        token = csrf_token(page)                    # the form's CSRF token, for a POST
        client.post("/floats/deposit", data={"csrf_token": token, ...})
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.db import transaction
from tests.conftest import TestDatabase
from vendgw.console import catalogs, users
from vendgw.console.access import ROLES
from vendgw.console.app import create_app

PASSWORD = "correct horse battery"  # every fixture user's password
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(page: TestResponse | str) -> str:
    """The first CSRF token in a rendered page (every form of a page carries the same one)."""
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1) or found.group(2)


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """The build's step (`make catalogs`), so the tests see the translated pages."""
    catalogs.compile_all()


@dataclass
class Console:
    app: Flask
    db: TestDatabase
    usernames: dict[str, str] = field(default_factory=dict)  # role -> username

    def anonymous(self) -> FlaskClient:
        return self.app.test_client()

    def login(self, client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
        token = csrf_token(client.get("/login"))
        return client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )

    def client(self, role: str) -> FlaskClient:
        client = self.app.test_client()
        response = self.login(client, self.usernames[role])
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    def add_user(self, username: str, role: str, language: str = "en") -> None:
        with transaction(self.db.sessions) as session:
            users.add_user(session, username, role, PASSWORD, language=language, actor="test")


@pytest.fixture
def console(demo_db: TestDatabase) -> Iterator[Console]:
    """The console on the demo utility, with one user per role (named after the role)."""
    harness = Console(create_app(demo_db.runtime), demo_db)
    for role in ROLES:
        harness.add_user(f"{role}-user", role)
        harness.usernames[role] = f"{role}-user"
    yield harness
