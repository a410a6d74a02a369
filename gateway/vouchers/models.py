"""Tables of scratch-card vouchers: batches, vouchers, and the invalid attempts of terminals.

Why they are shaped this way:

* A voucher row never holds its PIN: only `pin_hash`, HMAC-SHA-256 of the PIN under a key
  derived from the master key (pins.py), unique, which is how a redemption finds it. A stolen
  database cannot be tested against guessed PINs without the master key.
* A new batch's PINs exist once more, sealed (AES-256-GCM under another derived key) in
  `voucher_batch.sealed_pins`, only until the batch's print file is exported; the export clears
  it in the same transaction (a CHECK keeps "exported" and "still sealed" exclusive).
* `status` moves created -> active -> redeemed, or to voided; each move is a conditional UPDATE
  on the status it leaves, under the voucher's row lock, so a PIN redeems once whatever the
  number of nodes. `redemption_transaction_id` is unique as a second guard.
* Expiry is not a status: a voucher past its batch's `expires_on` (the utility's local date, the
  last day it redeems) stops redeeming; its value stays in the liability and is reported.
* `voucher_attempt` counts invalid PINs per terminal in the database, so every worker and node
  applies the same limit; one row per msgID (a retry is not a second guess).
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime, utcnow

VOUCHER_STATUSES = ("created", "active", "redeemed", "voided")


class VoucherBatch(Base):
    """One print run of vouchers of one face value, bought by one vendor."""

    __tablename__ = "voucher_batch"
    __table_args__ = (
        CheckConstraint("denomination_cents > 0", name="denomination_positive"),
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("last_serial = first_serial + count - 1", name="serial_range"),
        CheckConstraint(
            "(exported_at is null and sealed_pins is not null) or "
            "(exported_at is not null and sealed_pins is null)",
            name="sealed_until_exported",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    denomination_cents: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    first_serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    last_serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    # The batch's PINs, sealed, until the one export (then NULL for ever).
    sealed_pins: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exported_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The card printer's age public key (public: not a secret).
    export_recipient: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Voucher(Base):
    """One scratch card: a printed serial, a PIN known only by its keyed hash, a state."""

    __tablename__ = "voucher"
    __table_args__ = (
        CheckConstraint(
            "status in ('created', 'active', 'redeemed', 'voided')", name="status_known"
        ),
        CheckConstraint(
            "status in ('created', 'voided') or activated_at is not null",
            name="activated_before_redeemed",
        ),
        CheckConstraint(
            "(status = 'redeemed' and redeemed_at is not null "
            "and redemption_transaction_id is not null) or "
            "(status <> 'redeemed' and redeemed_at is null and redemption_transaction_id is null)",
            name="redeemed_has_transaction",
        ),
        CheckConstraint(
            "(status = 'voided' and voided_at is not null) or "
            "(status <> 'voided' and voided_at is null)",
            name="voided_has_time",
        ),
        Index("ix_voucher_batch_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batch.id"))
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    pin_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="created")
    # The commission the buying vendor earned on this voucher at activation (a void gives
    # back exactly the face value less this).
    commission_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activation_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entry.id"), nullable=True
    )
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    redeemed_by_vendor_id: Mapped[int | None] = mapped_column(
        ForeignKey("vendor.id"), nullable=True
    )
    redemption_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("vend_transaction.id"), nullable=True, unique=True
    )
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    void_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"), nullable=True)


class VoucherAttempt(Base):
    """One invalid PIN sent by a terminal (never the PIN itself): the guessing limit's count."""

    __tablename__ = "voucher_attempt"
    __table_args__ = (
        UniqueConstraint(
            "client_id", "msg_date_time", "msg_unique_number", name="uq_voucher_attempt_msg_id"
        ),
        Index("ix_voucher_attempt_terminal_at", "client_id", "terminal_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(13))
    terminal_id: Mapped[str] = mapped_column(String(40))
    msg_date_time: Mapped[str] = mapped_column(String(14))
    msg_unique_number: Mapped[int] = mapped_column(BigId)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(30))
    serial: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # when a PIN matched
