"""Schema migrations: Alembic, configured in code so `vendgw db upgrade` needs no alembic.ini.

Each package owns its tables and keeps its migrations beside them in `<package>/migrations/`, as a
branch of its own that depends on the foundation; `upgrade heads` applies them all in order.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

# The packages whose models and migrations make up the schema, foundation first.
SCHEMA_PACKAGES = ["gateway", "vendor_accounts", "reconciliation"]
# The platform's models, imported first: the audit trail (the gateway's foundation migration
# creates its table).
PLATFORM_MODEL_MODULES = ["core.models"]
# Model modules beyond `<package>.models`.
EXTRA_MODEL_MODULES = ["gateway.vend.models", "gateway.vouchers.models", "vendgw.console.models"]
EXTRA_MODEL_MODULES.append("vendgw.console.approval_models")
EXTRA_MODEL_MODULES.append("vendgw.console.read_indexes")

_ROOT = Path(__file__).resolve().parent.parent


def import_models() -> None:
    """Import every package's models so Base.metadata holds the whole schema."""
    for module in PLATFORM_MODEL_MODULES:
        importlib.import_module(module)
    for package in SCHEMA_PACKAGES:
        importlib.import_module(f"{package}.models")
    for module in EXTRA_MODEL_MODULES:
        importlib.import_module(module)


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    # The environment (env.py, the template) is the composition root's; the revisions stay with
    # the packages that own the tables.
    cfg.set_main_option("script_location", str(_ROOT / "vendgw" / "migrations"))
    locations = [str(_ROOT / "gateway" / "migrations" / "versions")]
    locations += [str(_ROOT / p / "migrations") for p in SCHEMA_PACKAGES if p != "gateway"]
    locations.append(str(_ROOT / "vendgw" / "console" / "migrations"))  # the console's users
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    # '%' would be read as interpolation by configparser.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Fail when the models and the migrated schema differ (alembic check)."""
    command.check(alembic_config(database_url))
