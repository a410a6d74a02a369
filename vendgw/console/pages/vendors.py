"""/vendors: vendors and their terminals (admin, supervisor): create, suspend and reactivate,
add a terminal, its allowed addresses, disable it, rotate its secret.

Every change goes through vendor_accounts' own functions (which audit it under the console
user's name). A new or rotated secret is shown once, in the answer to the POST that made it;
it is never stored in the session or a flash message, so it is nowhere to be read again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

import vendor_accounts
from core.money import AmountError, parse_cents
from vendgw.console import web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm
from vendgw.console.web import gettext as _
from vendor_accounts.models import PRIVILEGES, VENDOR_KINDS

blueprint = Blueprint("vendors", __name__, url_prefix="/vendors")


def refusal_text(error: Exception) -> str:
    """The user's-language sentence for a refusal of vendor_accounts."""
    if isinstance(error, vendor_accounts.InvalidClientId):
        return _("That is not a valid client ID (13 digits with an EAN-13 check digit).")
    if isinstance(error, vendor_accounts.DuplicateVendor):
        return _("A vendor with that client ID already exists.")
    if isinstance(error, vendor_accounts.DuplicateTerminal):
        return _("That vendor already has a terminal with that ID.")
    if isinstance(error, vendor_accounts.UnknownVendor | vendor_accounts.UnknownTerminal):
        return _("No such vendor or terminal.")
    if isinstance(error, vendor_accounts.InvalidInput):
        if error.field == "allowed_cidrs":
            return _("%(value)s is not an IP address or network.", value=error.value)
        return _("The value given for %(field)s is not valid.", field=error.field)
    if isinstance(error, AmountError):
        return _("%(value)s is not an amount.", value=error.text)
    return _("The change was refused.")


def _cents(name: str, *, allow_negative: bool = False) -> int:
    raw = (request.form.get(name) or "0").strip() or "0"
    return parse_cents(raw, allow_negative=allow_negative)


@blueprint.route("/")
@allowed("vendors")
def index() -> Any:
    with web.unit_of_work() as db:
        vendors = vendor_accounts.list_vendors(db)
    return render_template(
        "vendors/index.html", vendors=vendors, kinds=VENDOR_KINDS, form=ActionForm()
    )


@blueprint.route("/", methods=["POST"])
@allowed("vendors")
def create() -> Any:
    form = request.form
    try:
        # A percentage with at most two decimals is a whole number of basis points.
        commission_bp = _cents("commission_percent")
        with web.unit_of_work() as db:
            vendor_accounts.add_vendor(
                db,
                client_id=(form.get("client_id") or "").strip(),
                name=(form.get("name") or "").strip(),
                kind=form.get("kind") or "",
                actor=web.actor(),
                floor_cents=-abs(_cents("credit_line")),
                low_float_threshold_cents=_cents("low_float"),
                commission=vendor_accounts.CommissionRate(basis_points=commission_bp),
            )
    except (vendor_accounts.VendorAccountsError, AmountError, ValueError) as error:
        flash(refusal_text(error), "error")
        with web.unit_of_work() as db:
            vendors = vendor_accounts.list_vendors(db)
        page = render_template(
            "vendors/index.html", vendors=vendors, kinds=VENDOR_KINDS, form=ActionForm()
        )
        return page, 400
    flash(_("Vendor %(client_id)s added.", client_id=form.get("client_id")), "ok")
    return redirect(url_for("vendors.show", client_id=form.get("client_id")))


def _detail(client_id: str, **extra: Any) -> str:
    with web.unit_of_work() as db:
        try:
            vendor = vendor_accounts.get_vendor(db, client_id)
            terminals = vendor_accounts.list_terminals(db, client_id)
            balance = vendor_accounts.balance(db, vendor.id)
        except vendor_accounts.UnknownVendor:
            abort(404)
        db.expunge(vendor)
    return render_template(
        "vendors/show.html",
        vendor=vendor,
        terminals=terminals,
        balance=balance,
        privileges=PRIVILEGES,
        form=ActionForm(),
        **extra,
    )


