"""Importing meters with their customers from CSV.

Two stages: `validate_rows` checks every row against the standard's rules and the utility's master
data and returns all the problems at once (line number and reason); `apply_rows` upserts the good
rows by meter number. Re-importing the same file therefore changes nothing.

Columns (header line required, order free):
    meter_number  DRN with its Luhn check digit, 11 or 13 digits
    iin           issuer identification number (default 600727)
    sgc           supply group code, 6 digits, known to the gateway
    ti            tariff index, 2 digits
    krn           key revision number 1-9 (the supply group must hold that key)
    kt            key type 0-3
    ea            encryption algorithm 07 or 11, the supply group's
    tct           token carrier type (default 02, numeric keypad)
    base_date     1993, 2014 or 2035 (default: the supply group's)
    tariff        tariff code, known to the gateway
    status        active or blocked (default active)
    account_no    customer account number (blank: a meter with no customer)
    customer_name, address
    debt          outstanding debt, decimal (default 0.00); read for new customers only, since
                  vends recover it afterwards
    recovery_rate_pct  percentage of each tender recovered against debt, 0-100 (default 0)
    fbe           registered for free basic electricity: yes/no (default no)
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.money import AmountError, parse_cents
from gateway.models import Customer, Meter, SupplyGroup, Tariff, VendingKey
from sts import CheckDigitError, StsError, validate_drn

REQUIRED_COLUMNS = ("meter_number", "sgc", "ti", "krn", "kt", "ea", "tariff")
OPTIONAL_COLUMNS = (
    "iin",
    "tct",
    "base_date",
    "status",
    "account_no",
    "customer_name",
    "address",
    "debt",
    "recovery_rate_pct",
    "fbe",
)
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class MeterRow:
    """One validated row, ready to upsert."""

    line: int
    meter_number: str
    iin: str
    sgc: str
    ti: str
    krn: int
    kt: int
    ea: str
    tct: str
    base_date: int
    tariff: str
    status: str
    account_no: str
    customer_name: str
    address: str
    debt_cents: int
    recovery_rate_bp: int
    fbe_registered: bool


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class MasterData:
    """What a row is checked against: supply groups with their KRNs, and tariff codes."""

    supply_groups: dict[str, tuple[str, int, frozenset[int]]]  # sgc -> (ea, base_date, krns)
    tariffs: frozenset[str]

    @classmethod
    def load(cls, session: Session) -> MasterData:
        groups: dict[str, tuple[str, int, frozenset[int]]] = {}
        for group in session.scalars(select(SupplyGroup)):
            krns = frozenset(
                session.scalars(
                    select(VendingKey.krn).where(VendingKey.supply_group_id == group.id)
                )
            )
            groups[group.sgc] = (group.ea, group.base_date, krns)
        return cls(groups, frozenset(session.scalars(select(Tariff.code))))


class _Reject(Exception):
    pass


def _digits(value: str, name: str, lengths: tuple[int, ...]) -> str:
    if not (value.isascii() and value.isdigit() and len(value) in lengths):
        want = " or ".join(str(n) for n in lengths)
        raise _Reject(f"{name} must be {want} digits, got {value!r}")
    return value


def _int_in(value: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,4}", value) or not low <= int(value) <= high:
        raise _Reject(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _rate_bp(value: str) -> int:
    try:
        pct = Decimal(value or "0")
    except InvalidOperation:
        raise _Reject(f"recovery_rate_pct must be a number, got {value!r}") from None
    bp = pct * 100
    if not pct.is_finite() or bp != bp.to_integral_value() or not 0 <= bp <= 10000:
        raise _Reject(f"recovery_rate_pct must be 0 to 100 with at most 2 decimals, got {value!r}")
    return int(bp)


def _row(line: int, raw: dict[str, str], master: MasterData) -> MeterRow:
    def get(name: str, default: str = "") -> str:
        return (raw.get(name) or default).strip()

    meter_number = get("meter_number")
    try:
        validate_drn(meter_number)  # the one rule: 11 or 13 digits and the check digit
    except CheckDigitError as exc:
        raise _Reject(f"meter_number {meter_number}: {exc}") from None
    except StsError:
        raise _Reject(f"meter_number must be 11 or 13 digits, got {meter_number!r}") from None
    sgc = _digits(get("sgc"), "sgc", (6,))
    if sgc not in master.supply_groups:
        raise _Reject(f"unknown supply group {sgc}")
    group_ea, group_base_date, group_krns = master.supply_groups[sgc]
    ti = _digits(get("ti"), "ti", (2,))
    krn = _int_in(get("krn"), "krn", 1, 9)
    if krn not in group_krns:
        raise _Reject(f"supply group {sgc} has no vending key with KRN {krn}")
    kt = _int_in(get("kt"), "kt", 0, 3)
    ea = get("ea")
    if ea not in ("07", "11"):
        raise _Reject(f"ea must be 07 or 11, got {ea!r}")
    if ea != group_ea:
        raise _Reject(f"ea {ea} differs from supply group {sgc}'s EA{group_ea}")
    base_date = int(get("base_date", str(group_base_date)))
    if base_date not in (1993, 2014, 2035):
        raise _Reject(f"base_date must be 1993, 2014 or 2035, got {base_date}")
    tariff = get("tariff")
    if tariff not in master.tariffs:
        raise _Reject(f"unknown tariff {tariff!r}")
    status = get("status", "active").lower()
    if status not in ("active", "blocked"):
        raise _Reject(f"status must be active or blocked, got {status!r}")
    fbe = get("fbe").lower()
    if fbe not in _TRUE | _FALSE:
        raise _Reject(f"fbe must be yes or no, got {fbe!r}")
    try:
        debt = parse_cents(get("debt", "0"))
    except AmountError as exc:
        raise _Reject(f"debt {exc.text!r}: {exc.reason}") from None
    account_no = get("account_no")
    if not account_no and (debt or fbe in _TRUE or get("customer_name")):
        raise _Reject("customer fields given without an account_no")
    return MeterRow(
        line=line,
        meter_number=meter_number,
        iin=_digits(get("iin", "600727"), "iin", (4, 6)),
        sgc=sgc,
        ti=ti,
        krn=krn,
        kt=kt,
        ea=ea,
        tct=_digits(get("tct", "02"), "tct", (2,)),
        base_date=base_date,
        tariff=tariff,
        status=status,
        account_no=account_no,
        customer_name=get("customer_name"),
        address=get("address"),
        debt_cents=debt,
        recovery_rate_bp=_rate_bp(get("recovery_rate_pct")),
        fbe_registered=fbe in _TRUE,
    )


def read_rows(stream: TextIO) -> Iterator[tuple[int, dict[str, str]]]:
    """CSV rows with their line numbers; the header is checked first."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns: " + ", ".join(unknown))
        raise ValueError("line 1: " + "; ".join(parts))
    for raw in reader:
        yield reader.line_num, raw


