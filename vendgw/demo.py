"""The demo utility: one fixed set of master data, vendors and floats that tests, the README tour
and `make run` all use. Seeding is idempotent: it creates what is missing and leaves the rest.

The vending keys here are the STS association's published TEST keys. They are for demonstrations
and tests only and must never be used for a real supply group.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.meter_import import MeterRow, apply_rows
from gateway.models import Meter, SupplyGroup, VendingKey
from gateway.tariffs import ensure_tariff_version
from sts import SoftwareSecurityModule
from vendor_accounts.demo import seed_demo_vendors

# Published STS test keys (demo only).
DEMO_SUPPLY_GROUPS = [
    # sgc, dkga, ea, base_date, {krn: vending key hex}
    ("123456", "02", "07", 2014, {1: "ABABABABABABABAB", 2: "9494949494949494"}),
    ("201457", "04", "11", 2014, {1: "abababababababab949494949494949401234567"}),
]
DEMO_TARIFFS_FROM = date(2000, 1, 1)

# meter number, account, customer name, sgc, tariff, status, debt cents, recovery bp, fbe
DEMO_METERS = [
    ("01234567897", "ACC-0001", "Thandi Mokoena", "123456", "DOMESTIC", "active", 0, 0, False),
    ("04000000010", "ACC-0002", "Sipho Dlamini", "123456", "DOMESTIC", "blocked", 0, 0, False),
    ("04000000028", "ACC-0003", "Lerato Nkosi", "123456", "DOMESTIC", "active", 0, 0, True),
    (
        "04000000036",
        "ACC-0004",
        "Pieter van Wyk",
        "123456",
        "DOMESTIC",
        "active",
        50000,
        2000,
        False,
    ),
    ("04000000044", "ACC-0005", "Spaza Traders CC", "123456", "COMMERCIAL", "active", 0, 0, False),
    ("04000000051", "ACC-0006", "Naledi Khumalo", "201457", "DOMESTIC", "active", 0, 0, False),
    ("04000000069", "ACC-0007", "Johan Botha", "123456", "DOMESTIC", "active", 0, 0, False),
]
KEY_CHANGE_METER = "04000000069"  # pending change to KRN 2 of its supply group


def seed_master_data(session: Session, security_module: SoftwareSecurityModule) -> None:
    groups = {}
    for sgc, dkga, ea, base_date, keys in DEMO_SUPPLY_GROUPS:
        group = session.scalar(select(SupplyGroup).where(SupplyGroup.sgc == sgc))
        if group is None:
            group = SupplyGroup(
                sgc=sgc, name=f"Demo SGC {sgc}", dkga=dkga, ea=ea, base_date=base_date, ken=255
            )
            session.add(group)
            session.flush()
        groups[sgc] = group
        have = set(
            session.scalars(select(VendingKey.krn).where(VendingKey.supply_group_id == group.id))
        )
        for krn, key_hex in keys.items():
            if krn not in have:
                wrapped = security_module.wrap_vending_key(bytes.fromhex(key_hex), f"{sgc}/{krn}")
                session.add(VendingKey(supply_group=group, krn=krn, wrapped_key=wrapped))
    session.flush()

    ensure_tariff_version(
        session,
        "DOMESTIC",
        "Domestic step tariff",
        DEMO_TARIFFS_FROM,
        [(500, 12000), (3500, 15500), (None, 21000)],
    )
    ensure_tariff_version(
        session,
        "COMMERCIAL",
        "Commercial flat tariff",
        DEMO_TARIFFS_FROM,
        [(None, 20000)],
        monthly_fixed_charge_cents=10000,
    )

    rows = []
    for line, (number, account, name, sgc, tariff, status, debt, rate, fbe) in enumerate(
        DEMO_METERS, start=1
    ):
        group = groups[sgc]
        rows.append(
            MeterRow(
                line=line,
                meter_number=number,
                iin="600727",
                sgc=sgc,
                ti="01",
                krn=1,
                kt=2,
                ea=group.ea,
                tct="02",
                base_date=group.base_date,
                tariff=tariff,
                status=status,
                account_no=account,
                customer_name=name,
                address=f"{line} Demo Street, Soweto",
                debt_cents=debt,
                recovery_rate_bp=rate,
                fbe_registered=fbe,
            )
        )
    apply_rows(session, rows)
    meter = session.scalar(select(Meter).where(Meter.meter_number == KEY_CHANGE_METER))
    assert meter is not None
    if meter.pending_krn is None and meter.krn == 1:
        meter.pending_krn = 2


def seed(
    session: Session, security_module: SoftwareSecurityModule, verifier_key: bytes | None = None
) -> None:
    """Create the whole demo utility (master data, then vendors) in the caller's transaction;
    `verifier_key` (Runtime.verifier_key) gives the demo terminals HMAC verifiers."""
    seed_master_data(session, security_module)
    seed_demo_vendors(session, verifier_key)
