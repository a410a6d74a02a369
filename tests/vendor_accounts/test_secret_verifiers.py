"""Secret verifiers: generated and demo secrets get an HMAC verifier under a key derived from the
master key and are checked without argon2; operator-chosen secrets and existing argon2 hashes
keep argon2, whose concurrent checks are bounded. Counts go through the module's two verifier
seams (`_verify` for argon2, `_verify_hmac`); the database is real."""

from __future__ import annotations

import base64
import re
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.db import transaction
from gateway.soap.auth import AuthRefusal, TerminalAuthenticator
from tests.support.vendor_accounts import cheap_argon2, client_id, new_vendor
from vendor_accounts import credentials
from vendor_accounts.cli import terminal as terminal_cli
from vendor_accounts.credentials import (
    HMAC_PREFIX,
    VerificationCache,
    authenticate_terminal,
    derive_verifier_key,
)
from vendor_accounts.demo import DEMO_VENDORS, seed_demo_vendors
from vendor_accounts.exceptions import ClientNotFound, TerminalNotFound, VerifierBusy, WrongSecret
from vendor_accounts.models import Terminal
from vendor_accounts.vendors import add_terminal, get_terminal

CLIENT = client_id(3)
CHOSEN = "chosen-pass-1"


class Counts:
    """How many checks of each kind ran (the real functions still run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.argon2 = self.hmac = 0
        real_argon2, real_hmac = credentials._verify, credentials._verify_hmac

        def argon2(secret_hash: str, secret: str) -> bool:
            self.argon2 += 1
            return real_argon2(secret_hash, secret)

        def hmac_(secret_hash: str, secret: str, key: bytes) -> bool:
            self.hmac += 1
            return real_hmac(secret_hash, secret, key)

        monkeypatch.setattr(credentials, "_verify", argon2)
        monkeypatch.setattr(credentials, "_verify_hmac", hmac_)


@pytest.fixture
def terminals(db, monkeypatch):
    """One terminal with a generated secret (HMAC) and one with an operator's (argon2)."""
    cheap_argon2(monkeypatch)
    with transaction(db.sessions) as s:
        new_vendor(s, 3)
        _, generated = add_terminal(
            s,
            client_id=CLIENT,
            terminal_code="GEN-1",
            actor="test",
            verifier_key=db.runtime.verifier_key,
        )
        add_terminal(s, client_id=CLIENT, terminal_code="CHOSEN-1", actor="test", secret=CHOSEN)
    db.generated = generated
    return db


def login(db, terminal, secret, *, key=True, cache=None):
    cache = VerificationCache() if cache is None else cache
    with transaction(db.sessions) as s:
        return authenticate_terminal(
            s,
            CLIENT,
            terminal,
            secret,
            "192.0.2.1",
            verification_cache=cache,
            verifier_key=db.runtime.verifier_key if key else None,
        )


def stored(db, terminal: str) -> str:
    with transaction(db.sessions) as s:
        return get_terminal(s, CLIENT, terminal).secret_hash


def test_the_verifier_key_is_derived_for_its_purpose() -> None:
    master = bytes(range(32))
    key = derive_verifier_key(master)
    assert len(key) == 32 and key != master
    assert key == derive_verifier_key(master)
    assert key != derive_verifier_key(bytes(32))


def test_a_generated_secret_is_checked_by_hmac_without_argon2(terminals, monkeypatch) -> None:
    verifier = stored(terminals, "GEN-1")
    assert re.fullmatch(re.escape(HMAC_PREFIX) + "[0-9a-f]{64}", verifier)
    assert terminals.generated not in verifier
    counts = Counts(monkeypatch)
    assert login(terminals, "GEN-1", terminals.generated).terminal_id == "GEN-1"
    with pytest.raises(WrongSecret):
        login(terminals, "GEN-1", terminals.generated + "x")
    with pytest.raises(WrongSecret):  # a gateway without the key cannot accept it
        login(terminals, "GEN-1", terminals.generated, key=False)
    assert (counts.argon2, counts.hmac) == (0, 2)


