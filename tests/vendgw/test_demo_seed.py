"""`vendgw demo seed` creates the exact demo fixture, and a second run changes nothing."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from gateway.models import Meter, SupplyGroup, Tariff, VendingKey
from tests.conftest import TestDatabase
from vendgw.cli import cli


def snapshot(db: TestDatabase) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, ordered, to compare whole databases."""
    out = {}
    with db.engine.connect() as conn:
        for table in sorted(inspect(db.engine).get_table_names()):
            if table == "alembic_version":
                continue
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted(
                tuple(repr(bytes(v) if isinstance(v, memoryview) else v) for v in r) for r in rows
            )
    return out


def test_seed_twice_leaves_the_same_data(db: TestDatabase) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "seed"], env=db.env())
    assert first.exit_code == 0, first.output
    after_first = snapshot(db)
    second = runner.invoke(cli, ["demo", "seed"], env=db.env())
    assert second.exit_code == 0, second.output
    assert snapshot(db) == after_first
    assert len(after_first["meter"]) == 7


def test_demo_fixture_is_exact(demo_db: TestDatabase) -> None:
    with demo_db.sessions() as session:
        groups = {g.sgc: (g.dkga, g.ea, g.base_date) for g in session.scalars(select(SupplyGroup))}
        assert groups == {"123456": ("02", "07", 2014), "201457": ("04", "11", 2014)}
        keys = {(k.supply_group.sgc, k.krn) for k in session.scalars(select(VendingKey))}
        assert keys == {("123456", 1), ("123456", 2), ("201457", 1)}
        tariffs = {t.code: t for t in session.scalars(select(Tariff))}
        domestic = tariffs["DOMESTIC"].versions[-1]
        assert [(s.upto_tenths, s.price_e4) for s in domestic.steps] == [
            (500, 12000),
            (3500, 15500),
            (None, 21000),
        ]
        assert domestic.monthly_fixed_charge_cents == 0
        commercial = tariffs["COMMERCIAL"].versions[-1]
        assert [(s.upto_tenths, s.price_e4) for s in commercial.steps] == [(None, 20000)]
        assert commercial.monthly_fixed_charge_cents == 10000
        meters = {m.meter_number: m for m in session.scalars(select(Meter))}
        assert set(meters) == {
            "01234567897",
            "04000000010",
            "04000000028",
            "04000000036",
            "04000000044",
            "04000000051",
            "04000000069",
        }
        assert "04000000994" not in meters
        for m in meters.values():
            assert (m.iin, m.ti, m.kt, m.tct) == ("600727", "01", 2, "02")
        assert meters["01234567897"].customer.account_no == "ACC-0001"
        assert meters["04000000010"].status == "blocked"
        assert meters["04000000028"].customer.fbe_registered
        debtor = meters["04000000036"].customer
        assert (debtor.debt_cents, debtor.recovery_rate_bp) == (50000, 2000)
        assert meters["04000000044"].tariff.code == "COMMERCIAL"
        ea11 = meters["04000000051"]
        assert (ea11.supply_group.sgc, ea11.ea, ea11.krn) == ("201457", "11", 1)
        kc = meters["04000000069"]
        assert (kc.supply_group.sgc, kc.krn, kc.pending_krn) == ("123456", 1, 2)
        assert kc.has_pending_key_change


def test_vending_keys_are_not_stored_in_clear(demo_db: TestDatabase) -> None:
    with demo_db.engine.connect() as conn:
        blobs = conn.execute(text("SELECT wrapped_key FROM vending_key")).scalars().all()
    for blob in blobs:
        raw = bytes(blob)
        for clear in (
            "ABABABABABABABAB",
            "9494949494949494",
            "abababababababab949494949494949401234567",
        ):
            assert bytes.fromhex(clear) not in raw
