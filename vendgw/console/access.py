"""Who may open which page: the one table, and the one decorator that enforces it.

A page's view is decorated with `@allowed("page")`; a request without a logged-in session is
sent to /login, a role not in the page's row gets 403. The README's roles table is this table
(tests/console/test_permissions.py checks every role on every page against it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, url_for

ROLES = ("admin", "finance", "supervisor", "operator", "auditor")

# page -> the roles that may use it.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "dashboard": frozenset(ROLES),
    "vendors": frozenset({"admin", "supervisor"}),
    "floats": frozenset({"finance"}),
    "meters": frozenset({"operator", "supervisor"}),
    "reconciliation": frozenset({"finance"}),
    "reports": frozenset({"finance", "auditor"}),
    "tariffs": frozenset({"admin", "finance"}),
    "audit": frozenset({"admin", "auditor"}),
    "vouchers": frozenset({"finance"}),
    "account": frozenset(ROLES),  # one's own second factor and language
}

# The navigation bar, in order: (page, endpoint). A page shows when its blueprint is registered
# and the user's role may use it.
NAVIGATION = [
    ("dashboard", "dashboard.index"),
    ("vendors", "vendors.index"),
    ("floats", "floats.index"),
    ("meters", "meters.index"),
    ("reconciliation", "reconciliation.index"),
    ("reports", "reports.index"),
    ("tariffs", "tariffs.index"),
    ("vouchers", "vouchers.index"),
    ("audit", "audit.index"),
]

F = TypeVar("F", bound=Callable[..., Any])


def may_use(role: str, page: str) -> bool:
    return role in PAGE_ROLES[page]


def allowed(page: str) -> Callable[[F], F]:
    """The view of `page`: only for a logged-in user whose role the table lets in."""
    if page not in PAGE_ROLES:
        raise KeyError(f"page {page!r} has no row in access.PAGE_ROLES")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not may_use(user.role, page):
                abort(403)
            return view(*args, **kwargs)

        guarded.console_page = page  # type: ignore[attr-defined]  # read by the tests
        return guarded  # type: ignore[return-value]

    return decorate
