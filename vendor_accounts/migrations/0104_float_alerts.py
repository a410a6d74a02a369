"""float alerts: each vendor's float alert level and the low-float mails sent

Revision ID: 0104_float_alerts
Revises: 0103_login_failure
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0104_float_alerts"
down_revision: str | Sequence[str] | None = "0103_login_failure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "float_alert_level",
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("level_cents", sa.BigInteger(), nullable=False),
        sa.Column("notify", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level_cents > 0", name=op.f("ck_float_alert_level_level_positive")),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_float_alert_level_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_float_alert_level")),
    )
    op.create_table(
        "float_alert_sent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("level_cents", sa.BigInteger(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("sent_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_float_alert_sent_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_float_alert_sent")),
        sa.UniqueConstraint("vendor_id", "day", name="uq_float_alert_sent_vendor_day"),
    )


def downgrade() -> None:
    op.drop_table("float_alert_sent")
    op.drop_table("float_alert_level")
