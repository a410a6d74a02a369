"""The maker-checker table: a change one user asks for and a different user approves.

A request holds what is to be done (its kind and a JSON payload) and nothing happens to the
domain until it is approved; the approval and the domain write commit together (approvals.py).
Named CHECK constraints keep the states honest even against a hand-written UPDATE: a decided
request names its checker and time, a pending one neither, and an approved one was approved by
somebody other than its maker.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime, utcnow

# The kinds the schema knows; approvals.py handles those whose domain exists (the voucher kinds
# wait for the vouchers package).
REQUEST_KINDS = ("deposit", "tariff_version", "voucher_activate", "voucher_void")
REQUEST_STATUSES = ("pending", "approved", "rejected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class ApprovalRequest(Base):
    """One maker-checker request; ``result`` holds what the approval wrote (JSON ids)."""

    __tablename__ = "approval_request"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="kind_known"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status_known"),
        CheckConstraint(
            "(status = 'pending' and checker is null and decided_at is null) or "
            "(status <> 'pending' and checker is not null and decided_at is not null)",
            name="decision_complete",
        ),
        CheckConstraint("status <> 'approved' or checker <> maker", name="checker_not_maker"),
        # Two pending requests for the same thing (one bank reference, one tariff date) would
        # both wait for a checker; the second is refused when it is entered.
        Index(
            "uq_approval_request_pending_key",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_approval_request_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)
    # What the request is about, for lists and filters: a vendor's clientID, a tariff code.
    subject: Mapped[str] = mapped_column(String(200))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    maker: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    checker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
