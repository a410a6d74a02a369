"""Voucher redemptions in the night's reconciliation and the month's reports: a redemption is a
sale of the redeeming vendor's channel, matched like any vend and never a break, though its float
paid nothing; the buying vendor's float paid for the stock; the voucher report's outstanding
liability ties to the ledger."""

from __future__ import annotations

import csv
from datetime import UTC, date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from core.db import transaction
from core.money import format_tenths
from gateway.vend.models import VendTransaction
from gateway.vend.types import MsgID, Principal, RequestHeader
from gateway.vouchers import activation
from reconciliation import operational, outputs, runs, vouchers_report
from reconciliation.cli import report
from reconciliation.models import ReconRun
from reconciliation.monthly import monthly_report
from reconciliation.periods import MONTHLY, parse_period
from reconciliation.report_file import identify
from tests.support.reconciliation import BANK, METER, SHOP, Utility, line, local, write_report
from tests.support.vouchers import books_hold, create_batch, export_and_read, liability
from vendgw import migrate
from vendor_accounts import floats

NOVEMBER = parse_period("2026-11", MONTHLY)


def redeemer(u: Utility) -> Principal:
    return Principal(u.vendor_ids[BANK], BANK, "ATM-0001", frozenset({"redeem"}), "agent")


def test_redemptions_reconcile_as_the_channels_sales_and_tie_to_the_ledger(
    utility: Utility, tmp_path: Path
) -> None:
    u = utility
    shop, bank = u.vendor_ids[SHOP], u.vendor_ids[BANK]
    stock = create_batch(u.db, shop, 3, 5000, at=local(2026, 11, 19, 9, 0).astimezone(UTC))
    pins = [row["pin"] for row in export_and_read(u.db, stock.batch_id)]
    with transaction(u.db.sessions) as session:
        activation.activate(
            session,
            stock.first_serial,
            stock.last_serial,
            actor="test",
            today=date(2026, 11, 19),
            at=local(2026, 11, 19, 10, 0).astimezone(UTC),
        )
    with u.db.sessions() as session:
        bank_before = floats.balance(session, bank).balance_cents

    msg_ids = []
    for i, at in enumerate((local(2026, 11, 20, 9, 0), local(2026, 11, 20, 9, 10))):
        u.clock.now = at.astimezone(UTC)
        header = RequestHeader(BANK, "ATM-0001", MsgID(at.strftime("%Y%m%d%H%M%S"), 900 + i))
        receipt = u.service.voucher_vend(redeemer(u), header, METER, pins[i])
        assert receipt.tender_cents == 5000
        msg_ids.append(header.msg_id.key)
    sold, _ = u.vend(local(2026, 11, 20, 9, 20), 10000)
    with u.db.sessions() as session:
        # Only the credit vend moved the bank's float (less its 1.50 % commission).
        assert floats.balance(session, bank).balance_cents == bank_before - 10000 + 150
        books_hold(session)

    path = write_report(
        tmp_path,
        BANK,
        "20261120",
        [
            line(msg_ids[0], 5000, local(2026, 11, 20, 9, 0)),
            line(msg_ids[1], 5000, local(2026, 11, 20, 9, 10)),
            line(sold, 10000, local(2026, 11, 20, 9, 20)),
        ],
    )
    outcome = runs.reconcile(
        u.db.runtime,
        identify(path),
        actor="test",
        now=local(2026, 11, 21, 2, 0),
        progress=False,
    )
    assert outcome.break_count == 0
    with u.db.sessions() as session:
        run = session.get(ReconRun, outcome.run_id)
        assert run is not None and (run.gateway_count, run.gateway_total_cents) == (3, 20000)
        assert run.commission_cents == 150  # redemptions earn the channel no commission
        # The float paid for the credit vend only: the redemptions are not in what it owes.
        assert (run.voucher_count, run.voucher_total_cents) == (2, 10000)
        assert run.settlement_due_cents == 10000 - 150
        summary = outputs.render_summary(
            outputs.run_summary(session, run.id, date(2026, 11, 21)), runs.calendar_of(u.db.runtime)
        )
        (listed,) = [r for r in runs.recent_runs(session) if r.run_id == run.id]
        assert (listed.voucher_total_cents, listed.settlement_due_cents) == (10000, 9850)
    assert "100.00  (2 voucher redemptions in the gateway total; no float debit)" in summary
    assert "98.50  (gateway sales - voucher redemptions - commission)" in summary

    # A void in the month: the third voucher goes back to the shop at what it cost.
    with transaction(u.db.sessions) as session:
        activation.void(
            session,
            stock.last_serial,
            stock.last_serial,
            reason="stolen",
            actor="test",
            at=local(2026, 11, 25, 12, 0).astimezone(UTC),
        )
    calendar = runs.calendar_of(u.db.runtime)
    with u.db.sessions() as session:
        month = monthly_report(session, NOVEMBER, calendar, date(2026, 12, 1))
        figures = vouchers_report.vouchers_report(session, NOVEMBER, calendar)
        books_hold(session)
    by_client = {v.client_id: v for v in month.vendors}
    assert (
        by_client[BANK].voucher_redemptions_count,
        by_client[BANK].voucher_redemptions_cents,
    ) == (
        2,
        10000,
    )
    assert by_client[BANK].sales_cents == 10000  # its own float's sales, apart
    assert by_client[SHOP].voucher_stock_cents == 15000 - 5000  # bought 3, one credited back
    for v in (*month.vendors, month.totals):
        assert v.closing_float_cents == (
            v.opening_float_cents
            + v.deposits_cents
            + v.adjustments_cents
            - v.net_sales_cents
            + v.commission_cents
            - v.voucher_stock_cents
        )
    (batch,) = figures.batches
    assert (batch.created, batch.activated, batch.redeemed, batch.voided) == (3, 3, 2, 1)
    assert batch.outstanding == 0 and figures.outstanding_cents == 0
    assert figures.ties and figures.ledger_liability_cents == liability(u.db) == 0
    assert figures.redemptions_by_channel == {BANK: (2, 10000)}
    text = vouchers_report.render_csv(figures)
    assert "2026-11,0.00,0.00,yes" in text


