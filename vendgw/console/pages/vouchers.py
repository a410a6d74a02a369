"""/vouchers [finance]: scratch-card batches and their vouchers by state, a batch's detail, and
activation (a whole batch or a serial range) and void (a serial range with its reason) by
maker-checker: one user enters it, a different user approves it, and only then does the vouchers
domain sell or stop the stock (vendgw.console.approvals). The menu shows the page only once a
batch exists (`shown`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core.db import utcnow
from core.localtime import local_day, utility_zone
from gateway.vouchers import batches
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.models import VoucherBatch
from gateway.vouchers.pins import format_serial, parse_serial
from vendgw.console import approvals, decisions, web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm
from vendgw.console.web import gettext as _

blueprint = Blueprint("vouchers", __name__, url_prefix="/vouchers")

STATES = ("created", "active", "redeemed", "voided", "expired")
VOUCHER_KINDS = ("voucher_activate", "voucher_void")


@dataclass(frozen=True)
class BatchView:
    """A batch as finance reads it: its vouchers and their face value per state. A voucher of
    an expired batch that was neither redeemed nor voided counts as expired."""

    state: batches.BatchState
    first: str
    last: str
    expired: bool
    counts: dict[str, int]
    values: dict[str, int]


def _today() -> date:
    return local_day(utcnow(), utility_zone(web.runtime().settings.utility.timezone))


def _view(state: batches.BatchState, today: date) -> BatchView:
    expired = state.expires_on is not None and today > state.expires_on
    counts = {s: state.by_status.get(s, 0) for s in STATES if s != "expired"}
    counts["expired"] = 0
    if expired:  # unsold or unredeemed stock past its last day no longer redeems
        counts["expired"] = counts["created"] + counts["active"]
        counts["created"] = counts["active"] = 0
    values = {s: n * state.denomination_cents for s, n in counts.items()}
    return BatchView(
        state,
        format_serial(state.first_serial),
        format_serial(state.last_serial),
        expired,
        counts,
        values,
    )


def shown() -> bool:
    """The menu's condition: the page is listed once a voucher batch exists."""
    if "vouchers_exist" not in g:
        with web.unit_of_work() as db:
            # one indexed row at most: the domain has no "any batch?" question of its own
            g.vouchers_exist = db.scalar(select(VoucherBatch.id).limit(1)) is not None
    return bool(g.vouchers_exist)


blueprint.nav_shown = shown  # type: ignore[attr-defined]  # read by app._navigation


def _requests(
    batch: BatchView | None = None,
) -> tuple[list[approvals.Request], list[approvals.Request]]:
    pending: list[approvals.Request] = []
    decided: list[approvals.Request] = []
    with web.unit_of_work() as db:
        for kind in VOUCHER_KINDS:
            for r in approvals.list_requests(db, kind=kind, limit=50):
                if batch is not None and not (
                    r.payload["first_serial"] <= batch.state.last_serial
                    and r.payload["last_serial"] >= batch.state.first_serial
                ):
                    continue
                (pending if r.status == "pending" else decided).append(r)
    pending.sort(key=lambda r: r.id)
    decided.sort(key=lambda r: r.decided_at or r.created_at, reverse=True)
    return pending, decided[:20]


def _common() -> dict[str, Any]:
    return {
        "me": web.actor(),
        "form": ActionForm(),
        "entered": request.form if request.method == "POST" else {},
        "serial": format_serial,
    }


def _index(status: int = 200) -> Any:
    today = _today()
    with web.unit_of_work() as db:
        views = [_view(s, today) for s in batches.batch_states(db)]
    totals = {
        "counts": {s: sum(v.counts[s] for v in views) for s in STATES},
        "values": {s: sum(v.values[s] for v in views) for s in STATES},
    }
    pending, decided = _requests()
    page = render_template(
        "pages/vouchers.html",
        batches=views,
        totals=totals,
        states=STATES,
        pending=pending,
        decided=decided,
        **_common(),
    )
    return page, status


def _batch_page(batch_id: int, status: int = 200) -> Any:
    today = _today()
    with web.unit_of_work() as db:
        found = batches.batch_states(db, batch_id)
    if not found:
        abort(404)
    view = _view(found[0], today)
    pending, decided = _requests(view)
    page = render_template(
        "pages/voucher_batch.html",
        batch=view,
        states=STATES,
        pending=pending,
        decided=decided,
        **_common(),
    )
    return page, status


@blueprint.route("", strict_slashes=False)
@allowed("vouchers")
def index() -> Any:
    return _index()


@blueprint.route("/batches/<int:batch_id>")
@allowed("vouchers")
def batch(batch_id: int) -> Any:
    return _batch_page(batch_id)


@blueprint.route("/voucher")
@allowed("vouchers")
def voucher() -> Any:
    """One voucher by its printed serial: what finance needs to answer a customer whose card
    "did not work" (state, expiry, when and through which channel it was redeemed, the
    receipt). Never its PIN: the gateway does not know it."""
    raw = (request.args.get("serial") or "").strip()
    try:
        serial = parse_serial(raw)
    except ValueError:
        flash(_("Give the voucher's 12-digit serial number."), "error")
        return _index(400)
    try:
        with web.unit_of_work() as db:
            found = batches.voucher_state(db, serial, _today())
    except VoucherError:
        flash(_("No voucher has the serial %(serial)s.", serial=format_serial(serial)), "error")
        return _index(404)
    page = render_template("pages/voucher.html", v=found, **_common())
    return page, 200


