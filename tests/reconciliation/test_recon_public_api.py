"""The package's public API is what __init__ exports, and the shipped example files are what the
README says they are."""

from __future__ import annotations

from pathlib import Path

import reconciliation
from reconciliation.report_file import ReportReader, identify

EXAMPLES = Path(reconciliation.__file__).parent / "examples"


def test_the_exported_names_are_pinned() -> None:
    assert sorted(reconciliation.__all__) == sorted(
        [
            "CATEGORIES",
            "AlreadyReconciled",
            "BreakCategory",
            "BreakNotOpen",
            "Calendar",
            "Folders",
            "InvalidInput",
            "InvalidPeriod",
            "LineProblem",
            "MalformedReport",
            "MonthlyReport",
            "NightlyResult",
            "OpenBreak",
            "Period",
            "PeriodError",
            "PeriodNotOver",
            "ReconciliationError",
            "ReportFileError",
            "ReportNameError",
            "ReportSource",
            "RunOutcome",
            "UnknownBreak",
            "UnknownVendor",
            "UnreadableReport",
            "VendorMonth",
            "Window",
            "calendar_of",
            "identify",
            "monthly_report",
            "open_breaks",
            "parse_period",
            "reconcile",
            "resolve",
            "run_nightly",
        ]
    )
    for name in reconciliation.__all__:
        assert getattr(reconciliation, name) is not None


def test_every_error_is_a_reconciliation_error() -> None:
    errors = [
        getattr(reconciliation, n)
        for n in reconciliation.__all__
        if isinstance(getattr(reconciliation, n), type)
        and issubclass(getattr(reconciliation, n), Exception)
    ]
    assert len(errors) == 13
    assert all(issubclass(e, reconciliation.ReconciliationError) for e in errors)
    assert len({e.code for e in errors}) == len(errors)


def test_the_example_reports_read_cleanly() -> None:
    for name, kind, lines in (
        ("6004000000019_20261120.csv", "daily", 4),
        ("6004000000019_202611.csv", "monthly", 5),
    ):
        reader = ReportReader(identify(EXAMPLES / name))
        assert len(list(reader)) == lines and reader.problem_count == 0
        assert reader.source.period.kind == kind


def test_the_refused_example_fails_as_documented() -> None:
    reader = ReportReader(identify(EXAMPLES / "refused" / "6004000000019_20261119.csv"))
    list(reader)
    assert [(p.line, p.field) for p in reader.problems] == [
        (3, "msg_id"),
        (3, "amount"),
        (3, "vended_at"),
        (4, "client_id"),
        (4, "meter_number"),
        (4, "status"),
        (5, ""),
        (6, ""),
    ]
    readme = (Path(reconciliation.__file__).parent / "README.md").read_text()
    for problem in reader.problems:
        assert str(problem) in readme, str(problem)
