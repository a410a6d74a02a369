"""The nightly job: the inbox of a business day reconciled and archived, a missing vendor file
recorded, an unreadable file refused (left in the inbox, exit status 1), and the late files of
the next morning picked up."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from core.db import transaction
from reconciliation.cli import reconcile
from reconciliation.models import ReconMissingReport, ReconRun
from tests.support.reconciliation import BANK, SHOP, Utility, line, local, write_report
from vendor_accounts import add_vendor, ean13_check_digit, set_vendor_status

DAY = "2026-10-20"  # long over, so the command's own clock accepts it


def client(n: int) -> str:
    body = f"600400{n:06d}"
    return body + str(ean13_check_digit(body))


def test_a_night_with_a_missing_file_and_an_unreadable_one(utility: Utility) -> None:
    quiet, gone = client(33), client(44)
    with transaction(utility.db.sessions) as session:
        add_vendor(session, client_id=quiet, name="Quiet", kind="agent", actor="test")
        add_vendor(session, client_id=gone, name="Gone", kind="agent", actor="test")
        set_vendor_status(session, gone, "closed", actor="test")
    sold, _ = utility.vend(local(2026, 10, 20, 9, 0), 10000)
    settings = utility.db.settings
    inbox = settings.path(settings.reconciliation.inbox)
    outbox = settings.path(settings.reconciliation.outbox)
    archive = settings.path(settings.reconciliation.archive)
    bank_file = write_report(
        inbox, BANK, "20261020", [line(sold, 10000, local(2026, 10, 20, 9, 0))]
    )
    shop_file = inbox / f"{SHOP}_20261020.csv"
    shop_file.symlink_to(inbox / "lost-in-transfer.csv")  # the transfer left a dangling link
    write_report(inbox, BANK, "20261021", [])  # another day's file is left alone

    result = CliRunner().invoke(reconcile, ["nightly", "--date", DAY], obj=utility.db.runtime)

    assert result.exit_code == 1
    assert f"REFUSED     {shop_file.name}: {shop_file.name}: cannot be read" in result.output
    assert f"missing     no file from active vendor {quiet}" in result.output
    assert gone not in result.output  # a closed vendor owes no file
    assert not bank_file.exists() and (archive / "20261020" / bank_file.name).exists()
    assert shop_file.is_symlink() and (inbox / f"{BANK}_20261021.csv").exists()
    written = sorted(p.name for p in outbox.iterdir())
    assert f"{BANK}_20261020_run1_summary.txt" in written
    assert f"{BANK}_20261020_run1_breaks.csv" in written
    assert f"{shop_file.name}.rejected.txt" in written and "nightly_20261020.txt" in written
    with utility.db.sessions() as session:
        missing = session.scalars(select(ReconMissingReport)).all()
        assert [(m.client_id, m.period_label) for m in missing] == [(quiet, DAY)]
        assert [r.client_id for r in session.scalars(select(ReconRun))] == [BANK]

    # Morning: the shop's file arrives properly and the job runs again; nothing is done twice.
    shop_file.unlink()
    write_report(inbox, SHOP, "20261020", [])
    again = CliRunner().invoke(reconcile, ["nightly", "--date", DAY], obj=utility.db.runtime)
    assert again.exit_code == 0, again.output
    assert "1 reconciled, 0 refused, 1 missing" in again.output

    # The quiet vendor's file comes in late and is reconciled by hand: the gap is closed.
    late = write_report(inbox, quiet, "20261020", [])
    by_hand = CliRunner().invoke(reconcile, ["file", str(late)], obj=utility.db.runtime)
    assert by_hand.exit_code == 0, by_hand.output
    with utility.db.sessions() as session:
        [missing_row] = session.scalars(select(ReconMissingReport)).all()
        assert missing_row.received_run_id is not None
        assert len(session.scalars(select(ReconRun)).all()) == 3