def _words(exc: Exception) -> str | None:
    """The vouchers' own words for a refusal: the domain's refusals by their stable code."""
    if isinstance(exc, approvals.OwnRequest):
        return _("You entered this request: a different user must approve it.")
    if isinstance(exc, approvals.DuplicateRequest):
        return _("The same range is already waiting for approval.")
    if isinstance(exc, approvals.DomainRefusal):
        messages = {
            "nothing-to-activate": _("No voucher of the range is waiting to be activated."),
            "nothing-to-void": _("No voucher of the range can be voided any more."),
            "no-vouchers": _("No voucher has a serial in that range."),
            "several-vendors": _("The range spans the stock of several vendors."),
            "expired": _("The batch has expired."),
            "insufficient-float": _("The vendor's float cannot pay for the stock."),
            "conflict": _("Vouchers of the range changed meanwhile; nothing was done."),
        }
        return messages.get(
            exc.domain_code, _("The vouchers domain refused: %(reason)s", reason=exc.message)
        )
    if isinstance(exc, approvals.InvalidRequest) and exc.field == "reason":
        return _("Give the reason for the void.")
    if isinstance(exc, approvals.InvalidRequest) and exc.field == "serials":
        return _("Give the first and the last serial, the first not after the last.")
    return None


def _serials() -> tuple[int, int] | None:
    first = (request.form.get("first_serial") or "").strip()
    last = (request.form.get("last_serial") or "").strip() or first
    try:
        return parse_serial(first), parse_serial(last)
    except ValueError:
        return None


def _back(batch_id: int | None, status: int) -> Any:
    return _batch_page(batch_id, status) if batch_id is not None else _index(status)


def _batch_id() -> int | None:
    raw = request.form.get("batch_id", "")
    return int(raw) if raw.isdigit() else None


def _return_to(batch_id: int | None) -> str:
    if batch_id is None:
        return url_for("vouchers.index")
    return url_for("vouchers.batch", batch_id=batch_id)


# A decision taken on a batch's page (its form names the batch) goes back to that page.
_stock_requests = decisions.Decider(
    kinds=VOUCHER_KINDS,
    words=_words,
    page=lambda status: _back(_batch_id(), status),
    back=lambda: _return_to(_batch_id()),
)


@blueprint.route("/activations", methods=["POST"])
@allowed("vouchers")
def enter_activation() -> Any:
    batch_id = _batch_id()
    whole = request.form.get("scope") != "range"
    serials = None if whole else _serials()
    if whole and batch_id is None:
        abort(400)
    if not whole and serials is None:
        flash(_("Give the first and the last serial, the first not after the last."), "error")
        return _back(batch_id, 400)
    try:
        with web.unit_of_work() as db:
            made = approvals.request_voucher_activation(
                db,
                maker=web.actor(),
                batch_id=batch_id if whole else None,
                first_serial=serials[0] if serials else None,
                last_serial=serials[1] if serials else None,
                timezone=web.runtime().settings.utility.timezone,
            )
    except approvals.UnknownRequest:
        abort(404)
    except approvals.ApprovalError as exc:
        flash(_stock_requests.refusal(exc), "error")
        return _back(batch_id, 409 if isinstance(exc, approvals.DuplicateRequest) else 400)
    flash(
        _(
            "Activation of %(serials)s entered; the stock is sold when another user approves it.",
            serials=made.subject,
        ),
        "ok",
    )
    return redirect(_return_to(batch_id))


@blueprint.route("/voids", methods=["POST"])
@allowed("vouchers")
def enter_void() -> Any:
    batch_id = _batch_id()
    serials = _serials()
    if serials is None:
        flash(_("Give the first and the last serial, the first not after the last."), "error")
        return _back(batch_id, 400)
    try:
        with web.unit_of_work() as db:
            made = approvals.request_voucher_void(
                db,
                maker=web.actor(),
                first_serial=serials[0],
                last_serial=serials[1],
                reason=request.form.get("reason", ""),
            )
    except approvals.ApprovalError as exc:
        flash(_stock_requests.refusal(exc), "error")
        return _back(batch_id, 409 if isinstance(exc, approvals.DuplicateRequest) else 400)
    flash(
        _(
            "Void of %(serials)s entered; the vouchers stop when another user approves it.",
            serials=made.subject,
        ),
        "ok",
    )
    return redirect(_return_to(batch_id))


def _approved(done: approvals.Request) -> str:
    if done.kind == "voucher_activate":
        return _("Activation of %(serials)s approved.", serials=done.subject)
    return _("Void of %(serials)s approved.", serials=done.subject)


@blueprint.route("/requests/<int:request_id>/approve", methods=["POST"])
@allowed("vouchers")
def approve(request_id: int) -> Any:
    return _stock_requests.approve(request_id, _approved)


@blueprint.route("/requests/<int:request_id>/reject", methods=["POST"])
@allowed("vouchers")
def reject(request_id: int) -> Any:
    return _stock_requests.reject(
        request_id, lambda _done: _("Request rejected; nothing was done.")
    )
