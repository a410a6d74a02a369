"""Building a vending day and the vendor's report of it (a plain module the tests import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

from core.db import transaction
from core.money import format_cents
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import MsgID, Principal, RequestHeader, VendReceipt
from reconciliation.report_file import HEADER
from tests.conftest import TestDatabase

TZ = ZoneInfo("Africa/Johannesburg")
BANK = "6004000000019"
SHOP = "6004000000026"
TERMINALS = {BANK: "ATM-0001", SHOP: "POS-0001"}
METER = "01234567897"  # DOMESTIC, no debt
FBE_METER = "04000000028"  # registered for free basic electricity
DEBT_METER = "04000000036"  # 500.00 of arrears, 20 % recovered from each tender
BLOCKED_METER = "04000000010"
COMMERCIAL_METER = "04000000044"  # a monthly fixed charge of 100.00


def local(*parts: int) -> datetime:
    """A wall time of the utility (Africa/Johannesburg, UTC+2)."""
    return datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


_unique = count(1)


@dataclass
class Utility:
    db: TestDatabase
    clock: Clock
    vendor_ids: dict[str, int]
    service: DatabaseVendingService = field(init=False)

    def __post_init__(self) -> None:
        self.service = DatabaseVendingService(self.db.runtime, clock=self.clock)

    def who(self, client_id: str) -> Principal:
        return Principal(
            self.vendor_ids[client_id],
            client_id,
            TERMINALS[client_id],
            frozenset({"vend", "reverse"}),
            "agent",
        )

    def header(self, client_id: str, at: datetime) -> RequestHeader:
        stamp = at.astimezone(TZ).strftime("%Y%m%d%H%M%S")
        return RequestHeader(client_id, TERMINALS[client_id], MsgID(stamp, next(_unique)))

    def vend(
        self, at: datetime, amount_cents: int, *, client_id: str = BANK, meter: str = METER
    ) -> tuple[str, VendReceipt]:
        """A credit vend at ``at``; returns the msg_id as vendors report it and the receipt."""
        self.clock.now = at.astimezone(UTC)
        h = self.header(client_id, at)
        receipt = self.service.credit_vend(self.who(client_id), h, meter, amount_cents, "cash")
        return h.msg_id.key, receipt

    def fbe(self, at: datetime, *, client_id: str = BANK, meter: str = FBE_METER) -> str:
        self.clock.now = at.astimezone(UTC)
        h = self.header(client_id, at)
        self.service.fbe_vend(self.who(client_id), h, meter)
        return h.msg_id.key

    def reverse(self, msg_id: str, at: datetime, *, client_id: str = BANK) -> None:
        self.clock.now = at.astimezone(UTC)
        original = MsgID(msg_id[:14], int(msg_id[14:]))
        self.service.reversal_advice(self.who(client_id), self.header(client_id, at), original)

    def refused_msg_id(self, at: datetime, *, client_id: str = BANK) -> str:
        """A vend the gateway refuses (blocked meter): the request is remembered, no tokens."""
        from gateway import errors

        self.clock.now = at.astimezone(UTC)
        h = self.header(client_id, at)
        try:
            self.service.credit_vend(self.who(client_id), h, BLOCKED_METER, 1000, "cash")
        except errors.GatewayError:
            return h.msg_id.key
        raise AssertionError("the blocked meter was sold to")

    def session(self):  # type: ignore[no-untyped-def]
        return transaction(self.db.sessions)


def line(
    msg_id: str,
    amount_cents: int,
    at: datetime,
    *,
    client_id: str = BANK,
    meter: str = METER,
    status: str = "SUCCESS",
    receipt: str = "",
    terminal: str | None = None,
) -> str:
    """One report line as a vendor writes it (vended_at in the utility's wall time)."""
    return ",".join(
        [
            client_id,
            terminal or TERMINALS[client_id],
            msg_id,
            receipt,
            meter,
            format_cents(amount_cents),
            at.astimezone(TZ).isoformat(),
            status,
        ]
    )


def write_report(
    folder: Path, client_id: str, period: str, lines: list[str], header: str = HEADER
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{client_id}_{period}.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path
