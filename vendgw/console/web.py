"""What every page's view uses: the process's runtime, a unit of work, the acting user, the
audit trail, and the locale's formatting of money and time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, g, request
from flask_babel import format_date as _format_date
from flask_babel import format_datetime as _format_datetime
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core import audit
from core.db import transaction
from core.runtime import Runtime

RUNTIME_KEY = "vendgw.runtime"


def runtime() -> Runtime:
    found: Runtime = current_app.extensions[RUNTIME_KEY]
    return found


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One database transaction: commits at the end of the block, rolls back on an exception."""
    with transaction(runtime().sessions) as session:
        yield session


def actor() -> str:
    """Who the audit trail names: the console user, marked as such."""
    user = g.get("user")
    return f"console:{user.username}" if user is not None else "console:anonymous"


def record(session: Session, action: str, subject: str = "", **detail: Any) -> None:
    """An audit event for the current user's action, in the action's own transaction."""
    detail.setdefault("source", request.remote_addr or "")
    audit.record(session, actor(), action, subject, **detail)


def money(cents: int) -> str:
    """An amount in the utility's currency, written the way the user's locale writes it."""
    from babel.numbers import format_currency

    utility = runtime().settings.utility
    value = Decimal(cents).scaleb(-utility.currency_decimals)
    return format_currency(value, utility.currency, locale=str(get_locale()))


def number(value: int | Decimal) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=str(get_locale()))


def kwh(tenths: int) -> str:
    from babel.numbers import format_decimal

    return format_decimal(Decimal(tenths).scaleb(-1), format="#,##0.0", locale=str(get_locale()))


def when(at: datetime | None, form: str = "medium") -> str:
    """A moment in the utility's timezone, in the user's locale."""
    return "" if at is None else _format_datetime(at, form)


def day(on: date | None, form: str = "medium") -> str:
    return "" if on is None else _format_date(on, form)


# What finance reads for a reconciliation break's category (reconciliation.models.BreakCategory);
# pages keep the code itself in the cell's title, for a search or a ticket.
BREAK_CATEGORIES = {
    "AMOUNT_MISMATCH": _l("Amount differs"),
    "METER_MISMATCH": _l("Another meter"),
    "STATUS_MISMATCH": _l("Reversed on one side only"),
    "MISSING_AT_GATEWAY": _l("Not at the gateway"),
    "MISSING_IN_REPORT": _l("Not in the vendor's report"),
    "DUPLICATE_IN_REPORT": _l("Listed twice in the report"),
    "OUTSIDE_PERIOD": _l("Outside the period"),
}


def break_category(code: str) -> str:
    """A break category in the user's language (an unknown code as it is)."""
    label = BREAK_CATEGORIES.get(code)
    return code if label is None else str(label)


TEMPLATE_FILTERS = {
    "money": money,
    "number": number,
    "kwh": kwh,
    "when": when,
    "day": day,
    "break_category": break_category,
}


def gettext(message: str, **variables: Any) -> str:
    """flask_babel.gettext with a type: the message in the user's language."""
    from flask_babel import gettext as translate

    return str(translate(message, **variables))
