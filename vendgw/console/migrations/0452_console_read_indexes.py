"""console read indexes: what the dashboard and the meter search read by (read_indexes.py)

On PostgreSQL the name search's trigram index needs the pg_trgm extension (a trusted extension
since PostgreSQL 13: the database's owner may create it; otherwise a superuser runs
``CREATE EXTENSION pg_trgm`` once before the upgrade). The indexes are built without
CONCURRENTLY, inside the migration's transaction: on a big vend_transaction table, run the
upgrade in a quiet hour (building one took ... on a million vends, see bench/console.py).

Revision ID: 0452_console_read_indexes
Revises: 0451_console_approvals
Create Date: 2026-12-01 14:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0452_console_read_indexes"
down_revision: str | Sequence[str] | None = "0451_console_approvals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003_operator_and_reprints"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_vend_transaction_created_at", "vend_transaction", ["created_at"])
    op.create_index(
        "ix_vend_request_refused_created",
        "vend_request",
        ["created_at"],
        postgresql_where=sa.text("outcome = 'refused'"),
        sqlite_where=sa.text("outcome = 'refused'"),
    )
    op.create_index("ix_meter_customer_id", "meter", ["customer_id"])
    op.create_index(
        "ix_meter_number_pattern",
        "meter",
        ["meter_number"],
        postgresql_ops={"meter_number": "varchar_pattern_ops"},
    )
    op.create_index(
        "ix_customer_account_no_pattern",
        "customer",
        ["account_no"],
        postgresql_ops={"account_no": "varchar_pattern_ops"},
    )
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_customer_name_trgm",
        "customer",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_customer_name_trgm", table_name="customer")
    op.drop_index("ix_customer_account_no_pattern", table_name="customer")
    op.drop_index("ix_meter_number_pattern", table_name="meter")
    op.drop_index("ix_meter_customer_id", table_name="meter")
    op.drop_index("ix_vend_request_refused_created", table_name="vend_request")
    op.drop_index("ix_vend_transaction_created_at", table_name="vend_transaction")