def test_chosen_secrets_and_existing_argon2_hashes_still_verify(terminals, monkeypatch) -> None:
    assert stored(terminals, "CHOSEN-1").startswith("$argon2id$")
    counts = Counts(monkeypatch)
    cache = VerificationCache()
    assert login(terminals, "CHOSEN-1", CHOSEN, cache=cache).terminal_id == "CHOSEN-1"
    assert login(terminals, "CHOSEN-1", CHOSEN, cache=cache).terminal_id == "CHOSEN-1"
    with pytest.raises(WrongSecret):
        login(terminals, "CHOSEN-1", "not-it-at-all")
    assert (counts.argon2, counts.hmac) == (2, 0)  # the second success came from the cache


def test_unknown_ids_cost_an_hmac_not_an_argon2(terminals, monkeypatch) -> None:
    counts = Counts(monkeypatch)
    with pytest.raises(TerminalNotFound):
        login(terminals, "NO-SUCH", "whatever-1")
    with transaction(terminals.sessions) as s, pytest.raises(ClientNotFound):
        authenticate_terminal(
            s,
            client_id(9),
            "GEN-1",
            "whatever-1",
            "192.0.2.1",
            verifier_key=terminals.runtime.verifier_key,
        )
    assert (counts.argon2, counts.hmac) == (0, 2)


def test_argon2_work_is_bounded_and_refused_quickly_when_full(terminals, monkeypatch) -> None:
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(credentials, "_argon2_slots", slots)
    monkeypatch.setattr(credentials, "ARGON2_WAIT_SECONDS", 0.01)
    slots.acquire()  # another request's argon2 check is running
    try:
        with pytest.raises(VerifierBusy):
            login(terminals, "CHOSEN-1", CHOSEN)
        refused = TerminalAuthenticator(terminals.runtime)(
            {"HTTP_AUTHORIZATION": _basic(f"{CLIENT}/CHOSEN-1", CHOSEN), "REMOTE_ADDR": "192.0.2.1"}
        )
        assert isinstance(refused, AuthRefusal)
        # A fault (HTTP 500, R1126) that says when to come back.
        assert refused.status.startswith("500") and dict(refused.headers)["Retry-After"]
        assert refused.fault.code == "auth-verifier-busy"
        # an HMAC terminal does not need a slot
        assert login(terminals, "GEN-1", terminals.generated).terminal_id == "GEN-1"
    finally:
        slots.release()
    assert login(terminals, "CHOSEN-1", CHOSEN).terminal_id == "CHOSEN-1"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_cli_gives_generated_secrets_hmac_and_typed_ones_argon2(db, monkeypatch) -> None:
    cheap_argon2(monkeypatch)
    with transaction(db.sessions) as s:
        new_vendor(s, 3)
    runner = CliRunner()
    out = runner.invoke(
        terminal_cli, ["add", "--vendor", CLIENT, "--terminal", "T-GEN"], obj=db.runtime
    )
    assert out.exit_code == 0, out.output
    typed = runner.invoke(
        terminal_cli,
        ["add", "--vendor", CLIENT, "--terminal", "T-TYPED", "--secret", CHOSEN],
        obj=db.runtime,
    )
    assert typed.exit_code == 0, typed.output
    assert stored(db, "T-GEN").startswith(HMAC_PREFIX)
    assert stored(db, "T-TYPED").startswith("$argon2id$")
    rotated = runner.invoke(
        terminal_cli, ["rotate-secret", "--vendor", CLIENT, "--terminal", "T-TYPED"], obj=db.runtime
    )
    assert rotated.exit_code == 0, rotated.output
    assert stored(db, "T-TYPED").startswith(HMAC_PREFIX)
    secret = re.search(r"secret for \S+: (\S+)", rotated.output).group(1)
    assert login(db, "T-TYPED", secret).terminal_id == "T-TYPED"


def test_a_fresh_worker_checks_the_demo_terminals_without_argon2(db, monkeypatch) -> None:
    with transaction(db.sessions) as s:
        seed_demo_vendors(s, db.runtime.verifier_key)
        assert all(h.startswith(HMAC_PREFIX) for h in s.scalars(select(Terminal.secret_hash)))
    counts = Counts(monkeypatch)
    for demo in DEMO_VENDORS:  # a new process: an empty cache
        with transaction(db.sessions) as s:
            principal = authenticate_terminal(
                s,
                demo.client_id,
                demo.terminal,
                demo.secret,
                "127.0.0.1",
                verification_cache=VerificationCache(),
                verifier_key=db.runtime.verifier_key,
            )
        assert principal.terminal_id == demo.terminal
    assert (counts.argon2, counts.hmac) == (0, len(DEMO_VENDORS))
