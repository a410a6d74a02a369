"""vend records

Revision ID: 0002_vend_records
Revises: 0001_foundation
Create Date: 2026-11-20 23:22:25.703717
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0002_vend_records"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vend_request",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("msg_date_time", sa.String(length=14), nullable=False),
        sa.Column(
            "msg_unique_number",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome in ('pending', 'ok', 'refused')", name=op.f("ck_vend_request_outcome_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vend_request")),
        sa.UniqueConstraint(
            "client_id", "msg_date_time", "msg_unique_number", name="uq_vend_request_msg_id"
        ),
    )
    op.create_table(
        "meter_month",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column(
            "units_tenths", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "fixed_charge_paid_cents",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "fbe_units_tenths", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "units_tenths >= 0 and fixed_charge_paid_cents >= 0 and fbe_units_tenths >= 0",
            name=op.f("ck_meter_month_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_month_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", "month", name=op.f("pk_meter_month")),
    )
    op.create_table(
        "vend_transaction",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("receipt_no", sa.String(length=20), nullable=False),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("meter_number", sa.String(length=13), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "tariff_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column(
            "tender_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "debt_recovered_cents",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "fixed_charge_cents",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "fixed_charge_vat_cents",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "energy_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "energy_vat_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "units_tenths", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "fbe_units_tenths", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "journal_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "reversal_journal_entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversal_reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind in ('credit', 'fbe', 'engineering')", name=op.f("ck_vend_transaction_kind_known")
        ),
        sa.CheckConstraint(
            "status in ('issued', 'confirmed', 'reversed')",
            name=op.f("ck_vend_transaction_status_known"),
        ),
        sa.CheckConstraint(
            "tender_cents = debt_recovered_cents + fixed_charge_cents + energy_cents",
            name=op.f("ck_vend_transaction_parts_sum_to_tender"),
        ),
        sa.CheckConstraint(
            "tender_cents >= 0 and units_tenths >= 0", name=op.f("ck_vend_transaction_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_vend_transaction_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_vend_transaction_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["vend_request.id"],
            name=op.f("fk_vend_transaction_request_id_vend_request"),
        ),
        sa.ForeignKeyConstraint(
            ["tariff_version_id"],
            ["tariff_version.id"],
            name=op.f("fk_vend_transaction_tariff_version_id_tariff_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vend_transaction")),
        sa.UniqueConstraint("receipt_no", name=op.f("uq_vend_transaction_receipt_no")),
        sa.UniqueConstraint("request_id", name=op.f("uq_vend_transaction_request_id")),
    )
    op.create_index(
        "ix_vend_transaction_meter_created",
        "vend_transaction",
        ["meter_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_vend_transaction_vendor_created",
        "vend_transaction",
        ["vendor_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "vend_token",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("token", sa.String(length=20), nullable=False),
        sa.Column("tid", sa.Integer(), nullable=True),
        sa.Column(
            "units_tenths", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint("length(token) = 20", name=op.f("ck_vend_token_twenty_digits")),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["vend_transaction.id"],
            name=op.f("fk_vend_token_transaction_id_vend_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vend_token")),
        sa.UniqueConstraint("transaction_id", "seq", name="uq_vend_token_seq"),
    )


def downgrade() -> None:
    op.drop_table("vend_token")
    op.drop_index("ix_vend_transaction_vendor_created", table_name="vend_transaction")
    op.drop_index("ix_vend_transaction_meter_created", table_name="vend_transaction")
    op.drop_table("vend_transaction")
    op.drop_table("meter_month")
    op.drop_table("vend_request")
