"""The restore drill: a backup is only a backup once it has been restored and found whole.

`verify_backup` restores a backup into a scratch database, runs every invariant check the project
has against it, reports, and drops the scratch database again:

    schema       the restored schema is what the models and migrations say (alembic check)
    ledger       every journal entry balances, every float equals its postings, no float below its
                 floor (vendor_accounts.ledger.check_invariants, what `vendgw float verify` runs)
    meter months every meter month's figures equal the sums of its vends not reversed
    vend tokens  every stored vend has its tokens                         (vendgw.invariants)

Backups it reads: pg_dump's custom (-Fc, the recommended one), directory (-Fd) and tar (-Ft)
formats through pg_restore, plain SQL (-Fp) through psql, and a SQLite database file (a copy of
the embedded database, e.g. from `sqlite3 var/vendgw.sqlite3 ".backup FILE"`). PostgreSQL backups
are restored on the configured server (or --server), which needs the right to CREATE DATABASE;
the password, if any, reaches the tools in PGPASSWORD, never on their command line.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from sqlalchemy import URL, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from core.db import make_engine, make_session_factory
from gateway.vend.models import VendTransaction
from gateway.vouchers.invariants import check_vouchers
from vendgw import invariants, migrate
from vendor_accounts.ledger import check_invariants
from vendor_accounts.models import JournalEntry

SQLITE_MAGIC = b"SQLite format 3\x00"
FORMATS = {
    "custom": "PostgreSQL custom format (pg_dump -Fc)",
    "directory": "PostgreSQL directory format (pg_dump -Fd)",
    "tar": "PostgreSQL tar format (pg_dump -Ft)",
    "plain": "plain SQL (pg_dump -Fp)",
    "sqlite": "SQLite database file",
}


class RestoreFailed(Exception):
    """The backup could not be restored at all (unreadable, truncated, wrong tools)."""


@dataclass
class Check:
    name: str
    problems: list[str]
    summary: str


@dataclass
class Report:
    backup: Path
    fmt: str
    lines: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    restore_error: str | None = None
    cleanup: str = ""

    @property
    def problems(self) -> int:
        return sum(len(c.problems) for c in self.checks) + (1 if self.restore_error else 0)

    @property
    def ok(self) -> bool:
        return self.restore_error is None and bool(self.checks) and self.problems == 0

    def render(self) -> str:
        out = [f"backup {self.backup} ({FORMATS.get(self.fmt, self.fmt)})", *self.lines]
        if self.restore_error:
            out.append(f"FAIL  restore: {self.restore_error}")
        for check in self.checks:
            if check.problems:
                out.append(f"FAIL  {check.name}: {len(check.problems)} problem(s)")
                out += [f"        {p}" for p in check.problems[:50]]
                if len(check.problems) > 50:
                    out.append(f"        ... and {len(check.problems) - 50} more")
            else:
                out.append(f"ok    {check.name}: {check.summary}")
        if self.cleanup:
            out.append(f"  {self.cleanup}")
        out.append(
            "backup verified: every check passed"
            if self.ok
            else f"backup FAILED verification: {self.problems} problem(s)"
        )
        return "\n".join(out)


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "toc.dat").is_file():
            return "directory"
        raise RestoreFailed(f"{path} is a directory without a pg_dump toc.dat")
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PGDMP"):
        return "custom"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return "plain"


def pg_tool(name: str, pg_bin: Path | None = None) -> str:
    """`name` from --pg-bin, else PATH, else the newest /usr/lib/postgresql/*/bin."""
    if pg_bin is not None:
        candidate = pg_bin / name
        if not candidate.is_file():
            raise RestoreFailed(f"{candidate} not found")
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1]
    raise RestoreFailed(f"{name} not found: install the PostgreSQL client tools or give --pg-bin")


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for `url` without its password, and the environment that
    carries the password."""
    parts = {
        "dbname": url.database or "",
        "user": url.username or "",
        "host": url.host or "",
        "port": str(url.port or ""),
    }
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    info = " ".join(f"{k}={_conninfo_value(v)}" for k, v in parts.items() if v)
    env = {"PGPASSWORD": url.password} if url.password else {}
    return info, env


@contextmanager
def scratch_database(server: URL) -> Iterator[URL]:
    """A new, empty database on `server`'s PostgreSQL, dropped afterwards whatever happens."""
    name = f"vendgw_verify_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _run(args: list[str], env: dict[str, str]) -> None:
    # An argument list, no shell; the tool is one we located, the file the operator named.
    done = subprocess.run(  # noqa: S603 - see the comment above
        args,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=6 * 3600,
        check=False,
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise RestoreFailed(
            f"{Path(args[0]).name} exited {done.returncode}: " + " | ".join(detail[-5:])
        )


def restore_postgres(path: Path, fmt: str, target: URL, pg_bin: Path | None) -> None:
    info, env = conninfo(target)
    if fmt == "plain":
        _run(
            [
                pg_tool("psql", pg_bin),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-d",
                info,
                "-f",
                str(path),
            ],
            env,
        )
    else:
        # No owners or grants: the scratch database belongs to whoever runs the drill.
        _run(
            [
                pg_tool("pg_restore", pg_bin),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                "-d",
                info,
                str(path),
            ],
            env,
        )


def run_checks(url: str) -> tuple[list[Check], list[str]]:
    """Every invariant check against the database at `url`, and a line of what it holds."""
    checks: list[Check] = []
    try:
        # migrate.check, with alembic's own verdict kept off stdout: the report says it.
        config = migrate.alembic_config(url)
        config.stdout = io.StringIO()
        command.check(config)
        checks.append(Check("schema", [], "matches the models and migrations (alembic check)"))
    except Exception as exc:  # a diff, an old revision, a missing table: all a failed check
        checks.append(Check("schema", [" ".join(str(exc).split())[:2000]], ""))

    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        with sessions() as session:
            try:
                entries = session.scalar(select(func.count(JournalEntry.id))) or 0
                vends, newest = session.execute(
                    select(func.count(VendTransaction.id), func.max(VendTransaction.created_at))
                ).one()
                held = [
                    f"  holds {vends} vend transactions (newest {newest or 'none'}), "
                    f"{entries} journal entries"
                ]
            except Exception:
                held, entries = ["  holds no readable vend or ledger tables"], 0
        checks += invariant_checks(sessions, entries)
    finally:
        engine.dispose()
    return checks, held


def invariant_checks(sessions: Callable[[], Session], entries: int) -> list[Check]:
    """The ledger's, the meter months' and the vend tokens' checks, each in a session of its
    own; one that cannot run (a table missing) is a failed check, not the end of the others.
    What the drill runs on a restored backup and `vendgw verify` on the live database."""
    checks: list[Check] = []

    def run(name: str, fn: Callable[[Session], Sequence[object]], summary: str) -> None:
        with sessions() as session:
            try:
                problems = [str(p) for p in fn(session)]
            except Exception as exc:  # e.g. the table is not there at all
                problems = [f"the check could not run: {' '.join(str(exc).split())[:500]}"]
        checks.append(Check(name, problems, summary))

    run(
        "ledger",
        check_invariants,
        f"{entries} journal entries balance and every float matches its postings",
    )
    run(
        "meter months",
        invariants.check_meter_months,
        "every month's figures equal the sums of its vends not reversed",
    )
    run("vend tokens", invariants.check_vend_tokens, "every stored vend has its tokens")
    run(
        "vouchers",
        check_vouchers,
        "the voucher liability equals the active vouchers; every redemption has its vend",
    )
    return checks


def verify_backup(path: Path, server_url: str, pg_bin: Path | None = None) -> Report:
    """Restore `path` into a scratch database, check it, drop it; the report says how it went."""
    fmt = detect_format(path)
    report = Report(path, fmt)
    started = time.monotonic()
    if fmt == "sqlite":
        with tempfile.TemporaryDirectory(prefix="vendgw-verify-") as scratch:
            copy = Path(scratch) / "restored.sqlite3"
            shutil.copyfile(path, copy)
            report.lines.append(f"  copied into scratch file {copy}")
            checks, held = run_checks(f"sqlite:///{copy}")
        report.lines += held
        report.checks = checks
        report.cleanup = "scratch file removed"
        return report
    server = make_url(server_url)
    if not server.get_backend_name().startswith("postgresql"):
        raise RestoreFailed(
            "a PostgreSQL backup is restored on a PostgreSQL server: set "
            "VENDGW_DATABASE_URL or give --server postgresql+psycopg2://..."
        )
    with scratch_database(server) as target:
        where = f"{target.host or 'local socket'}:{target.port or 5432}"
        try:
            restore_postgres(path, fmt, target, pg_bin)
        except RestoreFailed as exc:
            report.restore_error = str(exc)
        else:
            report.lines.append(
                f"  restored into scratch database {target.database} on {where}"
                f" in {time.monotonic() - started:.1f} s"
            )
            report.checks, held = run_checks(target.render_as_string(hide_password=False))
            report.lines += held
    report.cleanup = f"scratch database {target.database} dropped"
    return report
