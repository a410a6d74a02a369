"""Tables of the reconciliation package: runs, their totals, tracked breaks and missing reports.

Why they are shaped this way:

* A **run** is one reconciliation of one vendor's report for one period. At most one run per
  (vendor, period) is ``current`` (a partial unique index); ``--replace`` marks the old one
  ``replaced`` and points the new one at it, so the history stays and the audit log says who.
* Matched lines are only counted (``recon_run_total``, one row per category), never stored one by
  one: a million-line monthly report leaves a handful of rows, like a bank statement run.
* A **break** is tracked, not just printed. Its identity is (vendor, period, category, msg_id,
  occurrence), so re-running the same period finds the same break again (carried, not doubled),
  a break a later run no longer finds is ``cleared`` by that run, and an operator ``resolves``
  the rest with a note. Age is counted from the item's business date.
* Money is integer cents, times are UTC; every constraint is named (see core.db).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime, utcnow

__all__ = [
    "BREAK_STATUSES",
    "CATEGORIES",
    "BreakCategory",
    "ReconBreak",
    "ReconMissingReport",
    "ReconRun",
    "ReconRunTotal",
]


class BreakCategory:
    """What a line or a gateway vend turned out to be. MATCHED is the only non-break."""

    MATCHED = "MATCHED"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    METER_MISMATCH = "METER_MISMATCH"
    STATUS_MISMATCH = "STATUS_MISMATCH"
    MISSING_AT_GATEWAY = "MISSING_AT_GATEWAY"
    MISSING_IN_REPORT = "MISSING_IN_REPORT"
    DUPLICATE_IN_REPORT = "DUPLICATE_IN_REPORT"
    OUTSIDE_PERIOD = "OUTSIDE_PERIOD"


CATEGORIES = (
    BreakCategory.MATCHED,
    BreakCategory.AMOUNT_MISMATCH,
    BreakCategory.METER_MISMATCH,
    BreakCategory.STATUS_MISMATCH,
    BreakCategory.MISSING_AT_GATEWAY,
    BreakCategory.MISSING_IN_REPORT,
    BreakCategory.DUPLICATE_IN_REPORT,
    BreakCategory.OUTSIDE_PERIOD,
)
BREAK_STATUSES = ("open", "resolved", "cleared")
RUN_STATUSES = ("current", "replaced")
PERIOD_KINDS = ("daily", "monthly")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class ReconRun(Base):
    """One reconciliation of one vendor report against the gateway, with its headline figures."""

    __tablename__ = "recon_run"
    __table_args__ = (
        CheckConstraint(_in("period_kind", PERIOD_KINDS), name="period_kind_known"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status_known"),
        # What the vendor's float owes: its sales, less the vouchers redeemed through it (their
        # buyer paid at activation), less its commission.
        CheckConstraint(
            "settlement_due_cents = gateway_total_cents - voucher_total_cents - commission_cents",
            name="settlement_is_sales_less_commission",
        ),
        CheckConstraint("voucher_total_cents >= 0", name="voucher_total_not_negative"),
        CheckConstraint("window_start < window_end", name="window_ordered"),
        # One current run per vendor and period: a re-import must replace it explicitly.
        Index(
            "uq_recon_run_current",
            "vendor_id",
            "period_kind",
            "period_label",
            unique=True,
            postgresql_where=text("status = 'current'"),
            sqlite_where=text("status = 'current'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    client_id: Mapped[str] = mapped_column(String(13))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_label: Mapped[str] = mapped_column(String(10))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(10), default="current")
    replaces_run_id: Mapped[int | None] = mapped_column(ForeignKey("recon_run.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Gateway: sales (credit vends, voucher redemptions, account payments) created in the window;
    # total of those not reversed by its end.
    gateway_count: Mapped[int] = mapped_column(BigId)
    gateway_total_cents: Mapped[int] = mapped_column(BigInteger)
    # The voucher redemptions gateway_total_cents counts: sales the float paid nothing for.
    voucher_count: Mapped[int] = mapped_column(BigId, server_default="0")
    voucher_total_cents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Vendor: lines in the file; total of its SUCCESS lines (as the vendor states it).
    vendor_count: Mapped[int] = mapped_column(BigId)
    vendor_total_cents: Mapped[int] = mapped_column(BigInteger)
    # From the ledger: the commission credited on the vends in gateway_total_cents.
    commission_cents: Mapped[int] = mapped_column(BigInteger)
    # gateway_total_cents - voucher_total_cents - commission_cents (a CHECK keeps it so).
    settlement_due_cents: Mapped[int] = mapped_column(BigInteger)


class ReconRunTotal(Base):
    """Count and sums of one category in one run (matched lines are only counted here)."""

    __tablename__ = "recon_run_total"
    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category_known"),
        CheckConstraint("item_count > 0", name="count_positive"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("recon_run.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(24), primary_key=True)
    item_count: Mapped[int] = mapped_column(BigId)
    vendor_amount_cents: Mapped[int] = mapped_column(BigInteger)
    gateway_amount_cents: Mapped[int] = mapped_column(BigInteger)
    # What these items add to (vendor total - gateway total); the categories' effects sum to it.
    effect_cents: Mapped[int] = mapped_column(BigInteger)


class ReconBreak(Base):
    """A difference between a vendor's report and the gateway, tracked until resolved."""

    __tablename__ = "recon_break"
    __table_args__ = (
        UniqueConstraint(
            "vendor_id",
            "period_kind",
            "period_label",
            "category",
            "msg_id",
            "occurrence",
            name="uq_recon_break_identity",
        ),
        CheckConstraint(_in("category", CATEGORIES[1:]), name="category_is_a_break"),
        CheckConstraint(_in("status", BREAK_STATUSES), name="status_known"),
        CheckConstraint(
            "status <> 'resolved' or (resolved_at is not null and length(resolved_by) > 0 "
            "and length(resolution_note) > 0)",
            name="resolution_has_note_and_operator",
        ),
        Index("ix_recon_break_status_vendor", "status", "vendor_id"),
        Index("ix_recon_break_last_run", "last_run_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    client_id: Mapped[str] = mapped_column(String(13))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_label: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(24))
    msg_id: Mapped[str] = mapped_column(String(40))
    # 0, or n for the n-th extra copy of a msg_id in one report (DUPLICATE_IN_REPORT).
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    # The business day of the item (the gateway's when it has the vend): what age counts from.
    business_date: Mapped[date] = mapped_column(Date)
    line_no: Mapped[int | None] = mapped_column(BigId, nullable=True)
    terminal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    receipt_no: Mapped[str | None] = mapped_column(String(20), nullable=True)
    meter_number: Mapped[str | None] = mapped_column(String(13), nullable=True)
    vendor_amount_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    vendor_status: Mapped[str | None] = mapped_column(String(8), nullable=True)
    vended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    gateway_receipt_no: Mapped[str | None] = mapped_column(String(20), nullable=True)
    gateway_terminal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    gateway_meter_number: Mapped[str | None] = mapped_column(String(13), nullable=True)
    gateway_amount_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gateway_status: Mapped[str | None] = mapped_column(String(8), nullable=True)
    gateway_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    effect_cents: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    first_run_id: Mapped[int] = mapped_column(ForeignKey("recon_run.id"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("recon_run.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cleared_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("recon_run.id"), nullable=True)


class ReconMissingReport(Base):
    """An active vendor sent no report for a period when the nightly run looked for it."""

    __tablename__ = "recon_missing_report"
    __table_args__ = (
        UniqueConstraint(
            "vendor_id", "period_kind", "period_label", name="uq_recon_missing_report_period"
        ),
        CheckConstraint(_in("period_kind", PERIOD_KINDS), name="period_kind_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    client_id: Mapped[str] = mapped_column(String(13))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_label: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the report arrives later and is reconciled.
    received_run_id: Mapped[int | None] = mapped_column(ForeignKey("recon_run.id"), nullable=True)
