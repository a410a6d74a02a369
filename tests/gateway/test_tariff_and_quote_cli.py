"""`vendgw tariff` and `vendgw quote`: dated tariff versions and pricing without selling."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from tests.conftest import TestDatabase
from vendgw.cli import cli


def vendgw(db: TestDatabase, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=db.env())


def test_quote_json_has_every_field_as_decimal_strings(demo_db: TestDatabase) -> None:
    result = vendgw(demo_db, "quote", "--meter", "04000000036", "--amount", "100.00", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["units_kwh"] == "56.1"
    assert (body["debt_recovered"], body["debt_remaining"]) == ("20.00", "480.00")
    assert (body["energy"], body["energy_vat"]) == ("80.00", "10.43")
    assert (body["fixed_charge"], body["fixed_charge_vat"], body["fbe_units_kwh"]) == (
        "0.00",
        "0.00",
        "0.0",
    )
    assert body["tariff"] == "DOMESTIC"
    assert body["steps"] == [{"kwh": "50.0", "price": "1.2000"}, {"kwh": "6.1", "price": "1.5500"}]


def test_quote_sells_nothing(demo_db: TestDatabase) -> None:
    first = vendgw(demo_db, "quote", "--meter", "04000000044", "--amount", "300.00", "--json")
    again = vendgw(demo_db, "quote", "--meter", "04000000044", "--amount", "300.00", "--json")
    assert first.output == again.output
    body = json.loads(first.output)
    assert (body["fixed_charge"], body["fixed_charge_vat"], body["units_kwh"]) == (
        "100.00",
        "13.04",
        "86.9",
    )


def test_quote_fbe_meter_shows_its_free_units(demo_db: TestDatabase) -> None:
    result = vendgw(demo_db, "quote", "--meter", "04000000028", "--amount", "100.00")
    assert result.exit_code == 0, result.output
    assert "units 67.3 kWh + FBE 50.0 kWh" in result.output


@pytest.mark.parametrize(
    ("meter", "amount", "message"),
    [
        ("04000000994", "100.00", "UnknownMeterEx"),
        ("04000000011", "100.00", "MSNOCheckDigitEx"),
        ("01234567897", "4.99", "VendAmountEx"),
        ("01234567897", "1.005", "at most 2 decimals"),
    ],
)
def test_quote_refusals(demo_db: TestDatabase, meter: str, amount: str, message: str) -> None:
    result = vendgw(demo_db, "quote", "--meter", meter, "--amount", amount)
    assert result.exit_code == 1
    assert message in result.output


def test_a_new_tariff_version_applies_from_its_date(demo_db: TestDatabase) -> None:
    added = vendgw(
        demo_db,
        "tariff",
        "add",
        "DOMESTIC",
        "--from",
        "2999-01-01",
        "--step",
        "50:1.3000",
        "--step",
        "350:1.6500",
        "--step",
        "*:2.2000",
    )
    assert added.exit_code == 0, added.output
    assert "0-50 kWh @ 1.3000, 50-350 kWh @ 1.6500, >350 kWh @ 2.2000" in added.output
    # Today the old prices still apply; on the new date, the new ones.
    today = vendgw(demo_db, "tariff", "list")
    assert "0-50 kWh @ 1.2000" in today.output
    later = vendgw(demo_db, "tariff", "list", "--on", "2999-06-01")
    assert "0-50 kWh @ 1.3000" in later.output
    shown = vendgw(demo_db, "tariff", "show", "DOMESTIC")
    assert "from 2000-01-01" in shown.output and "from 2999-01-01" in shown.output
    quote = json.loads(
        vendgw(demo_db, "quote", "--meter", "01234567897", "--amount", "100.00", "--json").output
    )
    assert quote["units_kwh"] == "67.3"  # priced with the version in force now


def test_an_existing_version_is_never_edited(demo_db: TestDatabase) -> None:
    same = vendgw(
        demo_db,
        "tariff",
        "add",
        "COMMERCIAL",
        "--from",
        "2000-01-01",
        "--step",
        "*:2.0000",
        "--fixed-charge",
        "100.00",
    )
    assert same.exit_code == 0, same.output
    other = vendgw(
        demo_db,
        "tariff",
        "add",
        "COMMERCIAL",
        "--from",
        "2000-01-01",
        "--step",
        "*:2.5000",
        "--fixed-charge",
        "100.00",
    )
    assert other.exit_code == 1
    assert "already has a different version" in other.output


@pytest.mark.parametrize(
    "steps",
    [
        ("350:1.5500", "50:1.2000", "*:2.1000"),  # bounds must rise
        ("50:1.2000", "*:2.1000", "*:2.2000"),  # only the last step is unbounded
        ("50:abc",),
    ],
)
def test_bad_tariffs_are_refused(demo_db: TestDatabase, steps: tuple[str, ...]) -> None:
    args = ["tariff", "add", "NEWTARIFF", "--from", "2030-01-01"]
    for step in steps:
        args += ["--step", step]
    result = vendgw(demo_db, *args)
    assert result.exit_code != 0
    assert "NEWTARIFF" not in vendgw(demo_db, "tariff", "list").output