@blueprint.route("/<client_id>")
@allowed("vendors")
def show(client_id: str) -> Any:
    return _detail(client_id)


@blueprint.route("/<client_id>/status", methods=["POST"])
@allowed("vendors")
def set_status(client_id: str) -> Any:
    status = request.form.get("status", "")
    if status not in ("active", "suspended"):
        abort(400)
    reason = (request.form.get("reason") or "").strip()
    try:
        with web.unit_of_work() as db:
            vendor_accounts.set_vendor_status(
                db, client_id, status, actor=web.actor(), reason=reason
            )
    except vendor_accounts.VendorAccountsError as error:
        flash(refusal_text(error), "error")
        return _detail(client_id), 400
    flash(
        _("Vendor suspended.") if status == "suspended" else _("Vendor reactivated."),
        "ok",
    )
    return redirect(url_for("vendors.show", client_id=client_id))


@blueprint.route("/<client_id>/terminals", methods=["POST"])
@allowed("vendors")
def add_terminal(client_id: str) -> Any:
    code = (request.form.get("terminal_code") or "").strip()
    privileges = [p for p in PRIVILEGES if request.form.get(f"can_{p}")]
    cidrs = [request.form.get("allowed_cidrs") or ""]
    try:
        with web.unit_of_work() as db:
            _terminal, secret = vendor_accounts.add_terminal(
                db,
                client_id=client_id,
                terminal_code=code,
                actor=web.actor(),
                allowed_cidrs=cidrs,
                privileges=privileges or ["vend"],
                verifier_key=web.runtime().verifier_key,
            )
    except vendor_accounts.VendorAccountsError as error:
        flash(refusal_text(error), "error")
        return _detail(client_id), 400
    return _detail(client_id, new_secret=secret, secret_for=code)


@blueprint.route("/<client_id>/terminals/<terminal_code>/rotate", methods=["POST"])
@allowed("vendors")
def rotate(client_id: str, terminal_code: str) -> Any:
    try:
        with web.unit_of_work() as db:
            secret = vendor_accounts.rotate_secret(
                db,
                client_id=client_id,
                terminal_code=terminal_code,
                actor=web.actor(),
                verifier_key=web.runtime().verifier_key,
            )
    except vendor_accounts.VendorAccountsError as error:
        flash(refusal_text(error), "error")
        return _detail(client_id), 400
    return _detail(client_id, new_secret=secret, secret_for=terminal_code)


@blueprint.route("/<client_id>/terminals/<terminal_code>/status", methods=["POST"])
@allowed("vendors")
def terminal_status(client_id: str, terminal_code: str) -> Any:
    status = request.form.get("status", "")
    if status not in ("active", "disabled"):
        abort(400)
    try:
        with web.unit_of_work() as db:
            vendor_accounts.set_terminal_status(
                db,
                client_id=client_id,
                terminal_code=terminal_code,
                status=status,
                actor=web.actor(),
            )
    except vendor_accounts.VendorAccountsError as error:
        flash(refusal_text(error), "error")
        return _detail(client_id), 400
    flash(_("Terminal %(code)s updated.", code=terminal_code), "ok")
    return redirect(url_for("vendors.show", client_id=client_id))


@blueprint.route("/<client_id>/terminals/<terminal_code>/allowlist", methods=["POST"])
@allowed("vendors")
def allowlist(client_id: str, terminal_code: str) -> Any:
    try:
        with web.unit_of_work() as db:
            vendor_accounts.set_allowed_addresses(
                db,
                client_id=client_id,
                terminal_code=terminal_code,
                allowed_cidrs=[request.form.get("allowed_cidrs") or ""],
                actor=web.actor(),
            )
    except vendor_accounts.VendorAccountsError as error:
        flash(refusal_text(error), "error")
        return _detail(client_id), 400
    flash(_("Allowed addresses of %(code)s saved.", code=terminal_code), "ok")
    return redirect(url_for("vendors.show", client_id=client_id))
