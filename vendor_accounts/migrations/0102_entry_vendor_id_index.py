"""journal entry: index (vendor_id, id) for a vendor's latest movements

VendorStatement reads a vendor's last few entries by id; without this index PostgreSQL walks the
primary key backwards past every other vendor's entries to find them.

Revision ID: 0102_entry_vendor_id_index
Revises: 0101_vendor_accounts
Create Date: 2026-11-21 01:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0102_entry_vendor_id_index"
down_revision: str | Sequence[str] | None = "0101_vendor_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_journal_entry_vendor_id", "journal_entry", ["vendor_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_journal_entry_vendor_id", table_name="journal_entry")
