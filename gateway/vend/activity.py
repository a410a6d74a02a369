"""The day's vending at a glance, for the back office's dashboard: sales, vends per hour and the
refused requests by fault type, between two instants (the caller gives the utility-local day's
bounds, core.localtime.day_bounds_utc).

Each figure is one statement over the day's rows. Hours are bucketed by the database, in one
grouped query: the local hours' boundaries are computed here as UTC instants (the utility's zone,
its DST days included) and a CASE over `created_at` names each row's local hour, so the same SQL
runs on both databases (no per-dialect time-zone functions) and 24 counts cross the wire instead
of every vend's timestamp (on a million vends that was most of the dashboard's time, measured by
bench/console.py). Both read by `created_at` ranges through the console's read indexes
(vendgw/console/read_indexes.py: every vend's, and the refused requests' only); bench/console.py
measures them on a million vends.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from gateway.vend.models import VendRequest, VendTransaction


@dataclass(frozen=True)
class Sales:
    vends: int
    tender_cents: int
    units_tenths: int
    reversed_vends: int


def sales(session: Session, start: datetime, end: datetime) -> Sales:
    """Credit and FBE vends issued in [start, end); reversed ones are counted apart, not sold."""
    rows = session.execute(
        select(
            VendTransaction.status == "reversed",
            func.count(),
            func.coalesce(func.sum(VendTransaction.tender_cents), 0),
            func.coalesce(func.sum(VendTransaction.units_tenths), 0),
        )
        .where(
            VendTransaction.created_at >= start,
            VendTransaction.created_at < end,
            VendTransaction.kind.in_(("credit", "fbe")),
        )
        .group_by(VendTransaction.status == "reversed")
    ).all()
    sold = next((r for r in rows if not r[0]), (False, 0, 0, 0))
    reversed_ = next((r for r in rows if r[0]), (True, 0, 0, 0))
    return Sales(int(sold[1]), int(sold[2]), int(sold[3]), int(reversed_[1]))


# Every offset in use is a whole number of quarter hours: a local hour can only begin on one.
_QUARTER = timedelta(minutes=15)


def local_hour_spans(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """[(UTC instant, local hour)]: from each instant up to the next (or `end`), the local hour
    is that one; the first instant is `start`. A DST day has 23 or 25 spans, not 24."""
    spans = [(start, start.astimezone(zone).hour)]
    # the first quarter hour after `start` on the UTC clock, then every quarter hour until `end`
    at = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0) + _QUARTER
    while at < end:
        hour = at.astimezone(zone).hour
        if hour != spans[-1][1]:
            spans.append((at, hour))
        at += _QUARTER
    return spans


def vends_per_hour(
    session: Session, start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[int, int]]:
    """(local hour, vends) for each of the 24 hours of the local day that starts at `start`."""
    spans = local_hour_spans(start, end, zone)
    created = VendTransaction.created_at
    # a row's span is the first whose successor starts after it; the last span runs to `end`
    whens = [(created < nxt, h) for (_at, h), (nxt, _h) in pairwise(spans)]
    hour = case(*whens, else_=spans[-1][1]) if whens else literal(spans[0][1])
    counts: Counter[int] = Counter()
    for local_hour, n in session.execute(
        select(hour, func.count())
        .where(created >= start, created < end, VendTransaction.kind.in_(("credit", "fbe")))
        .group_by(hour)
    ):
        counts[int(local_hour)] += int(n)
    return [(h, counts.get(h, 0)) for h in range(24)]


def faults_by_type(session: Session, start: datetime, end: datetime) -> list[tuple[str, int]]:
    """Refused state-changing requests in [start, end) by XMLVend fault type, most first."""
    counts: Counter[str] = Counter()
    for (response,) in session.execute(
        select(VendRequest.response_json).where(
            VendRequest.created_at >= start,
            VendRequest.created_at < end,
            VendRequest.outcome == "refused",
        )
    ):
        try:
            counts[str(json.loads(response or "{}").get("type") or "unknown")] += 1
        except ValueError:
            counts["unknown"] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
