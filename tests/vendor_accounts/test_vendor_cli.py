"""`vendgw vendor|terminal|float`: an operator's day, through the real command groups."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from core.db import transaction
from tests.support.vendor_accounts import TZ, cheap_argon2, client_id, split_of
from vendor_accounts import VerificationCache, authenticate_terminal, get_vendor, post_vend
from vendor_accounts.cli import float_group, terminal, vendor

CLIENT = client_id(7)


@pytest.fixture
def run(db, monkeypatch):
    cheap_argon2(monkeypatch)
    runner = CliRunner()

    def invoke(group, *args: str, ok: bool = True):
        result = runner.invoke(group, list(args), obj=db.runtime)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_registering_a_vendor_and_a_terminal(db, run):
    out = run(
        vendor,
        "add",
        CLIENT,
        "--name",
        "Spaza 7",
        "--kind",
        "agent",
        "--floor",
        "-100.00",
        "--low-float",
        "50.00",
        "--commission-bp",
        "150",
    ).output
    assert "added" in out
    bad = run(vendor, "add", "6004000000018", "--name", "Typo", "--kind", "agent", ok=False)
    assert bad.exit_code == 1 and "check digit should be 9" in bad.output
    dup = run(vendor, "add", CLIENT, "--name", "Again", "--kind", "agent", ok=False)
    assert dup.exit_code == 1 and "already exists" in dup.output

    out = run(
        terminal,
        "add",
        "--vendor",
        CLIENT,
        "--terminal",
        "POS-1",
        "--privilege",
        "vend",
        "--privilege",
        "reprint",
        "--allow",
        "10.0.0.0/8",
    ).output
    secret = re.search(r"secret for \S+: (\S+)", out).group(1)
    assert "shown once" in out
    with transaction(db.sessions) as s:
        principal = authenticate_terminal(
            s,
            CLIENT,
            "POS-1",
            secret,
            "10.1.2.3",
            verification_cache=VerificationCache(),
            verifier_key=db.runtime.verifier_key,
        )
    assert principal.privileges == frozenset({"vend", "reprint"})

    out = run(
        terminal,
        "rotate-secret",
        "--vendor",
        CLIENT,
        "--terminal",
        "POS-1",
        "--secret",
        "chosen-secret-1",
    ).output
    assert "chosen-secret-1" not in out  # a secret the operator chose is not echoed back
    run(terminal, "disable", "--vendor", CLIENT, "--terminal", "POS-1")
    listing = run(vendor, "list").output
    assert CLIENT in listing and "-100.00" in listing

    assert "suspended" in run(vendor, "suspend", CLIENT, "--reason", "late payment").output
    assert "active" in run(vendor, "reactivate", CLIENT).output
    missing = run(terminal, "disable", "--vendor", CLIENT, "--terminal", "NOPE", ok=False)
    assert missing.exit_code == 1 and "no terminal" in missing.output


def test_deposits_adjustments_statements_and_verify(db, run):
    run(vendor, "add", CLIENT, "--name", "Spaza 7", "--kind", "agent")
    assert (
        "balance 1000.00"
        in run(
            float_group, "deposit", "--vendor", CLIENT, "--amount", "1000.00", "--ref", "BANK-1"
        ).output
    )
    replay = run(
        float_group, "deposit", "--vendor", CLIENT, "--amount", "1000.00", "--ref", "BANK-1"
    ).output
    assert "already applied" in replay and "balance 1000.00" in replay
    bad = run(
        float_group, "deposit", "--vendor", CLIENT, "--amount", "10.001", "--ref", "X", ok=False
    )
    assert bad.exit_code == 1 and "--amount" in bad.output
    out = run(
        float_group,
        "adjust",
        "--vendor",
        CLIENT,
        "--amount",
        "-12.50",
        "--reason",
        "bank charges",
        "--operator",
        "alice",
    ).output
    assert "balance 987.50" in out
    refused = run(
        float_group,
        "adjust",
        "--vendor",
        CLIENT,
        "--amount",
        "-5000.00",
        "--reason",
        "typo",
        "--operator",
        "alice",
        ok=False,
    )
    assert refused.exit_code == 1 and "available" in refused.output
    with transaction(db.sessions) as s:
        post_vend(
            s,
            vendor_id=get_vendor(s, CLIENT).id,
            amount_cents=10_000,
            split=split_of(10_000),
            reference="V-1",
            timezone=TZ,
        )
    assert "available 887.50" in run(float_group, "balance", "--vendor", CLIENT).output

    out = run(
        float_group, "statement", "--vendor", CLIENT, "--from", "2000-01-01", "--to", "2100-01-01"
    ).output
    assert "opening balance" in out and "closing balance" in out
    assert "deposit BANK-1" in out and "887.50" in out and "3 movements" in out

    assert "ledger verified" in run(float_group, "verify").output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE float_account SET balance_cents = balance_cents + 1"))
    broken = run(float_group, "verify", ok=False)
    assert broken.exit_code == 1
    assert "balance-mismatch" in broken.output and "does not add up" in broken.output


def test_verify_through_vendgw_itself(db):
    """The installed command line, reading its database from the environment."""
    from vendgw.cli import cli

    result = CliRunner().invoke(cli, ["float", "verify"], env=db.env())
    assert result.exit_code == 0, result.output
    assert "ledger verified: 0 journal entries" in result.output
