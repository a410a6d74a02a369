"""foundation: master data and audit

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-20 23:18:54.123050
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0001_foundation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gateway",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"], unique=False)
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_table(
        "customer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("debt_cents", sa.Integer(), nullable=False),
        sa.Column("recovery_rate_bp", sa.Integer(), nullable=False),
        sa.Column("fbe_registered", sa.Boolean(), nullable=False),
        sa.CheckConstraint("debt_cents >= 0", name=op.f("ck_customer_debt_not_negative")),
        sa.CheckConstraint(
            "recovery_rate_bp between 0 and 10000", name=op.f("ck_customer_recovery_rate_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("account_no", name=op.f("uq_customer_account_no")),
    )
    op.create_table(
        "supply_group",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sgc", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("dkga", sa.String(length=2), nullable=False),
        sa.Column("ea", sa.String(length=2), nullable=False),
        sa.Column("base_date", sa.Integer(), nullable=False),
        sa.Column("ken", sa.Integer(), nullable=False),
        sa.CheckConstraint("dkga in ('02', '04')", name=op.f("ck_supply_group_dkga_known")),
        sa.CheckConstraint("ea in ('07', '09', '11')", name=op.f("ck_supply_group_ea_known")),
        sa.CheckConstraint(
            "base_date in (1993, 2014, 2035)", name=op.f("ck_supply_group_base_date_known")
        ),
        sa.CheckConstraint("ken between 0 and 255", name=op.f("ck_supply_group_ken_range")),
        sa.CheckConstraint("length(sgc) = 6", name=op.f("ck_supply_group_sgc_six_digits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supply_group")),
        sa.UniqueConstraint("sgc", name=op.f("uq_supply_group_sgc")),
    )
    op.create_table(
        "tariff",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff")),
        sa.UniqueConstraint("code", name=op.f("uq_tariff_code")),
    )
    op.create_table(
        "meter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_number", sa.String(length=13), nullable=False),
        sa.Column("iin", sa.String(length=6), nullable=False),
        sa.Column(
            "supply_group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ti", sa.String(length=2), nullable=False),
        sa.Column("krn", sa.Integer(), nullable=False),
        sa.Column("kt", sa.Integer(), nullable=False),
        sa.Column("ea", sa.String(length=2), nullable=False),
        sa.Column("tct", sa.String(length=2), nullable=False),
        sa.Column("base_date", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column(
            "tariff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("last_tid", sa.Integer(), nullable=True),
        sa.Column(
            "pending_sgc_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("pending_krn", sa.Integer(), nullable=True),
        sa.Column("pending_ti", sa.String(length=2), nullable=True),
        sa.Column("pending_kt", sa.Integer(), nullable=True),
        sa.Column("pending_base_date", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ea in ('07', '09', '11')", name=op.f("ck_meter_ea_known")),
        sa.CheckConstraint("status in ('active', 'blocked')", name=op.f("ck_meter_status_known")),
        sa.CheckConstraint(
            "base_date in (1993, 2014, 2035)", name=op.f("ck_meter_base_date_known")
        ),
        sa.CheckConstraint("krn between 1 and 9", name=op.f("ck_meter_krn_range")),
        sa.CheckConstraint("kt between 0 and 3", name=op.f("ck_meter_kt_range")),
        sa.CheckConstraint("length(iin) in (4, 6)", name=op.f("ck_meter_iin_length")),
        sa.CheckConstraint("length(meter_number) in (11, 13)", name=op.f("ck_meter_drn_length")),
        sa.CheckConstraint("length(ti) = 2", name=op.f("ck_meter_ti_two_digits")),
        sa.CheckConstraint(
            "pending_krn is null or pending_krn between 1 and 9", name=op.f("ck_meter_pending_krn")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_meter_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["pending_sgc_id"],
            ["supply_group.id"],
            name=op.f("fk_meter_pending_sgc_id_supply_group"),
        ),
        sa.ForeignKeyConstraint(
            ["supply_group_id"],
            ["supply_group.id"],
            name=op.f("fk_meter_supply_group_id_supply_group"),
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariff.id"], name=op.f("fk_meter_tariff_id_tariff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter")),
        sa.UniqueConstraint("meter_number", name=op.f("uq_meter_meter_number")),
    )
    op.create_table(
        "tariff_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "tariff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("monthly_fixed_charge_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "monthly_fixed_charge_cents >= 0",
            name=op.f("ck_tariff_version_fixed_charge_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariff.id"], name=op.f("fk_tariff_version_tariff_id_tariff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_version")),
        sa.UniqueConstraint("tariff_id", "effective_from", name="uq_tariff_version_from"),
    )
    op.create_table(
        "vending_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "supply_group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("krn", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("krn between 1 and 9", name=op.f("ck_vending_key_krn_range")),
        sa.ForeignKeyConstraint(
            ["supply_group_id"],
            ["supply_group.id"],
            name=op.f("fk_vending_key_supply_group_id_supply_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vending_key")),
        sa.UniqueConstraint("supply_group_id", "krn", name="uq_vending_key_sgc_krn"),
    )
    op.create_table(
        "tariff_step",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "tariff_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("upto_tenths", sa.Integer(), nullable=True),
        sa.Column("price_e4", sa.Integer(), nullable=False),
        sa.CheckConstraint("price_e4 > 0", name=op.f("ck_tariff_step_price_positive")),
        sa.CheckConstraint(
            "upto_tenths is null or upto_tenths > 0", name=op.f("ck_tariff_step_upto_positive")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_version_id"],
            ["tariff_version.id"],
            name=op.f("fk_tariff_step_tariff_version_id_tariff_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_step")),
        sa.UniqueConstraint("tariff_version_id", "seq", name="uq_tariff_step_seq"),
    )


def downgrade() -> None:
    op.drop_table("tariff_step")
    op.drop_table("vending_key")
    op.drop_table("tariff_version")
    op.drop_table("meter")
    op.drop_table("tariff")
    op.drop_table("supply_group")
    op.drop_table("customer")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_action"), table_name="audit_event")
    op.drop_table("audit_event")
