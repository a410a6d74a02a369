"""/ : the dashboard: today's sales, vends per hour (a chart), refusals by fault type and the
floats that are low. Every role may open it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from core.db import utcnow
from core.localtime import day_bounds_utc, local_day, utility_zone
from gateway.vend import activity
from vendgw.console import charts, floats_view, web
from vendgw.console.access import allowed

blueprint = Blueprint("dashboard", __name__)


@blueprint.route("/")
@allowed("dashboard")
def index() -> Any:
    zone = utility_zone(web.runtime().settings.utility.timezone)
    today = local_day(utcnow(), zone)
    start, end = day_bounds_utc(today, today, zone)
    with web.unit_of_work() as db:
        sold = activity.sales(db, start, end)
        hours = activity.vends_per_hour(db, start, end, zone)
        faults = activity.faults_by_type(db, start, end)
        low = floats_view.low_floats(db)
    chart = charts.bar_chart(
        _("Vends per hour"),
        [f"{hour:02d}" for hour, _count in hours],
        [count for _hour, count in hours],
        rtl=str(get_locale()) == "ar",
    )
    return render_template(
        "dashboard/index.html",
        today=today,
        sold=sold,
        chart=chart,
        hours=hours,
        faults=faults,
        low=low,
        yesterday=today - timedelta(days=1),
    )
