"""/tariffs [admin, finance]: every tariff's versions (the one in force today and those dated
later), and a new version by maker-checker: one user enters it, a different user approves it,
and only then is it written (vendgw.console.approvals). A version, once written, is never
edited: receipts were priced with it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import utcnow
from core.localtime import local_day, utility_zone
from core.money import AmountError, parse_cents
from gateway.models import Tariff, TariffVersion
from gateway.tariffs import version_in_force
from vendgw.console import approvals, decisions, web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm
from vendgw.console.web import gettext as _

blueprint = Blueprint("tariffs", __name__, url_prefix="/tariffs")

# "50:1.2000" (up to 50 kWh a month at 1.2000 per kWh, VAT excluded) or "*:2.1000" (the rest).
_STEP = re.compile(
    r"(?:(?P<upto>[0-9]{1,6}(?:\.[0-9])?)|\*)\s*:\s*(?P<price>[0-9]{1,4}(?:\.[0-9]{1,4})?)"
)


@dataclass(frozen=True)
class VersionView:
    effective_from: date
    fixed_charge_cents: int
    steps: tuple[tuple[int, int | None, int], ...]  # (from tenths, up to tenths, price e4)
    state: str  # "past", "in force", "future"


@dataclass(frozen=True)
class TariffView:
    code: str
    description: str
    versions: tuple[VersionView, ...]


def _today() -> date:
    return local_day(utcnow(), utility_zone(web.runtime().settings.utility.timezone))


def parse_steps(text: str) -> list[tuple[int | None, int]]:
    """One step a line, 'UPTO_KWH:PRICE' and last '*:PRICE', into (upto_tenths, price_e4)."""
    steps: list[tuple[int | None, int]] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        match = _STEP.fullmatch(raw.strip())
        if match is None:
            raise ValueError(raw.strip())
        whole, _dot, frac = match["price"].partition(".")
        price = int(whole) * 10000 + int(frac.ljust(4, "0"))
        upto = match["upto"]
        if upto is None:
            steps.append((None, price))
        else:
            kwh, _dot, tenth = upto.partition(".")
            steps.append((int(kwh) * 10 + int(tenth or "0"), price))
    return steps


def _tariffs(today: date) -> list[TariffView]:
    with web.unit_of_work() as db:
        found = []
        for tariff in db.scalars(
            select(Tariff)
            .options(selectinload(Tariff.versions).selectinload(TariffVersion.steps))
            .order_by(Tariff.code)
        ):
            current = version_in_force(db, tariff.id, today)
            views = []
            for v in tariff.versions:
                state = (
                    "in force"
                    if current is not None and v.id == current.id
                    else ("future" if v.effective_from > today else "past")
                )
                lower = 0
                steps = []
                for s in v.steps:
                    steps.append((lower, s.upto_tenths, s.price_e4))
                    lower = s.upto_tenths or lower
                views.append(
                    VersionView(v.effective_from, v.monthly_fixed_charge_cents, tuple(steps), state)
                )
            found.append(TariffView(tariff.code, tariff.description, tuple(reversed(views))))
    return found


def _page(status: int = 200) -> Any:
    today = _today()
    tariffs = _tariffs(today)
    with web.unit_of_work() as db:
        pending = approvals.list_requests(db, kind="tariff_version", status="pending")
        decided = [
            r
            for r in approvals.list_requests(db, kind="tariff_version", limit=20)
            if r.status != "pending"
        ]
    return (
        render_template(
            "pages/tariffs.html",
            tariffs=tariffs,
            pending=pending,
            decided=decided,
            today=today,
            me=web.actor(),
            form=ActionForm(),
            entered=request.form if request.method == "POST" else {},
        ),
        status,
    )


def _words(exc: Exception) -> str | None:
    """The version's own words for a refusal; a past first day is the one a user gets wrong."""
    if isinstance(exc, approvals.OwnRequest):
        return _("You entered this version: a different user must approve it.")
    if isinstance(exc, approvals.DuplicateRequest):
        return _("This tariff already has a version from that day, or one is waiting.")
    if isinstance(exc, approvals.InvalidRequest) and exc.field == "effective_from":
        return _("A new version starts today or later.")
    if isinstance(exc, approvals.InvalidRequest):
        return _("The version was refused: %(reason)s", reason=exc.message)
    return None


_versions = decisions.Decider(
    kinds=("tariff_version",), words=_words, page=_page, back=lambda: url_for("tariffs.index")
)


@blueprint.route("/")
@allowed("tariffs")
def index() -> Any:
    return _page()


@blueprint.route("/versions", methods=["POST"])
@allowed("tariffs")
def enter_version() -> Any:
    form = request.form
    try:
        steps = parse_steps(form.get("steps", ""))
    except ValueError as exc:
        flash(
            _("A step is written UPTO_KWH:PRICE, the last *:PRICE (not %(line)s).", line=str(exc)),
            "error",
        )
        return _page(400)
    try:
        fixed = parse_cents(form.get("fixed_charge", "") or "0")
    except AmountError:
        flash(_("Give the fixed charge as a number with at most two decimals."), "error")
        return _page(400)
    try:
        with web.unit_of_work() as db:
            made = approvals.request_tariff_version(
                db,
                code=form.get("code", ""),
                description=form.get("description", ""),
                effective_from=form.get("effective_from", ""),
                steps=steps,
                monthly_fixed_charge_cents=fixed,
                maker=web.actor(),
                timezone=web.runtime().settings.utility.timezone,
            )
    except approvals.ApprovalError as exc:
        flash(_versions.refusal(exc), "error")
        return _page(409 if isinstance(exc, approvals.DuplicateRequest) else 400)
    flash(
        _(
            "Version of %(code)s from %(day)s entered; written when another user approves it.",
            code=made.payload["code"],
            day=made.payload["effective_from"],
        ),
        "ok",
    )
    return redirect(url_for("tariffs.index"))


@blueprint.route("/versions/<int:request_id>/approve", methods=["POST"])
@allowed("tariffs")
def approve(request_id: int) -> Any:
    return _versions.approve(
        request_id,
        lambda done: _(
            "Version of %(code)s from %(day)s approved.",
            code=done.payload["code"],
            day=done.payload["effective_from"],
        ),
    )


@blueprint.route("/versions/<int:request_id>/reject", methods=["POST"])
@allowed("tariffs")
def reject(request_id: int) -> Any:
    return _versions.reject(request_id, lambda _done: _("Version rejected; nothing was written."))
