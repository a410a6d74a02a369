"""What the vend path records: requests (the idempotency record), vend transactions, tokens, and
each meter's month-to-date position.

A vend writes all of these and the float ledger in one database transaction. The stored response
is what a retried request (same clientID + msgID) gets back, byte for byte the same receipt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, BigId, UTCDateTime, utcnow

TRANSACTION_KINDS = ("credit", "fbe", "engineering", "payment")
TRANSACTION_STATUSES = ("issued", "confirmed", "reversed")


class VendRequest(Base):
    """One state-changing request, claimed by (clientID, msgID) before any work is done.

    The unique key is what makes retries safe across gateway nodes: a second request with the
    same key waits on the first's insert and then reads its stored outcome. A msgID that an
    advice declared not processed (it never arrived) has a row too, operation 'NotProcessed' and
    outcome 'refused', with no transaction: the late original is refused by the same key.
    """

    __tablename__ = "vend_request"
    __table_args__ = (
        UniqueConstraint(
            "client_id", "msg_date_time", "msg_unique_number", name="uq_vend_request_msg_id"
        ),
        CheckConstraint("outcome in ('pending', 'ok', 'refused')", name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(13))
    msg_date_time: Mapped[str] = mapped_column(String(14))
    msg_unique_number: Mapped[int] = mapped_column(BigId)
    terminal_id: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(40))
    # SHA-256 of the operation and its arguments: the same msgID with other content is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10), default="pending")
    # The answer as JSON: a receipt for 'ok', the fault (type, code, message) for 'refused'.
    response_json: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VendTransaction(Base):
    """A completed vend, FBE issue, engineering token issue or account payment (kind 'payment':
    no token; a debt payment's amount is its debt_recovered_cents, a service charge payment's
    its fixed_charge_cents), with its priced parts."""

    __tablename__ = "vend_transaction"
    __table_args__ = (
        CheckConstraint("kind in ('credit', 'fbe', 'engineering', 'payment')", name="kind_known"),
        CheckConstraint("status in ('issued', 'confirmed', 'reversed')", name="status_known"),
        CheckConstraint(
            "tender_cents = debt_recovered_cents + fixed_charge_cents + energy_cents",
            name="parts_sum_to_tender",
        ),
        CheckConstraint("tender_cents >= 0 and units_tenths >= 0", name="not_negative"),
        Index("ix_vend_transaction_vendor_created", "vendor_id", "created_at"),
        Index("ix_vend_transaction_meter_created", "meter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(20), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("vend_request.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default="issued")
    vendor_id: Mapped[int] = mapped_column(BigId)
    client_id: Mapped[str] = mapped_column(String(13))
    terminal_id: Mapped[str] = mapped_column(String(40))
    # The person at the terminal (XMLVend authCred/opName), for per-operator vending reports.
    operator: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # How the customer paid (cash, card, ...), for the shift and batch totals by pay type.
    pay_type: Mapped[str] = mapped_column(String(20), default="", server_default="")
    msg_id: Mapped[str] = mapped_column(String(40))  # dateTime + uniqueNumber, as vendors report
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"), nullable=True)
    meter_number: Mapped[str] = mapped_column(String(13), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), nullable=True)
    tariff_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("tariff_version.id"), nullable=True
    )
    month: Mapped[str] = mapped_column(String(7))  # calendar month in the utility's timezone
    tender_cents: Mapped[int] = mapped_column(BigId, default=0)
    debt_recovered_cents: Mapped[int] = mapped_column(BigId, default=0)
    fixed_charge_cents: Mapped[int] = mapped_column(BigId, default=0)
    fixed_charge_vat_cents: Mapped[int] = mapped_column(BigId, default=0)
    energy_cents: Mapped[int] = mapped_column(BigId, default=0)
    energy_vat_cents: Mapped[int] = mapped_column(BigId, default=0)
    units_tenths: Mapped[int] = mapped_column(BigId, default=0)
    fbe_units_tenths: Mapped[int] = mapped_column(BigId, default=0)
    journal_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reversal_journal_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reversal_reason: Mapped[str] = mapped_column(Text, default="")

    tokens: Mapped[list[VendToken]] = relationship(
        back_populates="transaction", order_by="VendToken.seq"
    )


class VendToken(Base):
    """One STS token as issued; reprints read these, never regenerate them."""

    __tablename__ = "vend_token"
    __table_args__ = (
        UniqueConstraint("transaction_id", "seq", name="uq_vend_token_seq"),
        CheckConstraint("length(token) = 20", name="twenty_digits"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("vend_transaction.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # credit, fbe, keychange, engineering
    token: Mapped[str] = mapped_column(String(20))
    tid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    units_tenths: Mapped[int] = mapped_column(BigId, default=0)

    transaction: Mapped[VendTransaction] = relationship(back_populates="tokens")


class MeterMonth(Base):
    """A meter's purchases in one calendar month: what step pricing, the monthly fixed charge and
    free basic electricity depend on. Reversals put back what their vend added."""

    __tablename__ = "meter_month"
    __table_args__ = (
        CheckConstraint(
            "units_tenths >= 0 and fixed_charge_paid_cents >= 0 and fbe_units_tenths >= 0",
            name="not_negative",
        ),
    )

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    units_tenths: Mapped[int] = mapped_column(BigId, default=0)
    fixed_charge_paid_cents: Mapped[int] = mapped_column(BigId, default=0)
    fbe_units_tenths: Mapped[int] = mapped_column(BigId, default=0)


class VendReprint(Base):
    """One receipt handed out again by Reprint: who asked, when, for which transaction.

    Append-only; the utility's vending staff report on reprints (a customer who asks for the same
    tokens often is worth a look)."""

    __tablename__ = "vend_reprint"
    __table_args__ = (Index("ix_vend_reprint_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_id: Mapped[str] = mapped_column(String(13))
    terminal_id: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(100), default="")
    msg_id: Mapped[str] = mapped_column(String(40))  # the Reprint request's own msgID
    transaction_id: Mapped[int] = mapped_column(ForeignKey("vend_transaction.id"))


BATCH_KINDS = ("banking", "sales", "shift")


class VendBatch(Base):
    """A banking, sales or shift batch of one terminal: a time window, opened and closed.

    Transactions are not written into a batch: a transaction counts in the batch of its
    terminal that was open when it was made (created_at in [opened_at, closed_at)), so the vend
    path writes nothing for it. At most one batch of each kind is open per terminal (the
    partial unique index), which is also what `batch_status` reads."""

    __tablename__ = "vend_batch"
    __table_args__ = (
        CheckConstraint("kind in ('banking', 'sales', 'shift')", name="kind_known"),
        CheckConstraint("closed_at is null or closed_at >= opened_at", name="closes_after_open"),
        Index(
            "uq_vend_batch_open",
            "client_id",
            "terminal_id",
            "kind",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
        Index("ix_vend_batch_terminal_closed", "client_id", "terminal_id", "kind", "closed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(BigId)
    client_id: Mapped[str] = mapped_column(String(13))
    terminal_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str] = mapped_column(String(100), default="")


class ReportedFault(Base):
    """A customer's meter or network fault, reported at a terminal (CustReportFault), kept with
    its reference number for the utility's field staff (`vendgw fault list`)."""

    __tablename__ = "fault_report"
    __table_args__ = (Index("ix_fault_report_reported_at", "reported_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref_no: Mapped[str] = mapped_column(String(20), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("vend_request.id"), unique=True)
    vendor_id: Mapped[int] = mapped_column(BigId)
    client_id: Mapped[str] = mapped_column(String(13))
    terminal_id: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(100), default="")
    msg_id: Mapped[str] = mapped_column(String(40))
    meter_number: Mapped[str | None] = mapped_column(String(13), nullable=True)
    account_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fault_kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
