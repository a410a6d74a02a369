from pathlib import Path

import pytest

from core.settings import load_settings


def test_defaults_are_the_demo_utility() -> None:
    s = load_settings({})
    assert s.utility.currency == "ZAR"
    assert s.utility.vat_rate_bp == 1500
    assert s.utility.timezone == "Africa/Johannesburg"
    assert (s.utility.min_vend_cents, s.utility.max_vend_cents) == (500, 500000)
    assert s.database.url.startswith("sqlite:///")


def test_environment_overrides_defaults_and_aliases(tmp_path: Path) -> None:
    s = load_settings(
        {
            "VENDGW_DATABASE_URL": "postgresql+psycopg2://u@h/db",
            "VENDGW_TIMEZONE": "Africa/Lagos",
            "VENDGW_UTILITY_MAX_VEND_CENTS": "100000",
            "VENDGW_HOME": str(tmp_path),
        }
    )
    assert s.database_url == "postgresql+psycopg2://u@h/db"
    assert s.utility.timezone == "Africa/Lagos"
    assert s.utility.max_vend_cents == 100000


def test_config_file_overrides_and_unknown_keys_refused(tmp_path: Path) -> None:
    conf = tmp_path / "site.toml"
    conf.write_text('[utility]\ncurrency = "NGN"\n')
    assert load_settings({"VENDGW_CONFIG": str(conf)}).utility.currency == "NGN"
    conf.write_text('[utility]\ncurency = "NGN"\n')
    with pytest.raises(ValueError, match=r"unknown setting utility\.curency"):
        load_settings({"VENDGW_CONFIG": str(conf)})


def test_relative_sqlite_path_is_under_home(tmp_path: Path) -> None:
    s = load_settings({"VENDGW_HOME": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path}/var/vendgw.sqlite3"


def test_master_key_file_is_created_once_with_owner_only_access(tmp_path: Path) -> None:
    s = load_settings({"VENDGW_HOME": str(tmp_path)})
    key = s.master_key()
    assert len(key) == 32
    path = tmp_path / "var" / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert s.master_key() == key


def test_master_key_from_environment_must_be_256_bits() -> None:
    assert load_settings({"VENDGW_MASTER_KEY": "ab" * 32}).master_key() == b"\xab" * 32
    with pytest.raises(ValueError, match="64 hex digits"):
        load_settings({"VENDGW_MASTER_KEY": "ab" * 16}).master_key()


def test_master_key_is_not_in_repr() -> None:
    s = load_settings({"VENDGW_MASTER_KEY": "cd" * 32})
    assert "cd" * 32 not in repr(s)


def test_database_time_outs_default_for_production_and_batch_work_gets_longer_ones() -> None:
    d = load_settings({}).database
    vend, batch = d.limits(), d.limits(batch=True)
    assert (
        vend.connect_timeout_seconds,
        vend.lock_timeout_ms,
        vend.statement_timeout_ms,
        vend.idle_in_transaction_timeout_ms,
    ) == (3, 3000, 10000, 15000)
    assert (
        vend.keepalives_idle_seconds,
        vend.keepalives_interval_seconds,
        vend.keepalives_count,
        vend.tcp_user_timeout_ms,
    ) == (10, 3, 3, 10000)
    assert (
        batch.lock_timeout_ms,
        batch.statement_timeout_ms,
        batch.idle_in_transaction_timeout_ms,
    ) == (30000, 3600000, 600000)
    assert batch.connect_timeout_seconds == vend.connect_timeout_seconds
    # Idle-in-transaction below gunicorn's 30 s worker timeout, so a stalled holder's locks go
    # before the workers queued behind them are killed.
    assert vend.lock_timeout_ms < vend.idle_in_transaction_timeout_ms < 30000
    assert d.health_timeout_ms < 2000


def test_database_time_outs_are_overridden_as_integers() -> None:
    d = load_settings(
        {
            "VENDGW_DATABASE_STATEMENT_TIMEOUT_MS": "2500",
            "VENDGW_DATABASE_BATCH_LOCK_TIMEOUT_MS": "0",
            "VENDGW_DATABASE_HEALTH_TIMEOUT_MS": "800",
        }
    ).database
    assert d.limits().statement_timeout_ms == 2500
    assert d.limits(batch=True).lock_timeout_ms == 0
    assert d.health_timeout_ms == 800
