"""/audit: the audit trail (admin, auditor), filterable by user, action and date, newest first,
a hundred events a page."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Blueprint, render_template, request, url_for

from core import audit
from core.localtime import day_bounds_utc, utility_zone
from vendgw.console import web
from vendgw.console.access import allowed

blueprint = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 100


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _detail(raw: str) -> str:
    try:
        values = json.loads(raw or "{}")
    except ValueError:
        return raw
    if not isinstance(values, dict):
        return raw
    return ", ".join(f"{key}={value}" for key, value in sorted(values.items()))


@blueprint.route("/")
@allowed("audit")
def index() -> Any:
    zone = utility_zone(web.runtime().settings.utility.timezone)
    user = request.args.get("user", "").strip()[:100]
    action = request.args.get("action", "").strip()[:60]
    first, last = _day("from"), _day("to")
    start = day_bounds_utc(first, first, zone)[0] if first else None
    end = day_bounds_utc(last, last, zone)[1] if last else None
    before = request.args.get("before", "")
    with web.unit_of_work() as db:
        events = audit.search(
            db,
            actor=user,
            action=action,
            start=start,
            end=end,
            before_id=int(before) if before.isdigit() else None,
            limit=PAGE_SIZE,
        )
        known_actions = audit.actions(db)
        rows = [(e.id, e.at, e.actor, e.action, e.subject, _detail(e.detail)) for e in events]
    return render_template(
        "audit/index.html",
        rows=rows,
        user=user,
        action=action,
        first=first,
        last=last,
        actions=known_actions,
        older_url=_older(rows[-1][0]) if len(rows) == PAGE_SIZE else None,
    )


def _older(last_id: int) -> str:
    """The same filter, one page further back."""
    arguments: dict[str, Any] = {k: v for k, v in request.args.items() if k != "before" and v}
    arguments["before"] = last_id
    return url_for("audit.index", **arguments)
