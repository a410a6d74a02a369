"""The layers of the README's Architecture section, enforced on the import graph.

import-linter keeps the contracts in pyproject.toml ([tool.importlinter]): packages import only
downwards (vendgw > reconciliation > gateway > vendor_accounts > core > sts), inside gateway the
doors sit above the vend domain and it above master data, and no two packages or modules side by
side import each other. grimp's graph then finds any import cycle between modules at all (also
through a package's __init__, or across packages). Function-level and TYPE_CHECKING imports are
imports here too: a cycle dodged by a late import is still a cycle.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # import-linter's command
ROOT_PACKAGES: list[str] = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"][
    "root_packages"
]


def test_every_top_level_package_has_its_layer() -> None:
    # A new top-level package (a door, a domain) must be placed in the layers before it counts.
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ROOT_PACKAGES)


def test_imports_keep_the_layers_and_siblings_never_import_each_other() -> None:
    # In a process of its own: the command sets up logging (disabling every logger the suite
    # has configured) and sys.path for the process it runs in.
    done = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # The report names each illegal import chain with its line numbers.
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph(*ROOT_PACKAGES, cache_dir=None)
    assert {"gateway.vend.service", "core.db", "vendgw.cli"} <= graph.modules  # not vacuous
    cycles: set[tuple[str, ...]] = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycle = (importer, *back[:-1])
                start = cycle.index(min(cycle))
                cycles.add(cycle[start:] + cycle[:start])
    assert not cycles, "import cycles:\n" + "\n".join(
        " -> ".join((*cycle, cycle[0])) for cycle in sorted(cycles)
    )


def test_vouchers_sit_below_the_vend_path_and_beside_master_data() -> None:
    # The voucher domain (gateway.vouchers) is used by the vend path's VoucherVend plan and by
    # its doors, and itself never reaches up into the vend path or a door.
    graph = grimp.build_graph(*ROOT_PACKAGES, cache_dir=None)
    assert "gateway.vouchers.redemption" in graph.find_modules_directly_imported_by(
        "gateway.vend.pipeline"
    )
    for above in ("gateway.vend", "gateway.soap", "gateway.cli_voucher", "reconciliation"):
        assert not graph.chain_exists(
            importer="gateway.vouchers", imported=above, as_packages=True
        ), above


# A statement that writes the ledger's tables names them through their Table (`insert`, an
# UPDATE, a CTE all need it): outside vendor_accounts only reads by the ORM classes are allowed.
_LEDGER_TABLE = re.compile(
    r"\b(JournalEntry|Posting)\.__table__|\b(insert|update|delete)\(\s*(JournalEntry|Posting)\b"
)


def test_only_vendor_accounts_writes_the_ledger() -> None:
    # The float debit and the voucher redemption write their entries in one statement with the
    # row they pay for; both are built in vendor_accounts (ledger.guarded_entry), the domain
    # above only hands over its guard. Migrations are the schema's business, not the ledger's.
    offenders = []
    for package in ROOT_PACKAGES:
        if package == "vendor_accounts":
            continue
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            if _LEDGER_TABLE.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"the ledger's tables are written outside vendor_accounts: {offenders}"
