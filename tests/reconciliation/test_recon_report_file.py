"""The vendor report format: names, the header, every kind of bad line refused with its line
number (all of them, not the first), and a refused file stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from core.models import AuditEvent
from reconciliation import runs
from reconciliation.cli import reconcile
from reconciliation.exceptions import MalformedReport, ReportNameError, UnreadableReport
from reconciliation.models import ReconBreak, ReconRun
from reconciliation.periods import Period
from reconciliation.report_file import HEADER, ReportReader, ReportSource, identify
from tests.support.reconciliation import BANK, SHOP, Utility, local

GOOD = (
    f"{BANK},ATM-0001,2026112009300042,000000000001,01234567897,100.00,"
    "2026-11-20T09:30:00+02:00,SUCCESS"
)


def read(
    tmp_path: Path, body: bytes, name: str = f"{BANK}_20261120.csv"
) -> tuple[list[object], ReportReader]:
    path = tmp_path / name
    path.write_bytes(body)
    reader = ReportReader(identify(path))
    return list(reader), reader


def test_names_give_vendor_and_period_and_options_override_them(tmp_path: Path) -> None:
    daily = identify(tmp_path / f"{BANK}_20261120.csv")
    assert (daily.client_id, daily.period) == (BANK, Period.day(daily.period.first))
    assert daily.period.label == "2026-11-20"
    monthly = identify(tmp_path / f"{BANK}_202611.csv")
    assert (monthly.period.kind, monthly.period.label) == ("monthly", "2026-11")
    other = identify(tmp_path / "bank-export.csv", BANK, "2026-11-19")
    assert other.period.label == "2026-11-19"
    with pytest.raises(ReportNameError):
        identify(tmp_path / "bank-export.csv")


def test_a_good_line_is_normalised(tmp_path: Path) -> None:
    [line], reader = read(tmp_path, f"{HEADER}\n{GOOD}\n".encode())
    assert reader.problem_count == 0 and reader.line_count == 1
    assert line.msg_id == "2026112009300042"  # type: ignore[attr-defined]
    assert (line.msg_date_time, line.msg_unique_number) == (  # type: ignore[attr-defined]
        "20261120093000",
        42,
    )
    assert line.amount_cents == 10000  # type: ignore[attr-defined]
    assert line.vended_at == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)  # type: ignore[attr-defined]


def test_quoted_fields_and_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    quoted = GOOD.replace("ATM-0001", '"ATM, lobby"')
    lines, reader = read(tmp_path, f"\ufeff{HEADER}\r\n{quoted}\r\n".encode())
    assert reader.problem_count == 0
    assert lines[0].terminal_id == "ATM, lobby"  # type: ignore[attr-defined]


BAD_LINES = [
    # (line text, the fields it must be refused for)
    (GOOD.replace(",SUCCESS", ""), {""}),  # 7 fields
    (GOOD.replace(BANK, "600400000001"), {"client_id"}),
    (GOOD.replace(BANK, SHOP), {"client_id"}),  # another vendor's line
    (GOOD.replace("ATM-0001", ""), {"terminal_id"}),
    (GOOD.replace("2026112009300042", "202611200930"), {"msg_id"}),  # too short
    (GOOD.replace("2026112009300042", "20261120093000042"), {"msg_id"}),  # leading zero
    (GOOD.replace("2026112009300042", "2026133109300042"), {"msg_id"}),  # no 31st of month 13
    (GOOD.replace("000000000001", "R" * 21), {"receipt_no"}),
    (GOOD.replace("01234567897", "0123456789"), {"meter_number"}),
    (GOOD.replace("100.00", "100.5"), {"amount"}),
    (GOOD.replace("100.00", "-5.00"), {"amount"}),
    (GOOD.replace("100.00", "0.00"), {"amount"}),
    (GOOD.replace("100.00", "1e3"), {"amount"}),
    (GOOD.replace("2026-11-20T09:30:00+02:00", "2026-11-20T09:30:00"), {"vended_at"}),
    (GOOD.replace("2026-11-20T09:30:00+02:00", "yesterday"), {"vended_at"}),
    (GOOD.replace("SUCCESS", "OK"), {"status"}),
    ("", {""}),  # blank line
    (
        GOOD.replace(BANK, "x").replace("100.00", "1").replace("SUCCESS", "done"),
        {"client_id", "amount", "status"},
    ),  # every problem of a line, not the first
]


def test_every_bad_line_is_refused_with_its_number_and_every_reason(tmp_path: Path) -> None:
    body = "\n".join([HEADER, GOOD, *(text for text, _ in BAD_LINES), GOOD]).encode()
    body += b"\n" + GOOD.encode().replace(b"ATM-0001", b"ATM-\xff") + b"\n"
    lines, reader = read(tmp_path, body)
    assert len(lines) == 2  # the good ones still stream; the caller decides on problems
    by_line: dict[int, set[str]] = {}
    for p in reader.problems:
        by_line.setdefault(p.line, set()).add(p.field)
    expected = {n: fields for n, (_, fields) in enumerate(BAD_LINES, start=3)}
    expected[len(BAD_LINES) + 4] = {""}  # not UTF-8
    assert by_line == expected
    assert reader.problem_count == len(reader.problems) == sum(map(len, expected.values()))
    assert reader.line_count == len(BAD_LINES) + 3


def test_a_wrong_header_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    _, reader = read(tmp_path, f"client,terminal\n{GOOD}\n".encode())
    assert [(p.line, "header" in p.reason) for p in reader.problems] == [(1, True)]
    _, empty = read(tmp_path, b"", name=f"{BANK}_20261121.csv")
    assert [p.line for p in empty.problems] == [1]


def test_a_file_that_cannot_be_opened_is_unreadable(tmp_path: Path) -> None:
    link = tmp_path / f"{BANK}_20261120.csv"
    link.symlink_to(tmp_path / "gone.csv")
    with pytest.raises(UnreadableReport):
        list(ReportReader(ReportSource(link, BANK, identify(link).period)))


def test_a_malformed_file_changes_nothing(utility: Utility, tmp_path: Path) -> None:
    path = tmp_path / f"{BANK}_20261020.csv"  # a day long over, so the CLI may take it
    path.write_text("\n".join([HEADER, GOOD, BAD_LINES[1][0], GOOD, BAD_LINES[9][0]]) + "\n")
    with pytest.raises(MalformedReport) as refused:
        runs.reconcile(
            utility.db.runtime,
            identify(path),
            actor="test",
            now=local(2026, 10, 21, 2, 0),
            progress=False,
        )
    assert [p.line for p in refused.value.problems] == [3, 5]
    result = CliRunner().invoke(reconcile, ["file", str(path)], obj=utility.db.runtime)
    assert result.exit_code == 1
    assert "line 3, client_id" in result.output and "line 5, amount" in result.output
    with utility.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReconRun)) == 0
        assert session.scalar(select(func.count()).select_from(ReconBreak)) == 0
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action.like("recon.%"))
            )
            == 0
        )
