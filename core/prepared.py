"""The vend path's statements, planned once per PostgreSQL connection.

psycopg2 sends every statement as text, and PostgreSQL parses and plans it each time: for the
meter lookup and the float debit, planning cost more than running them (0.18 and 0.15 ms, by
EXPLAIN SUMMARY). A `PreparedStatement` compiles a Core statement once, and on PostgreSQL sends
`PREPARE` the first time a pooled connection runs it and `EXECUTE` from then on, so the server
keeps the plan. It runs through SQLAlchemy's connection (`exec_driver_sql`), so errors are
wrapped as usual (an IntegrityError stays one) and a lost connection still invalidates the pool.
On SQLite it simply runs the Core statement.

Where PostgreSQL and SQLite need different statements (or a different number of them) on the
vend path, the two variants are a `PerDialect` pair and the connection picks one: `dialect_name`
is the one place the vend path asks which database it runs on, so its functions just execute.

Prepared statements live as long as their connection, which the pool replaces after a failure
(they survive a rolled-back transaction). Two consequences for operators: a pooler in transaction
mode (PgBouncer) would break them, so the gateway talks to PostgreSQL directly or through a
session-mode pooler; and a migration that changes the type of a column these statements return
needs the gateway restarted after it (PostgreSQL refuses a prepared statement whose result type
changed), which a deployment does anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ClauseElement, Connection, CursorResult, Dialect, Executable
from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType, TypeEngine

T = TypeVar("T")


def dialect_name(db: Session | Connection) -> str:
    """The database `db` talks to: "postgresql" or "sqlite"."""
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name


@dataclass(frozen=True)
class PerDialect(Generic[T]):
    """The PostgreSQL and the SQLite variant of one thing (a statement, a writer function);
    calling it with a session or connection gives the variant for its database."""

    postgresql: T
    sqlite: T

    def __call__(self, db: Session | Connection) -> T:
        return self.postgresql if dialect_name(db) == "postgresql" else self.sqlite


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_INFO_KEY = "vendgw.prepared"

# Every PreparedStatement by name. A name is what PostgreSQL knows the statement by on each
# connection, so two statements with one name would run each other's plan: refused here. The
# golden SQL test (tests/gateway/test_vend_sql.py) also checks that each has its golden text.
REGISTRY: dict[str, PreparedStatement] = {}


class PreparedStatement:
    def __init__(
        self, name: str, statement: Executable, *, sqlite: Executable | None = None
    ) -> None:
        """`sqlite`: the statement SQLite runs instead (its own upsert syntax, say); by
        default the same Core statement."""
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"{name}: not a SQL statement")
        dialect = pg_psycopg2.dialect()  # type: ignore[no-untyped-call]
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        text = compiled.string
        if "%%" in text:  # a literal percent would need unescaping in PREPARE; none here
            raise ValueError(f"{name}: literal % in a prepared statement")
        order: list[str] = []
        for found in _PLACEHOLDER.finditer(text):
            if found.group(1) not in order:
                order.append(found.group(1))
        numbered = _PLACEHOLDER.sub(lambda m: f"${order.index(m.group(1)) + 1}", text)
        # Each parameter's type, so that PostgreSQL need not infer it (it cannot for unnest).
        types = ", ".join(_sql_type(compiled.binds[p].type, dialect) for p in order)
        if name in REGISTRY:
            raise ValueError(f"{name}: a prepared statement of that name exists already")
        self.name = name
        self.statement = statement
        self.sqlite_statement = statement if sqlite is None else sqlite
        self._prepare = f"PREPARE {name} ({types}) AS {numbered}"
        self._execute = f"EXECUTE {name}({', '.join(f'%({p})s' for p in order)})"
        # Values fixed in the statement (a LIMIT, a literal) and each type's bind processing.
        self._defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self._processors: dict[str, Callable[[Any], Any]] = {
            key: process for key, process in compiled._bind_processors.items() if callable(process)
        }
        REGISTRY[name] = self

    @property
    def sql(self) -> str:
        """The `PREPARE` PostgreSQL receives: the statement as the server plans it."""
        return self._prepare

    def execute(
        self, db: Session | Connection, params: Mapping[str, Any]
    ) -> CursorResult[*tuple[Any, ...]]:
        conn = db.connection() if isinstance(db, Session) else db
        if dialect_name(conn) != "postgresql":
            return conn.execute(self.sqlite_statement, params)
        prepared = conn.connection.info.setdefault(_INFO_KEY, set())
        if self.name not in prepared:
            conn.exec_driver_sql(self._prepare)
            prepared.add(self.name)
        values = {**self._defaults, **params}
        for key, process in self._processors.items():
            if key in values:
                values[key] = process(values[key])
        return conn.exec_driver_sql(self._execute, values)


def _sql_type(type_: TypeEngine[Any], dialect: Dialect) -> str:
    if isinstance(type_, NullType):
        return "unknown"  # a value fixed in the statement: PostgreSQL infers it from its use
    # Without a length: a parameter typed VARCHAR(7) would cut a longer value to fit.
    return re.sub(r"\(\d+\)", "", type_.compile(dialect=dialect))
