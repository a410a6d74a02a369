"""Account payments in the night's reconciliation: a payment debits the float like a sale, so the
vendor's report must list it; listed, it matches; left out, it is a break like an unreported
vend."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from sqlalchemy import select

from reconciliation import runs
from reconciliation.models import ReconBreak, ReconRun
from reconciliation.report_file import identify
from tests.support.reconciliation import BANK, DEBT_METER, Utility, line, local, write_report

AFTER_THE_DAY = local(2026, 11, 21, 2, 0)


def pay(u: Utility, at: object, amount_cents: int) -> str:
    u.clock.now = at.astimezone(UTC)  # type: ignore[attr-defined]
    h = u.header(BANK, at)  # type: ignore[arg-type]
    u.service.pay_account(u.who(BANK), h, "ACC-0004", amount_cents, "cash", "debt")
    return h.msg_id.key


def reconcile(u: Utility, path: Path) -> runs.RunOutcome:
    return runs.reconcile(
        u.db.runtime, identify(path), actor="test", now=AFTER_THE_DAY, progress=False
    )


def test_a_reported_payment_matches_and_an_unreported_one_is_a_break(
    utility: Utility, tmp_path: Path
) -> None:
    sale, _ = utility.vend(local(2026, 11, 20, 9, 0), 10000)
    paid = pay(utility, local(2026, 11, 20, 9, 30), 20000)
    unreported = pay(utility, local(2026, 11, 20, 10, 0), 5000)
    lines = [
        line(sale, 10000, local(2026, 11, 20, 9, 0)),
        line(paid, 20000, local(2026, 11, 20, 9, 30), meter=DEBT_METER),
    ]
    outcome = reconcile(utility, write_report(tmp_path, BANK, "20261120", lines))
    with utility.db.sessions() as session:
        found = {
            (b.category, b.msg_id)
            for b in session.scalars(
                select(ReconBreak).where(ReconBreak.last_run_id == outcome.run_id)
            )
        }
        run = session.get(ReconRun, outcome.run_id)
    assert found == {("MISSING_IN_REPORT", unreported)}
    assert run is not None
    assert (run.gateway_count, run.gateway_total_cents) == (3, 35000)
    assert (run.vendor_count, run.vendor_total_cents) == (2, 30000)
    assert run.commission_cents == sum(a * 150 // 10000 for a in (10000, 20000, 5000))