def validate_rows(
    rows: Iterable[tuple[int, dict[str, str]]], master: MasterData
) -> tuple[list[MeterRow], list[RowProblem]]:
    """Check every row; returns the good rows and every problem found (not only the first)."""
    good: list[MeterRow] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}
    accounts: dict[str, tuple[str, str, int, int, bool]] = {}
    for line, raw in rows:
        if None in raw:
            problems.append(RowProblem(line, "more fields than the header has columns"))
            continue
        try:
            row = _row(line, raw, master)
        except _Reject as exc:
            problems.append(RowProblem(line, str(exc)))
            continue
        if row.meter_number in first_line:
            problems.append(
                RowProblem(
                    line, f"meter {row.meter_number} already on line {first_line[row.meter_number]}"
                )
            )
            continue
        customer = (
            row.customer_name,
            row.address,
            row.debt_cents,
            row.recovery_rate_bp,
            row.fbe_registered,
        )
        if row.account_no and accounts.setdefault(row.account_no, customer) != customer:
            problems.append(
                RowProblem(
                    line, f"account {row.account_no} has other customer details on an earlier line"
                )
            )
            continue
        first_line[row.meter_number] = line
        good.append(row)
    return good, problems


@dataclass(frozen=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def apply_rows(session: Session, rows: Iterable[MeterRow]) -> ImportCounts:
    """Upsert meters (by meter number) and customers (by account number) in the session."""
    groups = {g.sgc: g for g in session.scalars(select(SupplyGroup))}
    tariffs = {t.code: t for t in session.scalars(select(Tariff))}
    created = updated = unchanged = 0
    for row in rows:
        customer = None
        if row.account_no:
            customer = session.scalar(select(Customer).where(Customer.account_no == row.account_no))
            if customer is None:
                # Debt is taken from the file only for a new customer: afterwards vends recover
                # it, and a re-import of an old file must not put recovered debt back.
                customer = Customer(account_no=row.account_no, debt_cents=row.debt_cents)
                session.add(customer)
            _assign(
                customer,
                name=row.customer_name,
                address=row.address,
                recovery_rate_bp=row.recovery_rate_bp,
                fbe_registered=row.fbe_registered,
            )
        meter = session.scalar(select(Meter).where(Meter.meter_number == row.meter_number))
        fields = dict(
            iin=row.iin,
            supply_group=groups[row.sgc],
            ti=row.ti,
            krn=row.krn,
            kt=row.kt,
            ea=row.ea,
            tct=row.tct,
            base_date=row.base_date,
            status=row.status,
            tariff=tariffs[row.tariff],
            customer=customer,
        )
        if meter is None:
            session.add(Meter(meter_number=row.meter_number, **fields))
            created += 1
        elif _assign(meter, **fields):
            updated += 1
        else:
            unchanged += 1
        session.flush()
    return ImportCounts(created, updated, unchanged)


def _assign(obj: object, **values: object) -> bool:
    """Set attributes that differ; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed
