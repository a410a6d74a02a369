"""Executing the float's write statements safely on both databases.

PostgreSQL: a float row is locked by the UPDATE that changes it and stays locked until the
caller's transaction ends; nothing here reads a balance and then writes it.

SQLite has one writer at a time. The gateway's engine waits for the write lock (busy_timeout,
WAL; and, where the engine begins transactions with BEGIN IMMEDIATE, at the start of the
transaction). Still, a writer can be told "database is locked" at once, for example when SQLite
decides that waiting could deadlock a deferred transaction that wants to upgrade from reading to
writing. The statement that failed that way changed nothing and the transaction is still usable,
so :func:`execute_write` retries exactly that error, a bounded number of times with a short
randomised backoff. The debit cannot issue BEGIN IMMEDIATE itself: it runs inside the caller's
transaction, which has already begun.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

__all__ = ["execute_write"]

_SQLITE_RETRIES = 50


def _is_sqlite_locked(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


def execute_write(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[*tuple[Any, ...]]:
    """Run one write statement; on SQLite retry "database is locked" (nothing was written)."""
    attempt = 0
    while True:
        try:
            result = session.execute(statement, params)
            return result  # type: ignore[return-value]  # Session types it as Result
        except OperationalError as exc:
            attempt += 1
            if (
                session.get_bind().dialect.name != "sqlite"
                or not _is_sqlite_locked(exc)
                or attempt > _SQLITE_RETRIES
            ):
                raise
            time.sleep(min(0.002 * attempt, 0.05) * (1 + random.random()))