def test_the_voucher_report_ties_at_a_month_end_with_value_outstanding(
    utility: Utility,
) -> None:
    u = utility
    stock = create_batch(
        u.db, u.vendor_ids[SHOP], 4, 2000, at=local(2026, 11, 10, 9, 0).astimezone(UTC)
    )
    with transaction(u.db.sessions) as session:
        activation.activate(
            session,
            stock.first_serial,
            stock.first_serial + 1,
            actor="test",
            today=date(2026, 11, 10),
            at=local(2026, 11, 30, 23, 0).astimezone(UTC),
        )
        # Activated after the month: not in November's liability.
        activation.activate(
            session,
            stock.first_serial + 2,
            stock.last_serial,
            actor="test",
            today=date(2026, 11, 10),
            at=local(2026, 12, 1, 1, 0).astimezone(UTC),
        )
    calendar = runs.calendar_of(u.db.runtime)
    with u.db.sessions() as session:
        figures = vouchers_report.vouchers_report(session, NOVEMBER, calendar)
    (batch,) = figures.batches
    assert (batch.created, batch.activated, batch.outstanding) == (4, 2, 2)
    assert figures.outstanding_cents == figures.ledger_liability_cents == 4000
    assert liability(u.db) == 8000  # today's books hold all four


def _redemptions_and_a_sale(u: Utility) -> list[str]:
    """Three vouchers of 50.00 bought by the Shop; the Bank's channel redeems two on 2026-11-20
    and one the next day, and sells a credit vend of 100.00 on the 20th. The report lines of the
    20th."""
    stock = create_batch(
        u.db, u.vendor_ids[SHOP], 3, 5000, at=local(2026, 11, 19, 9, 0).astimezone(UTC)
    )
    pins = [row["pin"] for row in export_and_read(u.db, stock.batch_id)]
    with transaction(u.db.sessions) as session:
        activation.activate(
            session,
            stock.first_serial,
            stock.last_serial,
            actor="test",
            today=date(2026, 11, 19),
            at=local(2026, 11, 19, 10, 0).astimezone(UTC),
        )
    lines = []
    times = (local(2026, 11, 20, 9, 0), local(2026, 11, 20, 9, 10), local(2026, 11, 21, 8, 0))
    for i, at in enumerate(times):
        u.clock.now = at.astimezone(UTC)
        header = RequestHeader(BANK, "ATM-0001", MsgID(at.strftime("%Y%m%d%H%M%S"), 950 + i))
        u.service.voucher_vend(redeemer(u), header, METER, pins[i])
        if at.day == 20:
            lines.append(line(header.msg_id.key, 5000, at))
    sold, _ = u.vend(local(2026, 11, 20, 9, 20), 10000)
    return [*lines, line(sold, 10000, local(2026, 11, 20, 9, 20))]


def _run_of_the_20th(u: Utility, tmp_path: Path) -> int:
    path = write_report(tmp_path, BANK, "20261120", _redemptions_and_a_sale(u))
    outcome = runs.reconcile(
        u.db.runtime, identify(path), actor="test", now=local(2026, 11, 21, 9, 0), progress=False
    )
    assert outcome.break_count == 0
    return outcome.run_id


