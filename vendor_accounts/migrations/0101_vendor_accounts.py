"""vendor accounts: vendors, terminals, floats and the ledger

The tables come from autogenerate; the guards below them are hand-written, per dialect:

* PostgreSQL: BEFORE UPDATE OR DELETE row triggers refuse any change to ``journal_entry`` and
  ``posting`` (TRUNCATE is deliberately not guarded: test cleanup truncates); DEFERRABLE
  INITIALLY DEFERRED constraint triggers check at commit that every entry has at least two
  postings and that they sum to zero, so an entry may be written leg by leg inside a transaction.
* SQLite: BEFORE UPDATE / BEFORE DELETE triggers RAISE(ABORT). SQLite has no deferred triggers,
  so there the sum-to-zero rule is kept by ``ledger.write_entry`` and proven by
  ``check_invariants`` (``vendgw float verify``).

A later SQLite "batch" migration of journal_entry or posting copies the table and drops these
triggers: it must create them again.

Revision ID: 0101_vendor_accounts
Revises:
Create Date: 2026-11-20 23:24:51.731624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0101_vendor_accounts"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("vendor_accounts",)
depends_on: str | Sequence[str] | None = "0001_foundation"


_APPEND_ONLY = ("journal_entry", "posting")

_PG_GUARDS = [
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        entry bigint;
        legs integer;
        total numeric;
    BEGIN
        IF TG_TABLE_NAME = 'posting' THEN
            entry := NEW.journal_entry_id;
        ELSE
            entry := NEW.id;
        END IF;
        SELECT count(*), coalesce(sum(amount_cents), 0) INTO legs, total
          FROM posting WHERE journal_entry_id = entry;
        IF legs < 2 OR total <> 0 THEN
            RAISE EXCEPTION 'journal entry % is unbalanced: % postings summing to %',
                entry, legs, total
                USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        for table in _APPEND_ONLY
    ),
    *(
        f"CREATE CONSTRAINT TRIGGER {table}_balanced AFTER INSERT ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced()"
        for table in _APPEND_ONLY
    ),
]

_SQLITE_GUARDS = [
    f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: {op_name} on {table} refused'); END"
    for table in _APPEND_ONLY
    for op_name in ("UPDATE", "DELETE")
]

_GUARDS = {"postgresql": _PG_GUARDS, "sqlite": _SQLITE_GUARDS}

_DROP_GUARDS = {
    "postgresql": [
        *(
            f"DROP TRIGGER IF EXISTS {t}_{kind} ON {t}"
            for t in _APPEND_ONLY
            for kind in ("append_only", "balanced")
        ),
        "DROP FUNCTION IF EXISTS ledger_check_entry_balanced()",
        "DROP FUNCTION IF EXISTS ledger_refuse_change()",
    ],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS {t}_no_{o}" for t in _APPEND_ONLY for o in ("update", "delete")
    ],
}


def upgrade() -> None:
    op.create_table(
        "vendor",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.String(length=13), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind in ('bank', 'atm_network', 'agent', 'scratch_card', 'mobile', 'utility_office')",
            name=op.f("ck_vendor_kind_known"),
        ),
        sa.CheckConstraint(
            "status in ('active', 'suspended', 'closed')", name=op.f("ck_vendor_status_known")
        ),
        sa.CheckConstraint("length(client_id) = 13", name=op.f("ck_vendor_client_id_13_digits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor")),
        sa.UniqueConstraint("client_id", name=op.f("uq_vendor_client_id")),
    )
    op.create_table(
        "float_account",
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("floor_cents", sa.BigInteger(), nullable=False),
        sa.Column("low_float_threshold_cents", sa.BigInteger(), nullable=False),
        sa.Column("daily_cap_cents", sa.BigInteger(), nullable=True),
        sa.Column("cap_day", sa.Date(), nullable=True),
        sa.Column("cap_day_vended_cents", sa.BigInteger(), nullable=False),
        sa.Column("commission_bp", sa.Integer(), nullable=False),
        sa.Column("commission_kwh_e4", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "balance_cents >= floor_cents", name=op.f("ck_float_account_balance_not_below_floor")
        ),
        sa.CheckConstraint(
            "cap_day_vended_cents >= 0", name=op.f("ck_float_account_cap_day_vended_not_negative")
        ),
        sa.CheckConstraint(
            "commission_bp between 0 and 10000", name=op.f("ck_float_account_commission_bp_range")
        ),
        sa.CheckConstraint(
            "commission_kwh_e4 >= 0", name=op.f("ck_float_account_commission_kwh_not_negative")
        ),
        sa.CheckConstraint(
            "daily_cap_cents is null or daily_cap_cents > 0",
            name=op.f("ck_float_account_daily_cap_positive"),
        ),
        sa.CheckConstraint("floor_cents <= 0", name=op.f("ck_float_account_floor_not_positive")),
        sa.CheckConstraint(
            "low_float_threshold_cents >= 0", name=op.f("ck_float_account_threshold_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_float_account_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_float_account")),
    )
    op.create_table(
        "journal_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "reversal_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("operator", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'reversal' and reversal_of_id is not null) or (kind <> 'reversal' and reversal_of_id is null)",
            name=op.f("ck_journal_entry_reversal_links_original"),
        ),
        sa.CheckConstraint(
            "kind <> 'adjustment' or (length(reason) > 0 and length(operator) > 0)",
            name=op.f("ck_journal_entry_adjustment_has_reason"),
        ),
        sa.CheckConstraint(
            "kind in ('deposit', 'vend', 'reversal', 'adjustment')",
            name=op.f("ck_journal_entry_kind_known"),
        ),
        sa.CheckConstraint(
            "length(reference) between 1 and 64", name=op.f("ck_journal_entry_reference_length")
        ),
        sa.ForeignKeyConstraint(
            ["reversal_of_id"],
            ["journal_entry.id"],
            name=op.f("fk_journal_entry_reversal_of_id_journal_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_journal_entry_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entry")),
        sa.UniqueConstraint("reversal_of_id", name=op.f("uq_journal_entry_reversal_of_id")),
    )
    op.create_index(
        "ix_journal_entry_vendor_at", "journal_entry", ["vendor_id", "at"], unique=False
    )
    op.create_index(
        "uq_journal_entry_deposit_reference",
        "journal_entry",
        ["vendor_id", "reference"],
        unique=True,
        postgresql_where=sa.text("kind = 'deposit'"),
        sqlite_where=sa.text("kind = 'deposit'"),
    )
    op.create_table(
        "terminal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("credential_version", sa.Integer(), nullable=False),
        sa.Column("allowed_cidrs", sa.Text(), nullable=False),
        sa.Column("can_vend", sa.Boolean(), nullable=False),
        sa.Column("can_reprint", sa.Boolean(), nullable=False),
        sa.Column("can_reverse", sa.Boolean(), nullable=False),
        sa.Column("can_engineering", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('active', 'disabled')", name=op.f("ck_terminal_status_known")
        ),
        sa.CheckConstraint(
            "credential_version > 0", name=op.f("ck_terminal_credential_version_positive")
        ),
        sa.CheckConstraint("length(code) between 1 and 40", name=op.f("ck_terminal_code_length")),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_terminal_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminal")),
        sa.UniqueConstraint("vendor_id", "code", name="uq_terminal_vendor_code"),
    )
    op.create_table(
        "low_float_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "journal_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("threshold_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "balance_cents < threshold_cents", name=op.f("ck_low_float_event_below_threshold")
        ),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_low_float_event_journal_entry_id_journal_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendor.id"], name=op.f("fk_low_float_event_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_low_float_event")),
    )
    op.create_index(
        "ix_low_float_event_vendor_at", "low_float_event", ["vendor_id", "at"], unique=False
    )
    op.create_table(
        "posting",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "journal_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("account", sa.String(length=24), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "account in ('vendor_float', 'energy_revenue', 'fixed_charge_revenue', 'vat_payable', 'debt_recovered', 'commission_expense', 'bank', 'adjustments')",
            name=op.f("ck_posting_account_known"),
        ),
        sa.CheckConstraint("amount_cents <> 0", name=op.f("ck_posting_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_posting_journal_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting")),
        sa.UniqueConstraint("journal_entry_id", "account", name="uq_posting_entry_account"),
    )
    for statement in _GUARDS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_GUARDS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table("posting")
    op.drop_index("ix_low_float_event_vendor_at", table_name="low_float_event")
    op.drop_table("low_float_event")
    op.drop_table("terminal")
    op.drop_index(
        "uq_journal_entry_deposit_reference",
        table_name="journal_entry",
        postgresql_where=sa.text("kind = 'deposit'"),
        sqlite_where=sa.text("kind = 'deposit'"),
    )
    op.drop_index("ix_journal_entry_vendor_at", table_name="journal_entry")
    op.drop_table("journal_entry")
    op.drop_table("float_account")
    op.drop_table("vendor")
