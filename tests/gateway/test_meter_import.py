"""`vendgw meter import`: every row checked, all or nothing unless --skip-bad, re-import a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from gateway.models import Customer, Meter
from tests.conftest import TestDatabase
from vendgw.cli import cli

DATA = Path(__file__).parent / "data"
HEADER = (
    "meter_number,iin,sgc,ti,krn,kt,ea,tct,base_date,tariff,status,account_no,"
    "customer_name,address,debt,recovery_rate_pct,fbe"
)
GOOD = "04100000019,600727,123456,01,1,2,07,02,2014,DOMESTIC,active,ACC-1,A Name,Addr,0,0,no"


def run_import(db: TestDatabase, path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["meter", "import", str(path), *args], env=db.env())


def meter_count(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Meter)) or 0


def test_good_file_imports_and_reimport_changes_nothing(demo_db: TestDatabase) -> None:
    before = meter_count(demo_db)
    first = run_import(demo_db, DATA / "meters_good.csv")
    assert first.exit_code == 0, first.output
    assert "4 created, 0 updated, 0 unchanged" in first.output
    second = run_import(demo_db, DATA / "meters_good.csv")
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 4 unchanged" in second.output
    assert meter_count(demo_db) == before + 4
    with demo_db.sessions() as session:
        m = session.scalar(select(Meter).where(Meter.meter_number == "04100000027"))
        assert m is not None and m.customer is not None
        assert (m.krn, m.tariff.code, m.customer.debt_cents, m.customer.recovery_rate_bp) == (
            2,
            "COMMERCIAL",
            12050,
            1250,
        )
        blocked = session.scalar(select(Meter).where(Meter.meter_number == "04100000035"))
        assert blocked is not None and blocked.status == "blocked"
        assert blocked.customer is not None and blocked.customer.fbe_registered
        bare = session.scalar(select(Meter).where(Meter.meter_number == "04100000043"))
        assert bare is not None and bare.customer is None and bare.base_date == 2014


def test_changed_row_updates_the_meter(demo_db: TestDatabase, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n")
    assert run_import(demo_db, path).exit_code == 0
    path.write_text(f"{HEADER}\n{GOOD.replace(',active,', ',blocked,')}\n")
    result = run_import(demo_db, path)
    assert "0 created, 1 updated, 0 unchanged" in result.output
    with demo_db.sessions() as session:
        assert (
            session.scalar(select(Meter.status).where(Meter.meter_number == "04100000019"))
            == "blocked"
        )


BAD_ROWS = [
    (
        "wrong check digit",
        GOOD.replace("04100000019", "04100000011", 1),
        "correct check digit would be 9",
    ),
    ("meter number too short", GOOD.replace("04100000019", "0410000001", 1), "11 or 13 digits"),
    ("letters in meter number", GOOD.replace("04100000019", "0410000001A", 1), "11 or 13 digits"),
    ("sgc not six digits", GOOD.replace(",123456,", ",12345,"), "sgc must be 6 digits"),
    ("unknown sgc", GOOD.replace(",123456,", ",999999,"), "unknown supply group 999999"),
    ("ti not two digits", GOOD.replace(",01,1,2,", ",1,1,2,"), "ti must be 2 digits"),
    ("krn zero", GOOD.replace(",01,1,2,", ",01,0,2,"), "krn must be a whole number from 1 to 9"),
    ("krn ten", GOOD.replace(",01,1,2,", ",01,10,2,"), "krn must be a whole number from 1 to 9"),
    ("krn without key", GOOD.replace(",01,1,2,", ",01,5,2,"), "has no vending key with KRN 5"),
    ("kt four", GOOD.replace(",01,1,2,", ",01,1,4,"), "kt must be a whole number from 0 to 3"),
    ("ea nine", GOOD.replace(",07,02,", ",09,02,"), "ea must be 07 or 11"),
    ("ea other than group", GOOD.replace(",07,02,", ",11,02,"), "differs from supply group"),
    ("unknown tariff", GOOD.replace("DOMESTIC", "LUXURY"), "unknown tariff 'LUXURY'"),
    ("bad status", GOOD.replace(",active,", ",dormant,"), "status must be active or blocked"),
    ("bad debt", GOOD.replace(",0,0,no", ",1.234,0,no"), "debt '1.234'"),
    ("negative debt", GOOD.replace(",0,0,no", ",-5,0,no"), "must not be negative"),
    ("bad rate", GOOD.replace(",0,0,no", ",0,101,no"), "recovery_rate_pct must be 0 to 100"),
    ("bad fbe", GOOD.replace(",0,0,no", ",0,0,maybe"), "fbe must be yes or no"),
    ("bad base date", GOOD.replace(",02,2014,", ",02,2000,"), "base_date must be 1993, 2014"),
    ("extra field", GOOD + ",surplus", "more fields than the header"),
]


@pytest.mark.parametrize(("label", "row", "reason"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_each_kind_of_bad_row_is_refused_with_line_and_reason(
    demo_db: TestDatabase, tmp_path: Path, label: str, row: str, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    good2 = GOOD.replace("04100000019", "04100000027").replace("ACC-1", "ACC-2")
    path.write_text(f"{HEADER}\n{good2}\n{row}\n")
    before = meter_count(demo_db)
    result = run_import(demo_db, path)
    assert result.exit_code == 1
    assert "line 3:" in result.output and reason in result.output, result.output
    assert "nothing imported" in result.output
    assert meter_count(demo_db) == before


def test_duplicate_meter_in_file_is_a_bad_row(demo_db: TestDatabase, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{GOOD}\n")
    result = run_import(demo_db, path)
    assert result.exit_code == 1
    assert "line 3: meter 04100000019 already on line 2" in result.output


def test_missing_and_unknown_columns_are_refused(demo_db: TestDatabase, tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("meter_number,sgc,colour\n04100000019,123456,red\n")
    result = run_import(demo_db, path)
    assert result.exit_code == 1
    assert "missing columns: ti, krn, kt, ea, tariff" in result.output
    assert "unknown columns: colour" in result.output


def test_skip_bad_imports_the_good_rows_and_reports_the_bad(
    demo_db: TestDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    bad = GOOD.replace("04100000019", "04100000027").replace("DOMESTIC", "LUXURY")
    path.write_text(f"{HEADER}\n{GOOD}\n{bad}\n")
    before = meter_count(demo_db)
    result = run_import(demo_db, path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "line 3: unknown tariff 'LUXURY'" in result.output
    assert "1 created, 0 updated, 0 unchanged, 1 bad row(s) skipped" in result.output
    assert meter_count(demo_db) == before + 1


def test_reimport_does_not_restore_recovered_debt(demo_db: TestDatabase, tmp_path: Path) -> None:
    path = tmp_path / "debt.csv"
    path.write_text(f"{HEADER}\n{GOOD.replace(',0,0,no', ',100.00,20,no')}\n")
    assert run_import(demo_db, path).exit_code == 0
    with demo_db.sessions() as session, session.begin():
        customer = session.scalar(select(Customer).where(Customer.account_no == "ACC-1"))
        assert customer is not None
        customer.debt_cents = 8000  # a vend recovered 20.00
    assert run_import(demo_db, path).exit_code == 0
    with demo_db.sessions() as session:
        assert (
            session.scalar(select(Customer.debt_cents).where(Customer.account_no == "ACC-1"))
            == 8000
        )
