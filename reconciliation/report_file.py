"""Vendor report files: which vendor and period a file is, and its lines read, checked and
normalised one at a time.

The file is streamed, never held whole: a monthly report of a big vendor has millions of lines.
Each line is checked completely (a validator returns every problem of the line, not the first)
and the reader keeps going to the end, so a refused file comes back with every bad line and its
number; the caller stores nothing unless ``problem_count`` is 0 at the end.

Normalising happens here, once: amounts become integer cents, ``vended_at`` an aware UTC
instant, msg_id is split into the request's 14-digit dateTime and uniqueNumber (the gateway's
idempotency key). The format is documented in reconciliation/README.md.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from core.money import AmountError, parse_cents
from reconciliation.exceptions import LineProblem, ReportNameError, UnreadableReport
from reconciliation.periods import Period, parse_period

__all__ = [
    "COLUMNS",
    "HEADER",
    "MAX_PROBLEMS",
    "ReportLine",
    "ReportReader",
    "ReportSource",
    "fast_line",
    "identify",
    "parse_line",
]

COLUMNS = (
    "client_id",
    "terminal_id",
    "msg_id",
    "receipt_no",
    "meter_number",
    "amount",
    "vended_at",
    "status",
)
HEADER = ",".join(COLUMNS)
STATUSES = ("SUCCESS", "REVERSED")
# Every bad line is counted; the first MAX_PROBLEMS are kept with their reasons, so a file that
# is wrong throughout cannot exhaust memory.
MAX_PROBLEMS = 1000

_NAME = re.compile(r"(?P<client>\d{13})_(?P<period>\d{8}|\d{6})\.csv", re.IGNORECASE)
_CLIENT = re.compile(r"\d{13}")
_MSG_ID = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([1-9]\d{0,17})")
_METER = re.compile(r"\d{11}|\d{13}")
_AMOUNT = re.compile(r"\d{1,12}\.\d{2}")
_RECEIPT = re.compile(r"[0-9A-Za-z-]{0,20}")
_TERMINAL = re.compile(r"[^\x00-\x1f\x7f]{1,40}")


@dataclass(frozen=True)
class ReportSource:
    """A report file and whose and which period it is (from its name or the operator)."""

    path: Path
    client_id: str
    period: Period


def identify(path: Path, client_id: str | None = None, period: str | None = None) -> ReportSource:
    """Vendor and period from ``<clientID>_<YYYYMMDD|YYYYMM>.csv``; options override the name."""
    match = _NAME.fullmatch(path.name)
    if (client_id is None or period is None) and match is None:
        raise ReportNameError(path=path)
    client = client_id if client_id is not None else match["client"]  # type: ignore[index]
    text = period if period is not None else match["period"]  # type: ignore[index]
    return ReportSource(path, client, parse_period(text))


class ReportLine(NamedTuple):
    """One sale as the vendor reports it, normalised. (A NamedTuple, not a frozen dataclass: a
    million of them are built per big report and a tuple is several times cheaper to make.)"""

    line_no: int
    client_id: str
    terminal_id: str
    msg_id: str
    msg_date_time: str
    msg_unique_number: int
    receipt_no: str
    meter_number: str
    amount_cents: int
    vended_at: datetime  # aware, in the offset the vendor wrote
    vended_at_text: str  # the same instant as RFC 3339 text, which PostgreSQL's COPY reads
    status: str  # SUCCESS or REVERSED


def _split(text: str) -> list[str]:
    # Plain lines (all of a well-formed report) split fast; quoted fields go through csv.
    if '"' in text:
        return next(csv.reader([text]))
    return text.split(",")


@lru_cache(maxsize=4096)
def _valid_date(yyyymmdd: str) -> bool:
    try:
        date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return True


def _valid_stamp(stamp: str) -> bool:
    """A 14-digit yyyyMMddHHmmss wall time (only its validity matters here)."""
    return (
        _valid_date(stamp[:8])
        and int(stamp[8:10]) < 24
        and int(stamp[10:12]) < 60
        and int(stamp[12:14]) < 60
    )


def _msg_parts(value: str) -> tuple[str, int] | None:
    m = _MSG_ID.fullmatch(value)
    if m is None or not _valid_stamp(value[:14]):
        return None
    return value[:14], int(m[7])


# A well-formed line in one match; anything else takes the field-by-field path that says why.
_FAST = re.compile(
    r'(\d{13}),([^,"\x00-\x1f\x7f]{1,40}),((\d{14})([1-9]\d{0,17})),([0-9A-Za-z-]{0,20}),'
    r"(\d{11}|\d{13}),(\d{1,12})\.(\d{2}),"
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})),"
    r"(SUCCESS|REVERSED)"
)


def fast_line(line_no: int, text: str, client_id: str) -> ReportLine | None:
    """The line when it is plainly well-formed, else None (then ``parse_line`` decides)."""
    m = _FAST.fullmatch(text)
    if m is None or m[1] != client_id or not _valid_stamp(m[4]):
        return None
    terminal = m[2]
    cents = int(m[8]) * 100 + int(m[9])
    if cents == 0 or terminal != terminal.strip():
        return None
    try:
        when = datetime.fromisoformat(m[10])
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    # The text is RFC 3339 (the pattern says so), which COPY reads as it is: no reformatting.
    return ReportLine(
        line_no, client_id, terminal, m[3], m[4], int(m[5]), m[6], m[7], cents, when, m[10], m[11]
    )


def parse_line(
    line_no: int, fields: list[str], client_id: str
) -> tuple[ReportLine | None, list[LineProblem]]:
    """One data line: the normalised line, or None and every problem found in it."""
    problems: list[LineProblem] = []

    def bad(field: str, reason: str) -> None:
        problems.append(LineProblem(line_no, field, reason))

    if len(fields) != len(COLUMNS):
        bad("", f"{len(COLUMNS)} fields expected, found {len(fields)}")
        return None, problems
    client, terminal, msg_id, receipt, meter, amount, vended_at, status = fields
    if not _CLIENT.fullmatch(client):
        bad("client_id", f"{client!r} is not a 13-digit clientID")
    elif client != client_id:
        bad("client_id", f"{client} is not this report's vendor {client_id}")
    if not _TERMINAL.fullmatch(terminal) or terminal != terminal.strip():
        bad("terminal_id", f"{terminal!r} is not 1-40 printable characters")
    parts = _msg_parts(msg_id)
    if parts is None:
        bad(
            "msg_id",
            f"{msg_id!r} is not a 14-digit dateTime followed by a uniqueNumber "
            "(plain decimal, no leading zero)",
        )
    if not _RECEIPT.fullmatch(receipt):
        bad("receipt_no", f"{receipt!r} is not up to 20 letters, digits or dashes")
    if not _METER.fullmatch(meter):
        bad("meter_number", f"{meter!r} is not an 11 or 13 digit meter number")
    cents = 0
    if not _AMOUNT.fullmatch(amount):
        bad("amount", f"{amount!r} is not a decimal amount with 2 places")
    else:
        try:
            cents = parse_cents(amount, allow_zero=False)
        except AmountError as exc:
            bad("amount", exc.reason)
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(vended_at)
    except ValueError:
        bad("vended_at", f"{vended_at!r} is not an ISO 8601 date and time")
    else:
        if when.tzinfo is None:
            bad("vended_at", f"{vended_at!r} has no UTC offset")
    if status not in STATUSES:
        bad("status", f"{status!r} is not SUCCESS or REVERSED")
    if problems or parts is None or when is None:
        return None, problems
    return ReportLine(
        line_no,
        client,
        terminal,
        msg_id,
        parts[0],
        parts[1],
        receipt,
        meter,
        cents,
        when,
        when.isoformat(),
        status,
    ), problems


class ReportReader:
    """Streams a report's valid lines; after iterating, ``problems`` says whether to keep them.

    ``progress`` is called with the bytes read since its last call (for a progress bar).
    """

    def __init__(
        self, source: ReportSource, progress: Callable[[int], object] | None = None
    ) -> None:
        self.source = source
        self.problems: list[LineProblem] = []
        self.problem_count = 0
        self.line_count = 0  # data lines, the header not counted
        self.sha256 = ""
        self._progress = progress

    def _problem(self, problem: LineProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def size(self) -> int:
        try:
            return self.source.path.stat().st_size
        except OSError as exc:
            raise UnreadableReport(path=self.source.path, reason=exc.strerror or str(exc)) from exc

    def __iter__(self) -> Iterator[ReportLine]:
        path = self.source.path
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise UnreadableReport(path=path, reason=exc.strerror or str(exc)) from exc
        digest = hashlib.sha256()
        pending = 0
        read_any = False
        with fh:
            try:
                for line_no, raw in enumerate(fh, start=1):
                    read_any = True
                    digest.update(raw)
                    pending += len(raw)
                    if pending >= 1 << 20 and self._progress is not None:
                        self._progress(pending)
                        pending = 0
                    line = self._line(line_no, raw)
                    if line is not None:
                        yield line
            except OSError as exc:
                raise UnreadableReport(path=path, reason=exc.strerror or str(exc)) from exc
        if self._progress is not None and pending:
            self._progress(pending)
        if not read_any:
            self._problem(LineProblem(1, "", "the file is empty: the header line is missing"))
        self.sha256 = digest.hexdigest()

    def _line(self, line_no: int, raw: bytes) -> ReportLine | None:
        try:
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            self._problem(LineProblem(line_no, "", "not UTF-8 text"))
            if line_no > 1:
                self.line_count += 1
            return None
        text = text.rstrip("\r\n")
        if line_no == 1:
            if text.strip().lower() != HEADER:
                self._problem(LineProblem(1, "", f"the header must be {HEADER}"))
            return None
        self.line_count += 1
        if not text.strip():
            self._problem(LineProblem(line_no, "", "blank line"))
            return None
        fast = fast_line(line_no, text, self.source.client_id)
        if fast is not None:
            return fast
        line, problems = parse_line(line_no, _split(text), self.source.client_id)
        for problem in problems:
            self._problem(problem)
        return line
