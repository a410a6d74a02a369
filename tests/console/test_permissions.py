"""Every role on every page: the roles table (access.PAGE_ROLES) holds, page by page.

Table-driven: PAGE_URLS names one URL per page; each is asked for by each of the five roles
(200 where the table lets the role in, 403 where it does not) and without a session (a redirect
to /login). A page in the table without a URL here fails, so a new page cannot go unchecked.
"""

from __future__ import annotations

import pytest

from tests.console.conftest import Console
from vendgw.console.access import PAGE_ROLES, ROLES

# page -> a URL of it (GET). Pages that exist only after another branch lands are added there.
PAGE_URLS = {
    "dashboard": "/",
    "vendors": "/vendors/",
    "meters": "/meters",
    "audit": "/audit/",
    "floats": "/floats/",
    "tariffs": "/tariffs/",
    "reconciliation": "/reconciliation/",
    "reports": "/reports/",
    "vouchers": "/vouchers",
    "account": "/account",
}


def _registered(console: Console) -> dict[str, str]:
    endpoints = {rule.endpoint.split(".")[0] for rule in console.app.url_map.iter_rules()}
    return {page: url for page, url in PAGE_URLS.items() if page in endpoints or page == "account"}


def test_every_registered_page_has_a_url_to_check(console: Console) -> None:
    blueprints = set(console.app.blueprints) - {"auth"}
    assert blueprints <= set(PAGE_URLS), blueprints - set(PAGE_URLS)
    assert blueprints <= set(PAGE_ROLES)


def test_every_role_on_every_page(console: Console) -> None:
    pages = _registered(console)
    assert len(pages) >= 2  # not vacuous
    clients = {role: console.client(role) for role in ROLES}
    seen = []
    for page, url in pages.items():
        for role in ROLES:
            status = clients[role].get(url).status_code
            expected = 200 if role in PAGE_ROLES[page] else 403
            seen.append((page, role, status))
            assert status == expected, f"{role} on {page} ({url}): {status}, wanted {expected}"
    assert any(s == 403 for _p, _r, s in seen) and any(s == 200 for _p, _r, s in seen)


@pytest.mark.parametrize("page", sorted(PAGE_URLS))
def test_without_a_session_every_page_redirects_to_login(console: Console, page: str) -> None:
    url = _registered(console).get(page)
    if url is None:
        raise AssertionError(f"{page} is not registered")
    response = console.anonymous().get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
