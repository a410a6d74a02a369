"""Every refusal of the reconciliation package, as one tree with the details kept as attributes.

The command line prints ``message``; the nightly job and the tests branch on the class or on the
stable ``code`` and read the details (line problems, the run that already exists) from
attributes, never from the text::

    ReconciliationError                 code
     ├── ReportFileError                path
     │    ├── UnreadableReport          reason            (the file could not be opened or read)
     │    ├── ReportNameError           name              (no vendor/period in the name)
     │    └── MalformedReport           problems, problem_count  (line-numbered, all of them)
     ├── PeriodError                    period
     │    ├── InvalidPeriod             text
     │    └── PeriodNotOver             ends_at           (results would still change)
     ├── UnknownVendor                  client_id
     ├── AlreadyReconciled              client_id, period, run_id   (re-import without replace)
     ├── UnknownBreak                   break_id
     ├── BreakNotOpen                   break_id, status
     └── InvalidInput                   field, value      (a bad option value)

Database and library errors are not translated here: anything else that escapes is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

__all__ = [
    "AlreadyReconciled",
    "BreakNotOpen",
    "InvalidInput",
    "InvalidPeriod",
    "LineProblem",
    "MalformedReport",
    "PeriodError",
    "PeriodNotOver",
    "ReconciliationError",
    "ReportFileError",
    "ReportNameError",
    "UnknownBreak",
    "UnknownVendor",
    "UnreadableReport",
]


class ReconciliationError(Exception):
    """Root of the package's errors; ``code`` is stable, the message is for people."""

    code: ClassVar[str] = "reconciliation"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LineProblem:
    """One reason one line of a vendor report is refused (line 1 is the header)."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.reason}"


class ReportFileError(ReconciliationError):
    code = "report-file"

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class UnreadableReport(ReportFileError):
    code = "unreadable-report"

    def __init__(self, *, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: cannot be read ({reason})", path=path)
        self.reason = reason


class ReportNameError(ReportFileError):
    code = "report-name"

    def __init__(self, *, path: Path) -> None:
        super().__init__(
            f"{path.name}: the name is not <clientID>_<YYYYMMDD>.csv or <clientID>_<YYYYMM>.csv;"
            " give --vendor and --period",
            path=path,
        )
        self.name = path.name


class MalformedReport(ReportFileError):
    """The file was refused as a whole; ``problems`` lists every bad line (up to a limit)."""

    code = "malformed-report"

    def __init__(self, *, path: Path, problems: Sequence[LineProblem], problem_count: int) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        more = problem_count - len(problems)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{path.name}: refused, {problem_count} problem(s), nothing stored:\n{lines}{tail}",
            path=path,
        )
        self.problems = tuple(problems)
        self.problem_count = problem_count


class PeriodError(ReconciliationError):
    code = "period"

    def __init__(self, message: str, *, period: str) -> None:
        super().__init__(message)
        self.period = period


class InvalidPeriod(PeriodError):
    code = "invalid-period"

    def __init__(self, text: str) -> None:
        super().__init__(
            f"{text!r} is not a period (YYYYMMDD, YYYY-MM-DD, YYYYMM or YYYY-MM)", period=text
        )
        self.text = text


class PeriodNotOver(PeriodError):
    code = "period-not-over"

    def __init__(self, *, period: str, ends_at: datetime) -> None:
        super().__init__(
            f"period {period} is not over until {ends_at.isoformat()}; "
            "reconciling it now would give a result that still changes",
            period=period,
        )
        self.ends_at = ends_at


class UnknownVendor(ReconciliationError):
    code = "unknown-vendor"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"no vendor with clientID {client_id}")
        self.client_id = client_id


class AlreadyReconciled(ReconciliationError):
    code = "already-reconciled"

    def __init__(self, *, client_id: str, period: str, run_id: int) -> None:
        super().__init__(
            f"vendor {client_id} period {period} was already reconciled (run "
            f"{run_id}); use --replace to reconcile it again (audited)"
        )
        self.client_id = client_id
        self.period = period
        self.run_id = run_id


class UnknownBreak(ReconciliationError):
    code = "unknown-break"

    def __init__(self, break_id: int) -> None:
        super().__init__(f"no break {break_id}")
        self.break_id = break_id


class BreakNotOpen(ReconciliationError):
    code = "break-not-open"

    def __init__(self, *, break_id: int, status: str) -> None:
        super().__init__(f"break {break_id} is {status}, not open")
        self.break_id = break_id
        self.status = status


class InvalidInput(ReconciliationError):
    code = "invalid-input"

    def __init__(self, message: str, *, field: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
