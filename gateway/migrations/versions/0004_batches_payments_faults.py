"""batches, account payments and fault reports

Revision ID: 0004_batches_payments_faults
Revises: 0003_operator_and_reprints
Create Date: 2026-12-01 13:45:00

Batches are time windows on a terminal (nothing is written on the vend path for them); an account
payment is a vend transaction of kind 'payment' (no token); a transaction now keeps its pay type
for the batch totals; fault reports get their own table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0004_batches_payments_faults"
down_revision: str | Sequence[str] | None = "0003_operator_and_reprints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "vend_batch",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("vendor_id", _BIG, nullable=False),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("opened_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "kind in ('banking', 'sales', 'shift')", name=op.f("ck_vend_batch_kind_known")
        ),
        sa.CheckConstraint(
            "closed_at is null or closed_at >= opened_at",
            name=op.f("ck_vend_batch_closes_after_open"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vend_batch")),
    )
    op.create_index(
        "uq_vend_batch_open",
        "vend_batch",
        ["client_id", "terminal_id", "kind"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )
    op.create_index(
        "ix_vend_batch_terminal_closed",
        "vend_batch",
        ["client_id", "terminal_id", "kind", "closed_at"],
        unique=False,
    )
    op.create_table(
        "fault_report",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("ref_no", sa.String(length=20), nullable=False),
        sa.Column("request_id", _BIG, nullable=False),
        sa.Column("vendor_id", _BIG, nullable=False),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column("meter_number", sa.String(length=13), nullable=True),
        sa.Column("account_no", sa.String(length=32), nullable=True),
        sa.Column("fault_kind", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("reported_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["vend_request.id"],
            name=op.f("fk_fault_report_request_id_vend_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_report")),
        sa.UniqueConstraint("ref_no", name=op.f("uq_fault_report_ref_no")),
        sa.UniqueConstraint("request_id", name=op.f("uq_fault_report_request_id")),
    )
    op.create_index("ix_fault_report_reported_at", "fault_report", ["reported_at"], unique=False)
    with op.batch_alter_table("vend_transaction") as batch:
        batch.add_column(
            sa.Column("pay_type", sa.String(length=20), nullable=False, server_default="")
        )
        batch.drop_constraint(op.f("ck_vend_transaction_kind_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_vend_transaction_kind_known"),
            "kind in ('credit', 'fbe', 'engineering', 'payment')",
        )


def downgrade() -> None:
    with op.batch_alter_table("vend_transaction") as batch:
        batch.drop_constraint(op.f("ck_vend_transaction_kind_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_vend_transaction_kind_known"), "kind in ('credit', 'fbe', 'engineering')"
        )
        batch.drop_column("pay_type")
    op.drop_index("ix_fault_report_reported_at", table_name="fault_report")
    op.drop_table("fault_report")
    op.drop_index("ix_vend_batch_terminal_closed", table_name="vend_batch")
    op.drop_index("uq_vend_batch_open", table_name="vend_batch")
    op.drop_table("vend_batch")
