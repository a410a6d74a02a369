"""Terminal login: every refusal has its own type, and the verification cache never vouches for
a secret that has been rotated away or a terminal that has been disabled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import transaction
from core.models import AuditEvent
from tests.support.vendor_accounts import cheap_argon2, client_id, new_vendor
from vendor_accounts import (
    AddressNotAllowed,
    AuthenticationError,
    ClientNotFound,
    TerminalDisabled,
    TerminalNotFound,
    TerminalPrincipal,
    VendorNotActive,
    VerificationCache,
    WrongSecret,
    add_terminal,
    authenticate_terminal,
    get_terminal,
    rotate_secret,
    set_terminal_status,
    set_vendor_status,
)
from vendor_accounts import credentials as credentials_module
from vendor_accounts.commission import CommissionRate

SECRET = "s3cret-pass"
CLIENT = client_id(1)


class CountingVerify:
    """Counts real argon2 verifications (the database is real; only the count is added)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = credentials_module._verify

        def counted(secret_hash: str, secret: str) -> bool:
            self.calls += 1
            return real(secret_hash, secret)

        monkeypatch.setattr(credentials_module, "_verify", counted)


@pytest.fixture
def terminal_db(db, monkeypatch):
    cheap_argon2(monkeypatch)
    with transaction(db.sessions) as s:
        vendor = new_vendor(s, kind="bank")
        add_terminal(
            s,
            client_id=CLIENT,
            terminal_code="ATM-1",
            actor="test",
            secret=SECRET,
            privileges=["vend", "reprint"],
        )
        add_terminal(
            s,
            client_id=CLIENT,
            terminal_code="ATM-2",
            actor="test",
            secret=SECRET,
            allowed_cidrs=["10.1.0.0/16", "192.0.2.7"],
        )
    db.vendor_id = vendor.id
    return db


def _login(db, cache, *, client=CLIENT, terminal="ATM-1", secret=SECRET, ip="203.0.113.9"):
    with transaction(db.sessions) as s:
        return authenticate_terminal(s, client, terminal, secret, ip, verification_cache=cache)


def test_secrets_are_stored_as_argon2id_with_production_parameters(db):
    with transaction(db.sessions) as s:
        new_vendor(s)
        terminal, secret = add_terminal(s, client_id=CLIENT, terminal_code="T-1", actor="test")
        stored = terminal.secret_hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert secret not in stored and len(secret) >= 20
    assert _login(db, VerificationCache(), terminal="T-1", secret=secret).terminal_id == "T-1"


def test_a_terminal_logs_in_with_its_secret(terminal_db):
    principal = _login(terminal_db, VerificationCache())
    assert isinstance(principal, TerminalPrincipal)
    assert principal.vendor_id == terminal_db.vendor_id
    assert (principal.client_id, principal.terminal_id) == (CLIENT, "ATM-1")
    assert principal.privileges == frozenset({"vend", "reprint"})
    assert principal.vendor_kind == "bank"
    assert principal.commission == CommissionRate(0, 0)  # read with the credentials
    with transaction(terminal_db.sessions) as s:
        terminal = get_terminal(s, CLIENT, "ATM-1")
        assert terminal.secret_hash.startswith("$argon2id$")
        assert SECRET not in terminal.secret_hash
        assert SECRET not in repr(terminal)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"client": client_id(2)}, ClientNotFound),
        ({"terminal": "ATM-9"}, TerminalNotFound),
        ({"secret": "not-the-secret"}, WrongSecret),
        ({"terminal": "ATM-2", "ip": "10.2.0.1"}, AddressNotAllowed),
        ({"terminal": "ATM-2", "ip": "not-an-ip"}, AddressNotAllowed),
    ],
)
def test_each_refusal_has_its_own_type(terminal_db, kwargs, error):
    with pytest.raises(error) as refused:
        _login(terminal_db, VerificationCache(), **kwargs)
    assert isinstance(refused.value, AuthenticationError)
    assert refused.value.client_id == kwargs.get("client", CLIENT)


@pytest.mark.parametrize("ip", ["10.1.200.3", "192.0.2.7", "::ffff:10.1.0.1"])
def test_allowed_addresses_may_call(terminal_db, ip):
    principal = _login(terminal_db, VerificationCache(), terminal="ATM-2", ip=ip)
    assert principal.terminal_id == "ATM-2"


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_a_vendor_that_is_not_active_cannot_log_in(terminal_db, status):
    cache = VerificationCache()
    _login(terminal_db, cache)  # cached while active
    with transaction(terminal_db.sessions) as s:
        set_vendor_status(s, CLIENT, status, actor="test", reason="unpaid")
    with pytest.raises(VendorNotActive) as refused:
        _login(terminal_db, cache)
    assert refused.value.vendor_status == status


