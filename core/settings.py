"""Settings: TOML defaults in conf/, overridden by an optional TOML file and by VENDGW_* variables.

Settings are read once per process and handed around as an immutable value, so a test can build
its own without touching the environment.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

CONF_DIR = Path(os.environ.get("VENDGW_CONF_DIR", Path(__file__).resolve().parent.parent / "conf"))

# Short names that operators expect, mapped to their section key.
_ALIASES = {
    "VENDGW_MASTER_KEY": ("security", "master_key"),
    "VENDGW_MASTER_KEY_FILE": ("security", "master_key_file"),
    "VENDGW_TIMEZONE": ("utility", "timezone"),
    "VENDGW_CURRENCY": ("utility", "currency"),
}


@dataclass(frozen=True)
class DatabaseLimits:
    """The time-outs one engine's PostgreSQL sessions run under (0: no limit), see
    conf/defaults.toml for why each default is what it is."""

    connect_timeout_seconds: int
    lock_timeout_ms: int
    statement_timeout_ms: int
    idle_in_transaction_timeout_ms: int
    keepalives_idle_seconds: int
    keepalives_interval_seconds: int
    keepalives_count: int
    tcp_user_timeout_ms: int


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    connect_timeout_seconds: int
    lock_timeout_ms: int
    statement_timeout_ms: int
    idle_in_transaction_timeout_ms: int
    keepalives_idle_seconds: int
    keepalives_interval_seconds: int
    keepalives_count: int
    tcp_user_timeout_ms: int
    batch_lock_timeout_ms: int
    batch_statement_timeout_ms: int
    batch_idle_in_transaction_timeout_ms: int
    health_timeout_ms: int

    def limits(self, *, batch: bool = False) -> DatabaseLimits:
        """The vend path's limits, or with `batch` the longer ones of operator commands."""
        return DatabaseLimits(
            connect_timeout_seconds=self.connect_timeout_seconds,
            lock_timeout_ms=self.batch_lock_timeout_ms if batch else self.lock_timeout_ms,
            statement_timeout_ms=(
                self.batch_statement_timeout_ms if batch else self.statement_timeout_ms
            ),
            idle_in_transaction_timeout_ms=(
                self.batch_idle_in_transaction_timeout_ms
                if batch
                else self.idle_in_transaction_timeout_ms
            ),
            keepalives_idle_seconds=self.keepalives_idle_seconds,
            keepalives_interval_seconds=self.keepalives_interval_seconds,
            keepalives_count=self.keepalives_count,
            tcp_user_timeout_ms=self.tcp_user_timeout_ms,
        )


@dataclass(frozen=True)
class UtilitySettings:
    name: str
    currency: str
    currency_decimals: int
    timezone: str
    vat_rate_bp: int
    min_vend_cents: int
    max_vend_cents: int
    fbe_monthly_kwh_tenths: int
    # What XMLVend receipts print as the utility (UtilityDetail: @address at most 80
    # characters, @taxRef the 10-digit VAT registration number).
    address: str = ""
    tax_ref: str = "0000000000"


@dataclass(frozen=True)
class SecuritySettings:
    master_key: str = field(repr=False)
    master_key_file: str


@dataclass(frozen=True)
class ServerSettings:
    bind: str
    server_id: str
    max_body_bytes: int
    reversal_window_minutes: int


@dataclass(frozen=True)
class ReconciliationSettings:
    inbox: str
    outbox: str
    archive: str
    cutoff: str


@dataclass(frozen=True)
class Settings:
    home: Path
    database: DatabaseSettings
    utility: UtilitySettings
    security: SecuritySettings
    server: ServerSettings
    reconciliation: ReconciliationSettings

    def path(self, relative: str) -> Path:
        """A settings path made absolute against VENDGW_HOME."""
        p = Path(relative)
        return p if p.is_absolute() else self.home / p

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against VENDGW_HOME."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.path(rest))
        return url

    def master_key(self) -> bytes:
        """The 32-byte master key; the key file is created (0600) when neither is set."""
        if self.security.master_key:
            key = bytes.fromhex(self.security.master_key)
            if len(key) != 32:
                raise ValueError("the master key must be 64 hex digits (AES-256)")
            return key
        path = self.path(self.security.master_key_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        key = bytes.fromhex(path.read_text().strip())
        if len(key) != 32:
            raise ValueError(f"{path}: the master key must be 64 hex digits (AES-256)")
        return key


_SECTIONS = {
    "database": DatabaseSettings,
    "utility": UtilitySettings,
    "security": SecuritySettings,
    "server": ServerSettings,
    "reconciliation": ReconciliationSettings,
}


def _merge(base: dict[str, dict[str, Any]], extra: dict[str, Any]) -> None:
    for section, values in extra.items():
        if section not in base or not isinstance(values, dict):
            raise ValueError(f"unknown settings section [{section}]")
        for key, value in values.items():
            if key not in base[section]:
                raise ValueError(f"unknown setting {section}.{key}")
            base[section][key] = value


def _coerce(template: Any, raw: str) -> Any:
    return int(raw) if isinstance(template, int) else raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read conf/defaults.toml, then VENDGW_CONFIG, then VENDGW_* variables (last wins)."""
    env = dict(os.environ if environ is None else environ)
    with open(CONF_DIR / "defaults.toml", "rb") as fh:
        values: dict[str, dict[str, Any]] = tomllib.load(fh)
    if env.get("VENDGW_CONFIG"):
        with open(env["VENDGW_CONFIG"], "rb") as fh:
            _merge(values, tomllib.load(fh))
    for name, (section, key) in _ALIASES.items():
        if name in env:
            values[section][key] = _coerce(values[section][key], env[name])
    for section, keys in values.items():
        for key, default in keys.items():
            name = f"VENDGW_{section}_{key}".upper()
            if name in env:
                values[section][key] = _coerce(default, env[name])
    home = Path(env.get("VENDGW_HOME", os.getcwd())).resolve()
    built = {}
    for section, cls in _SECTIONS.items():
        names = {f.name for f in fields(cls)}
        built[section] = cls(**{k: v for k, v in values[section].items() if k in names})
    return Settings(home=home, **built)


@cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
