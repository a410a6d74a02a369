"""vouchers: scratch-card batches, vouchers, invalid attempts; the redeem privilege; the
voucher entries and the voucher liability account of the ledger; voucher vend transactions

Besides its own tables this branch widens three CHECK constraints of other packages' tables (the
ledger's entry kinds and accounts, the vend transaction's kinds) and adds the terminals'
`can_redeem` flag. On PostgreSQL a CHECK is dropped and added again. SQLite cannot alter a
CHECK, and copying `journal_entry` or `posting` (a "batch" migration) would drop their
append-only triggers and break the foreign keys that point at them; so there the table's stored
definition is rewritten in place, the procedure SQLite documents for loosening a constraint
("ALTER TABLE", section "Making Other Kinds Of Table Schema Changes": writable_schema, then a new
schema_version), shared with the other migrations in core.schema_checks.replace_check. Only ever
to allow more values, which the rows already there satisfy.

Revision ID: 0301_vouchers
Revises:
Create Date: 2026-12-01 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db
from core.schema_checks import replace_check

revision: str = "0301_vouchers"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("vouchers",)
# After the gateway's 0004, whose vend transaction kinds (with 'payment') this one widens.
depends_on: str | Sequence[str] | None = ["0004_batches_payments_faults", "0103_login_failure"]

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (table, constraint, the check before, the check after)
_CHECKS = [
    (
        "journal_entry",
        "ck_journal_entry_kind_known",
        "kind in ('deposit', 'vend', 'reversal', 'adjustment')",
        "kind in ('deposit', 'vend', 'reversal', 'adjustment', 'voucher_sale', 'voucher_use', "
        "'voucher_void')",
    ),
    (
        "posting",
        "ck_posting_account_known",
        "account in ('vendor_float', 'energy_revenue', 'fixed_charge_revenue', 'vat_payable', "
        "'debt_recovered', 'commission_expense', 'bank', 'adjustments')",
        "account in ('vendor_float', 'energy_revenue', 'fixed_charge_revenue', 'vat_payable', "
        "'debt_recovered', 'commission_expense', 'bank', 'adjustments', 'voucher_liability')",
    ),
    (
        "vend_transaction",
        "ck_vend_transaction_kind_known",
        "kind in ('credit', 'fbe', 'engineering', 'payment')",
        "kind in ('credit', 'fbe', 'engineering', 'payment', 'voucher')",
    ),
]


def _rewrite_checks(forward: bool) -> None:
    bind = op.get_bind()
    for table, name, before, after in _CHECKS:
        old, new = (before, after) if forward else (after, before)
        replace_check(bind, table, name, old, new)


def upgrade() -> None:
    op.create_table(
        "voucher_batch",
        sa.Column("id", _ID, nullable=False),
        sa.Column("vendor_id", _ID, nullable=False),
        sa.Column("denomination_cents", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("sealed_pins", sa.LargeBinary(), nullable=True),
        sa.Column("exported_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exported_by", sa.String(length=100), nullable=True),
        sa.Column("export_recipient", sa.String(length=100), nullable=True),
        sa.CheckConstraint("count > 0", name=op.f("ck_voucher_batch_count_positive")),
        sa.CheckConstraint(
            "denomination_cents > 0", name=op.f("ck_voucher_batch_denomination_positive")
        ),
        sa.CheckConstraint(
            "last_serial = first_serial + count - 1", name=op.f("ck_voucher_batch_serial_range")
        ),
        sa.CheckConstraint(
            "(exported_at is null and sealed_pins is not null) or "
            "(exported_at is not null and sealed_pins is null)",
            name=op.f("ck_voucher_batch_sealed_until_exported"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_voucher_batch_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_batch")),
        sa.UniqueConstraint("first_serial", name=op.f("uq_voucher_batch_first_serial")),
        sa.UniqueConstraint("last_serial", name=op.f("uq_voucher_batch_last_serial")),
    )
    op.create_index(
        op.f("ix_voucher_batch_vendor_id"), "voucher_batch", ["vendor_id"], unique=False
    )
    op.create_table(
        "voucher",
        sa.Column("id", _ID, nullable=False),
        sa.Column("batch_id", _ID, nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("pin_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("commission_cents", sa.BigInteger(), nullable=True),
        sa.Column("activated_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("activation_entry_id", _ID, nullable=True),
        sa.Column("redeemed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by_vendor_id", _ID, nullable=True),
        sa.Column("redemption_transaction_id", _ID, nullable=True),
        sa.Column("voided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("void_entry_id", _ID, nullable=True),
        sa.CheckConstraint(
            "status in ('created', 'active', 'redeemed', 'voided')",
            name=op.f("ck_voucher_status_known"),
        ),
        sa.CheckConstraint(
            "status in ('created', 'voided') or activated_at is not null",
            name=op.f("ck_voucher_activated_before_redeemed"),
        ),
        sa.CheckConstraint(
            "(status = 'redeemed' and redeemed_at is not null "
            "and redemption_transaction_id is not null) or "
            "(status <> 'redeemed' and redeemed_at is null and redemption_transaction_id is null)",
            name=op.f("ck_voucher_redeemed_has_transaction"),
        ),
        sa.CheckConstraint(
            "(status = 'voided' and voided_at is not null) or "
            "(status <> 'voided' and voided_at is null)",
            name=op.f("ck_voucher_voided_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["voucher_batch.id"], name=op.f("fk_voucher_batch_id_voucher_batch")
        ),
        sa.ForeignKeyConstraint(
            ["activation_entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_voucher_activation_entry_id_journal_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["redeemed_by_vendor_id"],
            ["vendor.id"],
            name=op.f("fk_voucher_redeemed_by_vendor_id_vendor"),
        ),
        sa.ForeignKeyConstraint(
            ["redemption_transaction_id"],
            ["vend_transaction.id"],
            name=op.f("fk_voucher_redemption_transaction_id_vend_transaction"),
        ),
        sa.ForeignKeyConstraint(
            ["void_entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_voucher_void_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher")),
        sa.UniqueConstraint("pin_hash", name=op.f("uq_voucher_pin_hash")),
        sa.UniqueConstraint(
            "redemption_transaction_id", name=op.f("uq_voucher_redemption_transaction_id")
        ),
        sa.UniqueConstraint("serial", name=op.f("uq_voucher_serial")),
    )
    op.create_index("ix_voucher_batch_status", "voucher", ["batch_id", "status"], unique=False)
    op.create_table(
        "voucher_attempt",
        sa.Column("id", _ID, nullable=False),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("msg_date_time", sa.String(length=14), nullable=False),
        sa.Column("msg_unique_number", _ID, nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_attempt")),
        sa.UniqueConstraint(
            "client_id", "msg_date_time", "msg_unique_number", name="uq_voucher_attempt_msg_id"
        ),
    )
    op.create_index(
        "ix_voucher_attempt_terminal_at",
        "voucher_attempt",
        ["client_id", "terminal_id", "at"],
        unique=False,
    )
    op.add_column(
        "terminal",
        sa.Column("can_redeem", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    _rewrite_checks(forward=True)


def downgrade() -> None:
    _rewrite_checks(forward=False)
    with op.batch_alter_table("terminal") as batch:
        batch.drop_column("can_redeem")
    op.drop_index("ix_voucher_attempt_terminal_at", table_name="voucher_attempt")
    op.drop_table("voucher_attempt")
    op.drop_index("ix_voucher_batch_status", table_name="voucher")
    op.drop_table("voucher")
    op.drop_index(op.f("ix_voucher_batch_vendor_id"), table_name="voucher_batch")
    op.drop_table("voucher_batch")
