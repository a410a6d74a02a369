"""The staging table: a vendor report's lines loaded into the database, so matching is SQL.

Comparing a million lines one by one in Python would hold the file in memory and make a million
round trips; loaded into a table they are matched with a few set-based statements. The table is
TEMPORARY (per connection, not logged, gone with the transaction on PostgreSQL), so two runs never
see each other's lines and a refused file leaves nothing behind.

Loading is the fastest way each database offers: PostgreSQL ``COPY ... FROM STDIN`` fed straight
from the file reader through psycopg2's ``copy_expert`` on the session's own connection (so it is
part of the run's transaction), SQLite batched ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from reconciliation.report_file import ReportLine

__all__ = ["STAGE", "create", "drop", "drop_temporary", "load", "mark_duplicates"]

_metadata = MetaData()

STAGE = Table(
    "recon_stage_line",
    _metadata,
    Column("line_no", BigInteger, primary_key=True),
    Column("client_id", String(13), nullable=False),
    Column("terminal_id", String(40), nullable=False),
    Column("msg_id", String(40), nullable=False),
    Column("msg_date_time", String(14), nullable=False),
    Column("msg_unique_number", BigInteger, nullable=False),
    Column("receipt_no", String(20), nullable=False),
    Column("meter_number", String(13), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("vended_at", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    # 0 for the first line with its msg_id, n for the n-th copy after it.
    Column("occurrence", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
# Built after the load (cheaper than maintaining it row by row): the anti-joins use it.
_INDEX = "CREATE INDEX ix_recon_stage_line_msg_id ON recon_stage_line (msg_id)"

_COPY = (
    "COPY recon_stage_line (line_no, client_id, terminal_id, msg_id, msg_date_time, "
    "msg_unique_number, receipt_no, meter_number, amount_cents, vended_at, status, "
    "occurrence) FROM STDIN"
)
_BATCH = 5000
_COPY_CHUNK = 1 << 16


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def drop_temporary(session: Session, name: str) -> None:
    """Drop this connection's temporary table ``name`` if it has one. Schema-qualified, so a
    permanent table of the same name could never be the one dropped."""
    schema = "pg_temp" if _is_postgres(session) else "temp"
    session.execute(text(f"DROP TABLE IF EXISTS {schema}.{name}"))


def drop(session: Session) -> None:
    drop_temporary(session, "recon_stage_line")


def create(session: Session) -> None:
    """An empty staging table on the session's connection (any leftover of the connection's
    previous run is dropped first: SQLite keeps temporary tables until the connection closes)."""
    drop(session)
    STAGE.create(session.connection())


def _escape(value: str) -> str:
    # COPY text format: only these need escaping, and the reader refuses control characters.
    return value.replace("\\", "\\\\")


class _CopyStream:
    """A read()-able view of the COPY rows, produced as psycopg2 asks for them.

    psycopg2 turns an exception raised in read() into a generic COPY error, so one from the
    reader (an unreadable file) is kept, the COPY is ended, and ``load`` raises it as it was.
    """

    def __init__(self, rows: Iterator[str]) -> None:
        self._rows = rows
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> str:
        limit = size if size and size > 0 else _COPY_CHUNK
        parts: list[str] = []
        length = 0
        try:
            for row in self._rows:
                parts.append(row)
                length += len(row)
                if length >= limit:
                    break
        except Exception as exc:
            self.error = exc
            return ""
        return "".join(parts)

    readline = read


def _copy_rows(lines: Iterable[ReportLine]) -> Iterator[str]:
    for ln in lines:
        yield (
            f"{ln.line_no}\t{ln.client_id}\t{_escape(ln.terminal_id)}\t{ln.msg_id}\t"
            f"{ln.msg_date_time}\t{ln.msg_unique_number}\t{ln.receipt_no}\t"
            f"{ln.meter_number}\t{ln.amount_cents}\t{ln.vended_at_text}\t"
            f"{ln.status}\t0\n"
        )


def _row(ln: ReportLine) -> dict[str, Any]:
    return {
        "line_no": ln.line_no,
        "client_id": ln.client_id,
        "terminal_id": ln.terminal_id,
        "msg_id": ln.msg_id,
        "msg_date_time": ln.msg_date_time,
        "msg_unique_number": ln.msg_unique_number,
        "receipt_no": ln.receipt_no,
        "meter_number": ln.meter_number,
        "amount_cents": ln.amount_cents,
        "vended_at": ln.vended_at,
        "status": ln.status,
        "occurrence": 0,
    }


def load(session: Session, lines: Iterable[ReportLine]) -> None:
    """Stream the lines into the staging table, then index and analyse it for the matching."""
    if _is_postgres(session):
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        stream = _CopyStream(_copy_rows(lines))
        cursor = raw.cursor()
        try:
            cursor.copy_expert(_COPY, stream, size=_COPY_CHUNK)
        finally:
            cursor.close()
        if stream.error is not None:
            raise stream.error
    else:
        it = iter(lines)
        while batch := list(islice(it, _BATCH)):
            session.execute(STAGE.insert(), [_row(ln) for ln in batch])
    session.execute(text(_INDEX))
    # Autovacuum never analyses temporary tables; without statistics the planner would guess
    # a few hundred rows and pick nested loops over a million.
    session.execute(text("ANALYZE recon_stage_line"))


def mark_duplicates(session: Session) -> None:
    """Number the repeated copies of a msg_id (in line order) so only the first is matched."""
    repeated = select(STAGE.c.msg_id).group_by(STAGE.c.msg_id).having(func.count() > 1)
    ranked = (
        select(
            STAGE.c.line_no,
            func.row_number()
            .over(partition_by=STAGE.c.msg_id, order_by=STAGE.c.line_no)
            .label("rank"),
        )
        .where(STAGE.c.msg_id.in_(repeated))
        .subquery()
    )
    session.execute(
        update(STAGE)
        .values(occurrence=ranked.c.rank - 1)
        .where(STAGE.c.line_no == ranked.c.line_no, ranked.c.rank > 1)
    )
