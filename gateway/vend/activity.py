"""The day's vending at a glance, for the back office's dashboard: sales, vends per hour and the
refused requests by fault type, between two instants (the caller gives the utility-local day's
bounds, core.localtime.day_bounds_utc).

Each figure is one statement over the day's rows. Hours are bucketed in Python from the day's
timestamps: the same code on both databases, in the utility's zone (no per-dialect SQL for time
zones). Both read by `created_at` ranges through the console's read indexes
(vendgw/console/read_indexes.py: every vend's, and the refused requests' only); bench/console.py
measures them on a million vends.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
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


def vends_per_hour(
    session: Session, start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[int, int]]:
    """(local hour, vends) for each of the 24 hours of the local day that starts at `start`."""
    counts: Counter[int] = Counter()
    for (at,) in session.execute(
        select(VendTransaction.created_at).where(
            VendTransaction.created_at >= start,
            VendTransaction.created_at < end,
            VendTransaction.kind.in_(("credit", "fbe")),
        )
    ):
        counts[at.astimezone(zone).hour] += 1
    return [(hour, counts.get(hour, 0)) for hour in range(24)]


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
