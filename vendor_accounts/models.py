"""Tables of the vendor-accounts package: vendors, terminals, floats and the double-entry ledger.

Why the ledger is shaped this way:

* ``journal_entry`` and ``posting`` are append-only. The database refuses UPDATE and DELETE on
  them (triggers, see the migration) and, on PostgreSQL, checks at commit that every entry's
  postings sum to zero. A correction is a new entry that points at the old one (``reversal_of``).
* ``float_account.balance_cents`` is the one mutable number: a materialised sum of the vendor's
  ``vendor_float`` postings, kept so a debit is a single conditional UPDATE instead of a sum over
  history. ``check_invariants()`` / ``vendgw float verify`` recompute it from the postings.
* Amounts are signed integer cents from the utility's books: positive = credit, negative = debit
  (see ``vendor_accounts.ledger`` for the accounts and the sign convention).
* Every constraint is named, so the tests that write raw SQL can tell which guard refused them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime, utcnow

VENDOR_KINDS = ("bank", "atm_network", "agent", "scratch_card", "mobile", "utility_office")
VENDOR_STATUSES = ("active", "suspended", "closed")
TERMINAL_STATUSES = ("active", "disabled")
PRIVILEGES = ("vend", "reprint", "reverse", "engineering", "redeem")
# voucher_sale: scratch-card stock activated (sold to its vendor); voucher_use: a voucher
# redeemed for tokens; voucher_void: stock voided, its unredeemed value credited back.
ENTRY_KINDS = (
    "deposit",
    "vend",
    "reversal",
    "adjustment",
    "voucher_sale",
    "voucher_use",
    "voucher_void",
)
# Ledger accounts; vendor_float is per vendor (the entry's vendor), the others are the utility's.
ACCOUNTS = (
    "vendor_float",
    "energy_revenue",
    "fixed_charge_revenue",
    "vat_payable",
    "debt_recovered",
    "commission_expense",
    "bank",
    "adjustments",
    "voucher_liability",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class Vendor(Base):
    """A third party that sells electricity on the utility's behalf, identified by its clientID."""

    __tablename__ = "vendor"
    __table_args__ = (
        # The EAN-13 check digit is verified in Python (ean.py); the database keeps the shape.
        CheckConstraint("length(client_id) = 13", name="client_id_13_digits"),
        CheckConstraint(_in("kind", VENDOR_KINDS), name="kind_known"),
        CheckConstraint(_in("status", VENDOR_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(13), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Terminal(Base):
    """A point of sale of a vendor. Only an argon2 hash of its secret is kept.

    ``credential_version`` goes up whenever the secret, the status or the allowed addresses
    change; the in-process verification cache (credentials.py) compares it on every request.
    """

    __tablename__ = "terminal"
    __table_args__ = (
        UniqueConstraint("vendor_id", "code", name="uq_terminal_vendor_code"),
        CheckConstraint("length(code) between 1 and 40", name="code_length"),
        CheckConstraint(_in("status", TERMINAL_STATUSES), name="status_known"),
        CheckConstraint("credential_version > 0", name="credential_version_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    code: Mapped[str] = mapped_column(String(40))  # the XMLVend terminalID
    secret_hash: Mapped[str] = mapped_column(String(200))
    credential_version: Mapped[int] = mapped_column(Integer, default=1)
    # Space-separated CIDRs the terminal may call from; empty means from anywhere.
    allowed_cidrs: Mapped[str] = mapped_column(Text, default="")
    can_vend: Mapped[bool] = mapped_column(Boolean, default=True)
    can_reprint: Mapped[bool] = mapped_column(Boolean, default=False)
    can_reverse: Mapped[bool] = mapped_column(Boolean, default=False)
    can_engineering: Mapped[bool] = mapped_column(Boolean, default=False)
    # Redeem scratch-card vouchers (VoucherVend): a USSD, SMS or app platform's terminal.
    can_redeem: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def privileges(self) -> frozenset[str]:
        return frozenset(p for p in PRIVILEGES if getattr(self, f"can_{p}"))

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"Terminal(id={self.id!r}, code={self.code!r}, status={self.status!r})"


class FloatAccount(Base):
    """A vendor's prepaid float: the balance a vend may spend down to the floor, and its limits."""

    __tablename__ = "float_account"
    __table_args__ = (
        # The last line of defence: the debit's conditional UPDATE should never get here.
        CheckConstraint("balance_cents >= floor_cents", name="balance_not_below_floor"),
        CheckConstraint("floor_cents <= 0", name="floor_not_positive"),
        CheckConstraint("low_float_threshold_cents >= 0", name="threshold_not_negative"),
        CheckConstraint(
            "daily_cap_cents is null or daily_cap_cents > 0", name="daily_cap_positive"
        ),
        CheckConstraint("cap_day_vended_cents >= 0", name="cap_day_vended_not_negative"),
        CheckConstraint("commission_bp between 0 and 10000", name="commission_bp_range"),
        CheckConstraint("commission_kwh_e4 >= 0", name="commission_kwh_not_negative"),
    )

    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendor.id"), primary_key=True)
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # The lowest balance a vend may leave: 0, or negative for a credit line.
    floor_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    low_float_threshold_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    daily_cap_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The utility-local day the running day total belongs to; reset by the first vend of a day.
    cap_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    cap_day_vended_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_bp: Mapped[int] = mapped_column(Integer, default=0)
    # Per-kWh commission in 1/10 000 of the currency unit per kWh (like tariff prices).
    commission_kwh_e4: Mapped[int] = mapped_column(Integer, default=0)


class JournalEntry(Base):
    """One business event on one vendor's float; its postings sum to zero. Never changed."""

    __tablename__ = "journal_entry"
    __table_args__ = (
        CheckConstraint(_in("kind", ENTRY_KINDS), name="kind_known"),
        CheckConstraint("length(reference) between 1 and 64", name="reference_length"),
        CheckConstraint(
            "(kind = 'reversal' and reversal_of_id is not null) or "
            "(kind <> 'reversal' and reversal_of_id is null)",
            name="reversal_links_original",
        ),
        CheckConstraint(
            "kind <> 'adjustment' or (length(reason) > 0 and length(operator) > 0)",
            name="adjustment_has_reason",
        ),
        # A bank reference applies once per vendor: the replayed deposit finds the original.
        Index(
            "uq_journal_entry_deposit_reference",
            "vendor_id",
            "reference",
            unique=True,
            postgresql_where=text("kind = 'deposit'"),
            sqlite_where=text("kind = 'deposit'"),
        ),
        Index("ix_journal_entry_vendor_at", "vendor_id", "at"),
        # A vendor's latest movements (VendorStatement) without walking other vendors' entries.
        Index("ix_journal_entry_vendor_id", "vendor_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    kind: Mapped[str] = mapped_column(String(12))
    reference: Mapped[str] = mapped_column(String(64))
    # When it happened (business time); created_at is when the row was written.
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # At most one reversal per original entry: reversing twice returns the first reversal.
    reversal_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entry.id"), nullable=True, unique=True
    )
    operator: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Posting(Base):
    """One leg of a journal entry: a signed amount on one account (positive = credit)."""

    __tablename__ = "posting"
    __table_args__ = (
        # One leg per account per entry keeps statements and reversals unambiguous.
        UniqueConstraint("journal_entry_id", "account", name="uq_posting_entry_account"),
        CheckConstraint(_in("account", ACCOUNTS), name="account_known"),
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journal_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    account: Mapped[str] = mapped_column(String(24))
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class LowFloatEvent(Base):
    """A float balance fell below its low-float threshold (one row per downward crossing)."""

    __tablename__ = "low_float_event"
    __table_args__ = (
        CheckConstraint("balance_cents < threshold_cents", name="below_threshold"),
        Index("ix_low_float_event_vendor_at", "vendor_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    journal_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    threshold_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Base):
    """Recent failed logins of one claimed (clientID, terminalID) from one source address.

    The login throttle (credentials.py) reads this row with the credentials, in the same
    statement, and writes it only when a login fails (an upsert), is refused by the throttle
    (the rate-limited audit count), or succeeds after failures (the row is deleted). The claimed
    IDs need not exist: unknown ones are throttled too. Times are milliseconds since the epoch,
    from the gateway's clock. A row whose last failure is older than the back-off's
    ``forget_after`` counts as none and is deleted by the next failure anywhere, so the table holds
    at most the last hour's attackers.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        CheckConstraint("failures > 0", name="failures_positive"),
        CheckConstraint("throttled >= 0", name="throttled_not_negative"),
        Index("ix_login_failure_last_failure_ms", "last_failure_ms"),
    )

    # As claimed in the Basic credentials (escaped, cut to the column's length).
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    terminal_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_ms: Mapped[int] = mapped_column(BigInteger)
    # Requests refused by the throttle since the last `soap.login_throttled` audit row, the count
    # that row carried, and when it was written (a flood writes at most one a minute per row).
    throttled: Mapped[int] = mapped_column(Integer, default=0)
    throttled_reported: Mapped[int] = mapped_column(Integer, default=0)
    throttled_audit_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class FloatAlertLevel(Base):
    """A vendor's float alert level: finance is told (once a day) while the balance is below it.

    Apart from ``float_account`` on purpose: the vend path's hot row and its statements stay as
    they are, and a vendor without a row has no alert level. ``notify`` holds the addresses that
    receive the vendor's alert besides the utility's ([smtp] alert_to), space-separated.
    """

    __tablename__ = "float_alert_level"
    __table_args__ = (CheckConstraint("level_cents > 0", name="level_positive"),)

    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendor.id"), primary_key=True)
    level_cents: Mapped[int] = mapped_column(BigInteger)
    notify: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FloatAlertSent(Base):
    """One low-float mail: at most one per vendor per local day (the unique key claims it)."""

    __tablename__ = "float_alert_sent"
    __table_args__ = (UniqueConstraint("vendor_id", "day", name="uq_float_alert_sent_vendor_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    # The utility-local day the alert is for.
    day: Mapped[date] = mapped_column(Date)
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    level_cents: Mapped[int] = mapped_column(BigInteger)
    recipients: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
