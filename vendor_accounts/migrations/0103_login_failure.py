"""login_failure: the failed-login throttle, per (clientID, terminalID, source address)

Shared by every worker and node, so the throttle's counts are the same wherever a request lands.

Revision ID: 0103_login_failure
Revises: 0102_entry_vendor_id_index
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0103_login_failure"
down_revision: str | Sequence[str] | None = "0102_entry_vendor_id_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_code", sa.String(length=64), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_ms", sa.BigInteger(), nullable=False),
        sa.Column("throttled", sa.Integer(), nullable=False),
        sa.Column("throttled_reported", sa.Integer(), nullable=False),
        sa.Column("throttled_audit_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("failures > 0", name=op.f("ck_login_failure_failures_positive")),
        sa.CheckConstraint("throttled >= 0", name=op.f("ck_login_failure_throttled_not_negative")),
        sa.PrimaryKeyConstraint(
            "client_id", "terminal_code", "source_ip", name=op.f("pk_login_failure")
        ),
    )
    op.create_index(
        "ix_login_failure_last_failure_ms", "login_failure", ["last_failure_ms"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_login_failure_last_failure_ms", table_name="login_failure")
    op.drop_table("login_failure")
