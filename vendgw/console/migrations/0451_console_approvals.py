"""console approvals: the maker-checker requests of the back-office console

The console's own branch, on the vendor accounts (a deposit request names a vendor). The partial
unique index keeps one pending request per thing asked for on both databases.

Revision ID: 0451_console_approvals
Revises:
Create Date: 2026-12-01 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0451_console_approvals"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("console_approvals",)
depends_on: str | Sequence[str] | None = "0101_vendor_accounts"


def upgrade() -> None:
    op.create_table(
        "approval_request",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("maker", sa.String(length=100), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("checker", sa.String(length=100), nullable=True),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind in ('deposit', 'tariff_version', 'voucher_activate', 'voucher_void')",
            name=op.f("ck_approval_request_kind_known"),
        ),
        sa.CheckConstraint(
            "status in ('pending', 'approved', 'rejected')",
            name=op.f("ck_approval_request_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'pending' and checker is null and decided_at is null) or "
            "(status <> 'pending' and checker is not null and decided_at is not null)",
            name=op.f("ck_approval_request_decision_complete"),
        ),
        sa.CheckConstraint(
            "status <> 'approved' or checker <> maker",
            name=op.f("ck_approval_request_checker_not_maker"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_request")),
    )
    op.create_index(
        "uq_approval_request_pending_key",
        "approval_request",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_approval_request_status_created",
        "approval_request",
        ["status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_approval_request_status_created", table_name="approval_request")
    op.drop_index("uq_approval_request_pending_key", table_name="approval_request")
    op.drop_table("approval_request")
