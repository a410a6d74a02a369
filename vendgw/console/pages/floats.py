"""/floats [finance]: every vendor's float, a float's statement (on screen and as CSV), alert
levels, and deposits by maker-checker: one user enters a deposit with its bank reference, a
different user approves it, and only then does it post to the ledger (vendgw.console.approvals).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from core.db import utcnow
from core.localtime import local_day, utility_zone
from core.money import AmountError, format_cents, parse_cents
from vendgw.console import approvals, decisions, web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm
from vendgw.console.web import gettext as _
from vendor_accounts import (
    DepositConflict,
    UnknownVendor,
    VendorAccountsError,
    get_vendor,
    list_vendors,
    statement,
)
from vendor_accounts.alerts import alert_level, set_alert_level

blueprint = Blueprint("floats", __name__, url_prefix="/floats")


def _words(exc: Exception) -> str | None:
    """The deposit's own words for a refusal (the domain's message names fields in English)."""
    if isinstance(exc, approvals.OwnRequest):
        return _("You entered this deposit: a different user must approve it.")
    if isinstance(exc, approvals.DuplicateRequest):
        return _("That bank reference is already entered or posted for this vendor.")
    if isinstance(exc, DepositConflict):
        return _("That bank reference was posted meanwhile with another amount.")
    if isinstance(exc, approvals.InvalidRequest):
        return _("The deposit was refused: %(reason)s", reason=exc.message)
    return None


def _page(status: int = 200) -> Any:
    with web.unit_of_work() as db:
        vendors = list_vendors(db)
        levels = {v.vendor_id: alert_level(db, v.vendor_id) for v in vendors}
        pending = approvals.list_requests(db, kind="deposit", status="pending")
        decided = [
            r
            for r in approvals.list_requests(db, kind="deposit", limit=20)
            if r.status != "pending"
        ]
    totals = {
        "balance": sum(v.balance_cents for v in vendors),
        "available": sum(v.balance_cents - v.floor_cents for v in vendors),
    }
    return (
        render_template(
            "pages/floats.html",
            vendors=vendors,
            levels=levels,
            totals=totals,
            pending=pending,
            decided=decided,
            me=web.actor(),
            form=ActionForm(),
        ),
        status,
    )


# The deposit posts in the approval's transaction (vendor_accounts.deposit), which may refuse
# with the vendor accounts' own errors; an unknown request answers with the page and its words.
_deposits = decisions.Decider(
    kinds=("deposit",),
    words=_words,
    page=_page,
    back=lambda: url_for("floats.index"),
    refused=(VendorAccountsError,),
    unknown_on_page=True,
)


@blueprint.route("/")
@allowed("floats")
def index() -> Any:
    return _page()


@blueprint.route("/deposits", methods=["POST"])
@allowed("floats")
def enter_deposit() -> Any:
    client_id = request.form.get("client_id", "").strip()
    reference = request.form.get("bank_reference", "").strip()
    try:
        cents = parse_cents(request.form.get("amount", ""), allow_zero=False)
    except AmountError:
        flash(_("Give the amount as a number with at most two decimals, e.g. 1000.00."), "error")
        return _page(400)
    try:
        with web.unit_of_work() as db:
            made = approvals.request_deposit(
                db,
                client_id=client_id,
                amount_cents=cents,
                bank_reference=reference,
                maker=web.actor(),
            )
    except approvals.ApprovalError as exc:
        flash(_deposits.refusal(exc), "error")
        return _page(409 if isinstance(exc, approvals.DuplicateRequest) else 400)
    flash(
        _(
            "Deposit %(reference)s entered; it posts when another user approves it.",
            reference=made.payload["bank_reference"],
        ),
        "ok",
    )
    return redirect(url_for("floats.index"))


@blueprint.route("/deposits/<int:request_id>/approve", methods=["POST"])
@allowed("floats")
def approve(request_id: int) -> Any:
    return _deposits.approve(
        request_id,
        lambda done: _(
            "Deposit %(reference)s approved and posted.",
            reference=done.payload["bank_reference"],
        ),
    )


@blueprint.route("/deposits/<int:request_id>/reject", methods=["POST"])
@allowed("floats")
def reject(request_id: int) -> Any:
    return _deposits.reject(request_id, lambda _done: _("Deposit rejected; nothing was posted."))


def _period() -> tuple[date, date]:
    today = local_day(utcnow(), utility_zone(web.runtime().settings.utility.timezone))
    try:
        first = date.fromisoformat(request.args.get("from") or today.replace(day=1).isoformat())
        last = date.fromisoformat(request.args.get("to") or today.isoformat())
    except ValueError:
        abort(400)
    if last < first or (last - first) > timedelta(days=400):
        abort(400)
    return first, last


@blueprint.route("/<client_id>/statement")
@allowed("floats")
def vendor_statement(client_id: str) -> Any:
    first, last = _period()
    timezone = web.runtime().settings.utility.timezone
    try:
        with web.unit_of_work() as db:
            vendor = get_vendor(db, client_id)
            found = statement(db, vendor.id, first, last, timezone=timezone)
            level = alert_level(db, vendor.id)
    except UnknownVendor:
        abort(404)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["Date and time", "Entry", "Kind", "Reference", "Amount", "Commission", "Balance"]
        )
        writer.writerow(
            ["", "", "opening balance", "", "", "", format_cents(found.opening_balance_cents)]
        )
        for line in found.lines:
            writer.writerow(
                [
                    line.at.isoformat(sep=" ", timespec="seconds"),
                    line.journal_entry_id,
                    line.kind,
                    line.reference,
                    format_cents(line.amount_cents),
                    format_cents(line.commission_cents),
                    format_cents(line.balance_cents),
                ]
            )
        writer.writerow(
            ["", "", "closing balance", "", "", "", format_cents(found.closing_balance_cents)]
        )
        name = f"float_{client_id}_{first:%Y%m%d}_{last:%Y%m%d}.csv"
        return Response(
            out.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return render_template(
        "pages/float_statement.html",
        statement=found,
        first=first,
        last=last,
        level=level,
        form=ActionForm(),
    )


@blueprint.route("/<client_id>/alert-level", methods=["POST"])
@allowed("floats")
def change_alert_level(client_id: str) -> Any:
    text = request.form.get("level", "").strip()
    notify = request.form.get("notify", "").split()
    try:
        cents = parse_cents(text) if text else 0
    except AmountError:
        flash(_("Give the alert level as a number with at most two decimals."), "error")
        return redirect(url_for("floats.vendor_statement", client_id=client_id))
    try:
        with web.unit_of_work() as db:
            set_alert_level(
                db, client_id=client_id, level_cents=cents or None, actor=web.actor(), notify=notify
            )
    except UnknownVendor:
        abort(404)
    except VendorAccountsError as exc:
        flash(_("Refused: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("floats.vendor_statement", client_id=client_id))
    flash(_("Alert level saved."), "ok")
    return redirect(url_for("floats.vendor_statement", client_id=client_id))
