"""/reconciliation [finance]: the runs, the open breaks by vendor and by age, resolving a break
with a note, and uploading a vendor's report file to reconcile it, all through reconciliation's
own functions (reconcile, open_breaks, resolve, recent_runs)."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from core.db import utcnow
from reconciliation import (
    AlreadyReconciled,
    BreakNotOpen,
    MalformedReport,
    PeriodNotOver,
    ReconciliationError,
    ReportNameError,
    UnknownBreak,
    calendar_of,
    identify,
    open_breaks,
    reconcile,
    resolve,
)
from reconciliation.breaks import AGE_BUCKETS, OpenBreak
from reconciliation.runs import recent_runs
from vendgw.console import web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm
from vendor_accounts import list_vendors

blueprint = Blueprint("reconciliation", __name__, url_prefix="/reconciliation")


@dataclass
class VendorBreaks:
    """One vendor's open breaks counted by age bucket (AGE_BUCKETS order)."""

    client_id: str
    name: str
    counts: list[int] = field(default_factory=lambda: [0] * len(AGE_BUCKETS))
    effect_cents: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts)


def by_vendor_and_age(breaks: list[OpenBreak], names: dict[str, str]) -> list[VendorBreaks]:
    grouped: dict[str, VendorBreaks] = {}
    for b in breaks:
        row = grouped.setdefault(b.client_id, VendorBreaks(b.client_id, names.get(b.client_id, "")))
        row.counts[AGE_BUCKETS.index(b.bucket)] += 1
        row.effect_cents += b.effect_cents
    return sorted(grouped.values(), key=lambda r: (-r.total, r.client_id))


def _page(status: int = 200) -> Any:
    runtime = web.runtime()
    calendar = calendar_of(runtime)
    today = calendar.business_day(utcnow())
    chosen = request.args.get("vendor") or None
    with web.unit_of_work() as db:
        names = {v.client_id: v.name for v in list_vendors(db)}
        every = open_breaks(db, today)
        runs = recent_runs(db, limit=30)
    summary = by_vendor_and_age(every, names)
    shown = [b for b in every if chosen is None or b.client_id == chosen]
    buckets: dict[str, int] = defaultdict(int)
    for b in every:
        buckets[b.bucket] += 1
    return (
        render_template(
            "pages/reconciliation.html",
            summary=summary,
            buckets=[(bucket, buckets[bucket]) for bucket in AGE_BUCKETS],
            age_buckets=AGE_BUCKETS,
            breaks=shown[:500],
            more=max(0, len(shown) - 500),
            chosen=chosen,
            names=names,
            runs=runs,
            today=today,
            form=ActionForm(),
        ),
        status,
    )


@blueprint.route("/")
@allowed("reconciliation")
def index() -> Any:
    return _page()


@blueprint.route("/breaks/<int:break_id>/resolve", methods=["POST"])
@allowed("reconciliation")
def resolve_break(break_id: int) -> Any:
    note = request.form.get("note", "").strip()
    if not note:
        flash(_("Resolving a break needs a note saying why."), "error")
        return _page(400)
    try:
        with web.unit_of_work() as db:
            resolve(db, break_id, note=note[:2000], operator=web.actor(), now=utcnow())
    except UnknownBreak:
        abort(404)
    except BreakNotOpen:
        flash(_("This break is no longer open."), "error")
        return _page(409)
    flash(_("Break %(id)s resolved.", id=break_id), "ok")
    return redirect(url_for("reconciliation.index", vendor=request.args.get("vendor")))


def _refused(exc: ReconciliationError) -> Any:
    if isinstance(exc, ReportNameError):
        return _(
            "Name the file <clientID>_<YYYYMMDD>.csv (a day) or <clientID>_<YYYYMM>.csv (a month)."
        )
    if isinstance(exc, AlreadyReconciled):
        return _("This vendor's period is already reconciled; tick “replace” to run it again.")
    if isinstance(exc, PeriodNotOver):
        return _("This period is not over yet: reconcile it once it has ended.")
    if isinstance(exc, MalformedReport):
        first = "; ".join(str(p) for p in exc.problems[:5])
        return _(
            "The file has %(count)d bad lines, nothing was recorded: %(first)s",
            count=exc.problem_count,
            first=first,
        )
    return _("The file was refused: %(reason)s", reason=exc.message)


@blueprint.route("/upload", methods=["POST"])
@allowed("reconciliation")
def upload() -> Any:
    sent = request.files.get("file")
    name = secure_filename(sent.filename or "") if sent is not None else ""
    if sent is None or not name:
        flash(_("Choose a vendor's report file to upload."), "error")
        return _page(400)
    replace = request.form.get("replace") == "yes"
    with tempfile.TemporaryDirectory(prefix="vendgw-upload-") as folder:
        path = Path(folder) / name
        sent.save(path)
        try:
            outcome = reconcile(web.runtime(), identify(path), actor=web.actor(), replace=replace)
        except ReconciliationError as exc:
            flash(_refused(exc), "error")
            return _page(409 if isinstance(exc, AlreadyReconciled) else 400)
    flash(
        _(
            "%(file)s reconciled: run %(run)d, %(lines)d lines, %(breaks)d breaks.",
            file=name,
            run=outcome.run_id,
            lines=outcome.line_count,
            breaks=outcome.break_count,
        ),
        "ok",
    )
    return redirect(url_for("reconciliation.index"))
