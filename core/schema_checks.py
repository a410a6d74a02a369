"""Replacing a named CHECK constraint of an existing table, on both databases, from a migration.

PostgreSQL drops the constraint and adds the new one (which checks every row already there).
SQLite cannot alter a CHECK at all, and the usual way round it, copying the table ("batch"
migrations), would drop the table's triggers and break the foreign keys that point at it (the
ledger's append-only tables, the reconciliation runs the breaks refer to). So there the table's
stored definition is rewritten in place, the procedure SQLite documents ("ALTER TABLE", section
"Making Other Kinds Of Table Schema Changes"): ``writable_schema`` on, the CHECK's text replaced
in ``sqlite_master``, a new ``schema_version`` so every connection reads the schema again.

SQLite does **not** check the rows already stored against the new text: the caller must make
sure they satisfy it (order the migration's steps so they do, or only ever loosen a CHECK).

Call it inside a migration with alembic's connection (``op.get_bind()``), in the migration's
transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection

__all__ = ["ConstraintNotAsExpected", "replace_check"]


class ConstraintNotAsExpected(RuntimeError):
    """The table's constraint is not the one the migration expects to replace."""


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def replace_check(bind: Connection, table: str, name: str, before: str, after: str) -> None:
    """Replace CHECK ``name`` of ``table``, now ``before``, by ``after`` (SQL expressions as the
    constraint was created with, e.g. ``"kind in ('a', 'b')"``)."""
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE {_quoted(table)} DROP CONSTRAINT {_quoted(name)}")
        bind.exec_driver_sql(
            f"ALTER TABLE {_quoted(table)} ADD CONSTRAINT {_quoted(name)} CHECK ({after})"
        )
        return
    if bind.dialect.name != "sqlite":
        raise NotImplementedError(f"replace_check on {bind.dialect.name}")
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    wanted = f"CONSTRAINT {name} CHECK ({before})"
    if sql.count(wanted) != 1:
        raise ConstraintNotAsExpected(f"{table}: constraint {name} is not {before!r}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
            (sql.replace(wanted, f"CONSTRAINT {name} CHECK ({after})"), table),
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
