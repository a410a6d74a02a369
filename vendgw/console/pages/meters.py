"""/meters: the call centre's page (operator, supervisor): find a meter by number, account or
customer name (`/meters?q=TEXT`), its vends with their tokens and receipts, reprint a receipt,
block and unblock the meter with a reason, and the customer's debt.

Everything is read and written through the vend domain (gateway.vend.customer_care). Looking at
a customer's meter is audited too: the call centre reads personal data.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway import errors
from gateway.vend import customer_care
from vendgw.console import web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm

blueprint = Blueprint("meters", __name__, url_prefix="/meters")


# The contract's address is /meters?q=TEXT: answered as it is, not redirected to /meters/
# (a redirect would cost the call centre a round trip per search); /meters/ answers too.
@blueprint.route("", strict_slashes=False)
@allowed("meters")
def index() -> Any:
    query = (request.args.get("q") or "").strip()[:100]
    hits: list[customer_care.MeterHit] = []
    if query:
        with web.unit_of_work() as db:
            hits = customer_care.search_meters(db, query)
            web.record(db, "console.meter_search", query[:200], hits=len(hits))
        if len(hits) == 1 and hits[0].meter_number == query:
            return redirect(url_for("meters.show", meter_number=query))
    return render_template(
        "meters/index.html", query=query, hits=hits, limit=customer_care.SEARCH_LIMIT
    )


def _card(meter_number: str, status: int = 200) -> Any:
    with web.unit_of_work() as db:
        try:
            card = customer_care.meter_card(db, meter_number)
        except errors.UnknownMeter:
            abort(404)
        vends = customer_care.meter_vends(db, meter_number)
        web.record(db, "console.meter_viewed", meter_number)
    page = render_template(
        "meters/show.html",
        card=card,
        vends=vends,
        form=ActionForm(),
        limit=customer_care.VENDS_LIMIT,
    )
    return page, status


@blueprint.route("/<meter_number>")
@allowed("meters")
def show(meter_number: str) -> Any:
    return _card(meter_number)


@blueprint.route("/<meter_number>/status", methods=["POST"])
@allowed("meters")
def set_status(meter_number: str) -> Any:
    status = request.form.get("status", "")
    reason = (request.form.get("reason") or "").strip()
    if status not in ("active", "blocked"):
        abort(400)
    if not reason:
        flash(_("Give a reason for blocking or unblocking the meter."), "error")
        return _card(meter_number, 400)
    with web.unit_of_work() as db:
        try:
            customer_care.set_meter_status(
                db, meter_number, status, reason=reason, actor=web.actor()
            )
        except errors.UnknownMeter:
            abort(404)
    flash(_("Meter blocked.") if status == "blocked" else _("Meter unblocked."), "ok")
    return redirect(url_for("meters.show", meter_number=meter_number))


@blueprint.route("/<meter_number>/receipts/<receipt_no>", methods=["POST"])
@allowed("meters")
def reprint(meter_number: str, receipt_no: str) -> Any:
    """The receipt as it was issued (the same tokens), to read or print for the customer."""
    with web.unit_of_work() as db:
        try:
            receipt = customer_care.stored_receipt(db, receipt_no)
        except customer_care.UnknownReceipt:
            abort(404)
        if receipt.meter.meter_number != meter_number:
            abort(404)
        web.record(db, "console.reprint", receipt_no, meter=meter_number)
    return render_template("meters/receipt.html", receipt=receipt)
