"""reconciliation: a run's voucher redemptions, and a settlement due without them

A voucher redeemed through a vendor's channel is one of its sales (the gateway total counts it)
but its float paid nothing for it: the voucher's buyer paid when the stock was activated. So the
run keeps the redemptions it counted (``voucher_count``, ``voucher_total_cents``) and the
settlement due becomes gateway total - voucher redemptions - commission.

Existing runs are backfilled from the gateway's records with the rule the gateway total uses: the
vendor's ``voucher`` vends with a tender, created in the run's window and not reversed before its
end. The steps are ordered so every row satisfies the CHECK in force at each step, which matters
on SQLite: there the CHECK is replaced by rewriting the table's stored definition
(core.schema_checks.replace_check; copying ``recon_run`` would break the foreign keys of the
breaks and totals that point at it), and rows already stored are not checked again.

    upgrade    add the columns (0 everywhere: the old CHECK still holds, and so will the new)
               -> replace the CHECK -> fill the voucher total and the settlement due in one UPDATE
    downgrade  settlement due back to gateway - commission with the total at 0, in one UPDATE
               -> the old CHECK -> drop the columns

Revision ID: 0202_recon_voucher_sales
Revises: 0201_reconciliation
Create Date: 2026-12-01 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.schema_checks import replace_check

revision: str = "0202_recon_voucher_sales"
down_revision: str | Sequence[str] | None = "0201_reconciliation"
branch_labels: str | Sequence[str] | None = None
# The voucher vend kind the backfill reads.
depends_on: str | Sequence[str] | None = "0301_vouchers"

_SETTLEMENT = "ck_recon_run_settlement_is_sales_less_commission"
_BEFORE = "settlement_due_cents = gateway_total_cents - commission_cents"
_AFTER = "settlement_due_cents = gateway_total_cents - voucher_total_cents - commission_cents"
_NOT_NEGATIVE = "ck_recon_run_voucher_total_not_negative"

# The redemptions a run's gateway total counted (matching.credit_vends_in and gateway_status),
# both columns in one statement, so no row is ever inconsistent (SQLite would not notice).
_BACKFILL = """
UPDATE recon_run SET
    voucher_count = (SELECT COUNT(*) FROM vend_transaction t
        WHERE t.vendor_id = recon_run.vendor_id AND t.kind = 'voucher' AND t.tender_cents > 0
          AND t.created_at >= recon_run.window_start AND t.created_at < recon_run.window_end
          AND NOT (t.status = 'reversed' AND t.reversed_at < recon_run.window_end)),
    voucher_total_cents = (SELECT COALESCE(SUM(t.tender_cents), 0) FROM vend_transaction t
        WHERE t.vendor_id = recon_run.vendor_id AND t.kind = 'voucher' AND t.tender_cents > 0
          AND t.created_at >= recon_run.window_start AND t.created_at < recon_run.window_end
          AND NOT (t.status = 'reversed' AND t.reversed_at < recon_run.window_end)),
    settlement_due_cents = gateway_total_cents - commission_cents
        - (SELECT COALESCE(SUM(t.tender_cents), 0) FROM vend_transaction t
        WHERE t.vendor_id = recon_run.vendor_id AND t.kind = 'voucher' AND t.tender_cents > 0
          AND t.created_at >= recon_run.window_start AND t.created_at < recon_run.window_end
          AND NOT (t.status = 'reversed' AND t.reversed_at < recon_run.window_end))
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # A column CHECK comes with ADD COLUMN; a table CHECK could not be added afterwards.
        bind.exec_driver_sql(
            "ALTER TABLE recon_run ADD COLUMN voucher_total_cents BIGINT DEFAULT '0' NOT NULL "
            f"CONSTRAINT {_NOT_NEGATIVE} CHECK (voucher_total_cents >= 0)"
        )
    else:
        op.add_column(
            "recon_run",
            sa.Column("voucher_total_cents", sa.BigInteger(), server_default="0", nullable=False),
        )
        op.create_check_constraint(
            op.f(_NOT_NEGATIVE), "recon_run", sa.text("voucher_total_cents >= 0")
        )
    op.add_column(
        "recon_run",
        sa.Column(
            "voucher_count",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            server_default="0",
            nullable=False,
        ),
    )
    replace_check(bind, "recon_run", _SETTLEMENT, _BEFORE, _AFTER)
    bind.exec_driver_sql(_BACKFILL)


def downgrade() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(
        "UPDATE recon_run SET voucher_total_cents = 0, "
        "settlement_due_cents = gateway_total_cents - commission_cents"
    )
    replace_check(bind, "recon_run", _SETTLEMENT, _AFTER, _BEFORE)
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f(_NOT_NEGATIVE), "recon_run", type_="check")
    # SQLite drops the column's own CHECK with it (ALTER TABLE DROP COLUMN, SQLite 3.35).
    bind.exec_driver_sql("ALTER TABLE recon_run DROP COLUMN voucher_total_cents")
    bind.exec_driver_sql("ALTER TABLE recon_run DROP COLUMN voucher_count")
