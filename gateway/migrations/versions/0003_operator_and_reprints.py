"""operator and reprints

Revision ID: 0003_operator_and_reprints
Revises: 0002_vend_records
Create Date: 2026-11-21 00:22:19.917035
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0003_operator_and_reprints"
down_revision: str | Sequence[str] | None = "0002_vend_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vend_reprint",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["vend_transaction.id"],
            name=op.f("fk_vend_reprint_transaction_id_vend_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vend_reprint")),
    )
    op.create_index("ix_vend_reprint_at", "vend_reprint", ["at"], unique=False)
    op.add_column(
        "vend_transaction",
        sa.Column("operator", sa.String(length=100), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("vend_transaction", "operator")
    op.drop_index("ix_vend_reprint_at", table_name="vend_reprint")
    op.drop_table("vend_reprint")