def test_a_disabled_terminal_cannot_log_in_even_when_cached(terminal_db):
    cache = VerificationCache()
    _login(terminal_db, cache)
    with transaction(terminal_db.sessions) as s:
        set_terminal_status(
            s, client_id=CLIENT, terminal_code="ATM-1", status="disabled", actor="test"
        )
    with pytest.raises(TerminalDisabled):
        _login(terminal_db, cache)
    with transaction(terminal_db.sessions) as s:
        set_terminal_status(
            s, client_id=CLIENT, terminal_code="ATM-1", status="active", actor="test"
        )
    assert _login(terminal_db, cache).terminal_id == "ATM-1"


def test_successful_checks_are_cached_and_rotation_invalidates_them(terminal_db, monkeypatch):
    counter = CountingVerify(monkeypatch)
    cache = VerificationCache()
    for _ in range(5):
        _login(terminal_db, cache)
    assert counter.calls == 1
    with pytest.raises(WrongSecret):
        _login(terminal_db, cache, secret="wrong-secret")
    with pytest.raises(WrongSecret):
        _login(terminal_db, cache, secret="wrong-secret")
    assert counter.calls == 3  # failures are never cached

    with transaction(terminal_db.sessions) as s:
        new_secret = rotate_secret(s, client_id=CLIENT, terminal_code="ATM-1", actor="ops")
    with pytest.raises(WrongSecret):
        _login(terminal_db, cache)  # the old secret was cached: the version check stops it
    assert _login(terminal_db, cache, secret=new_secret).terminal_id == "ATM-1"
    with transaction(terminal_db.sessions) as s:
        actions = s.scalars(select(AuditEvent.action)).all()
        details = " ".join(s.scalars(select(AuditEvent.detail)).all())
    assert "terminal.rotate" in actions
    assert new_secret not in details and SECRET not in details


def test_cached_checks_expire_when_unused(terminal_db, monkeypatch):
    counter = CountingVerify(monkeypatch)
    now = [1000.0]
    cache = VerificationCache(ttl_seconds=60, clock=lambda: now[0])
    _login(terminal_db, cache)
    now[0] += 59
    _login(terminal_db, cache)  # a use: the idle clock starts again
    now[0] += 59
    _login(terminal_db, cache)
    assert counter.calls == 1
    now[0] += 61
    _login(terminal_db, cache)
    assert counter.calls == 2


def test_a_busy_terminal_is_verified_again_within_max_age(terminal_db, monkeypatch):
    counter = CountingVerify(monkeypatch)
    now = [1000.0]
    spread = [0.5]  # this entry ends at 75% of max_age: 1000 + 300
    cache = VerificationCache(
        ttl_seconds=60, max_age_seconds=400, clock=lambda: now[0], spread=lambda: spread[0]
    )
    _login(terminal_db, cache)
    for _ in range(9):  # in use every 30 s, up to 1270
        now[0] += 30
        _login(terminal_db, cache)
    assert counter.calls == 1
    now[0] = 1300.0
    _login(terminal_db, cache)
    assert counter.calls == 2


def test_hard_expiries_are_spread_over_the_second_half_of_max_age():
    now = [0.0]
    ends = iter([0.0, 0.999])
    cache = VerificationCache(
        ttl_seconds=10_000, max_age_seconds=100, clock=lambda: now[0], spread=lambda: next(ends)
    )
    early, late = cache.key("c", "1", "s"), cache.key("c", "2", "s")
    cache.remember(early, 1, 1, "hash")
    cache.remember(late, 2, 1, "hash")
    now[0] = 50.0
    assert not cache.hit(early, 1, 1, "hash")
    assert cache.hit(late, 2, 1, "hash")
    now[0] = 99.95
    assert not cache.hit(late, 2, 1, "hash")


def test_the_cache_key_does_not_contain_the_secret():
    cache = VerificationCache()
    key = cache.key(CLIENT, "ATM-1", SECRET)
    assert len(key) == 32 and SECRET.encode() not in key
    # Length-prefixed parts: shifting characters between fields gives another key.
    assert cache.key("ab", "c", "d") != cache.key("a", "bc", "d")
    assert VerificationCache().key(CLIENT, "ATM-1", SECRET) != key  # per-process salt


def test_the_cache_is_bounded():
    cache = VerificationCache(max_entries=3)
    for n in range(5):
        cache.remember(cache.key("c", str(n), "s"), n, 1, "hash")
    assert len(cache) == 3
    assert not cache.hit(cache.key("c", "0", "s"), 0, 1, "hash")
    assert cache.hit(cache.key("c", "4", "s"), 4, 1, "hash")