def test_a_run_whose_settlement_disagrees_with_its_sales_is_refused(
    utility: Utility, tmp_path: Path
) -> None:
    u = utility
    run_id = _run_of_the_20th(u, tmp_path)
    with u.db.sessions() as session:
        run = session.get(ReconRun, run_id)
        assert run is not None
        assert (run.voucher_total_cents, run.settlement_due_cents) == (10000, 10000 - 150)
        values = {
            c.name: getattr(run, c.key)
            for c in ReconRun.__table__.columns
            if c.name not in ("id", "status")
        }
    wrong = [
        # the old rule: the redemptions counted as the float's sales
        {"settlement_due_cents": 20000 - 150},
        {"voucher_total_cents": -100, "settlement_due_cents": 20000 + 100 - 150},
    ]
    for change in wrong:
        with pytest.raises(IntegrityError), transaction(u.db.sessions) as session:
            session.execute(insert(ReconRun).values({**values, "status": "replaced", **change}))
    with transaction(u.db.sessions) as session:  # the same row, consistent, is stored
        session.execute(insert(ReconRun).values({**values, "status": "replaced"}))


def test_the_migration_fills_in_the_redemptions_of_existing_runs(
    utility: Utility, tmp_path: Path
) -> None:
    u = utility
    run_id = _run_of_the_20th(u, tmp_path)
    u.db.engine.dispose()
    try:
        migrate.downgrade(u.db.url, "0201_reconciliation")
        with u.db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("recon_run")}
            assert "voucher_total_cents" not in columns and "voucher_count" not in columns
            # A run as 0201 stored it: the redemptions in the settlement due.
            assert (
                conn.execute(
                    text("SELECT settlement_due_cents FROM recon_run WHERE id = :id"),
                    {"id": run_id},
                ).scalar_one()
                == 20000 - 150
            )
        u.db.engine.dispose()
        migrate.upgrade(u.db.url)
    finally:
        u.db.engine.dispose()
        migrate.upgrade(u.db.url)  # leave the worker's database at head whatever happened
    with u.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT voucher_count, voucher_total_cents, settlement_due_cents, "
                "gateway_total_cents, commission_cents FROM recon_run WHERE id = :id"
            ),
            {"id": run_id},
        ).one()
    # Only the two redemptions of the run's day; the next day's is another period's.
    assert tuple(row) == (2, 10000, 10000 - 150, 20000, 150)
    migrate.check(u.db.url)
    with pytest.raises(IntegrityError), transaction(u.db.sessions) as session:
        session.execute(
            update(ReconRun).where(ReconRun.id == run_id).values(settlement_due_cents=19850)
        )


def test_vending_counts_the_redemptions_apart_and_a_redemption_is_a_purchase(
    utility: Utility, tmp_path: Path
) -> None:
    u = utility
    _redemptions_and_a_sale(u)  # Bank: 2 redeemed and 1 sold on the 20th, 1 redeemed on the 21st
    with u.db.sessions() as session:
        units = dict(
            session.execute(
                select(VendTransaction.kind, func.sum(VendTransaction.units_tenths)).group_by(
                    VendTransaction.kind
                )
            ).all()
        )
        calendar = runs.calendar_of(u.db.runtime)
        per_vendor = operational.vending(session, NOVEMBER, calendar)
        per_terminal_day = operational.vending(
            session, NOVEMBER, calendar, by="terminal", per_day=True
        )
        quiet = operational.abnormal_customers(session, date(2027, 1, 31), calendar, days=30)

    for table in (per_vendor, per_terminal_day):
        assert table.columns[-8:] == (
            "vends",
            "amount",
            "kwh",
            "reversed_vends",
            "reversed_amount",
            "voucher_vends",
            "voucher_amount",
            "voucher_kwh",
        )
    (bank,) = [dict(zip(per_vendor.columns, r, strict=True)) for r in per_vendor.rows]
    assert (bank["client_id"], bank["vends"], bank["amount"]) == (BANK, 1, "100.00")
    assert bank["kwh"] == format_tenths(int(units["credit"]))
    assert (bank["voucher_vends"], bank["voucher_amount"]) == (3, "150.00")
    assert bank["voucher_kwh"] == format_tenths(int(units["voucher"]))

    named = [dict(zip(per_terminal_day.columns, r, strict=True)) for r in per_terminal_day.rows]
    shown = ("vends", "amount", "voucher_vends", "voucher_amount")
    by_day = {(r["day"], r["terminal_id"]): tuple(r[k] for k in shown) for r in named}
    assert by_day == {
        ("2026-11-20", "ATM-0001"): (1, "100.00", 2, "100.00"),
        ("2026-11-21", "ATM-0001"): (0, "0.00", 1, "50.00"),
    }

    # The meter's last purchase is the voucher redeemed on the 21st, after its credit vend.
    meters = {r[0]: r for r in quiet.rows}
    assert meters[METER][3] == "2026-11-21"

    out = tmp_path / "vending.csv"
    result = CliRunner().invoke(
        report, ["vending", "--month", "2026-11", "--out", str(out)], obj=u.db.runtime
    )
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(out.read_text().splitlines())
    assert (row["vends"], row["voucher_vends"], row["voucher_amount"]) == ("1", "3", "150.00")
