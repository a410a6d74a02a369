"""Customer fault reports (XMLVend CustReportFault): a meter or network fault reported at a
terminal, stored with a reference number the customer quotes when the utility calls back.

Stored through `idempotency.run_once` like every write: a retry with the same msgID gets the
same reference number, never a second report. The meter and the account, when given, must be
the utility's (UnknownMeterEx, ConfirmCustomerEx), so field staff are never sent to a meter that
does not exist; a network fault (a street without power) may name neither. `vendgw fault list`
and `vendgw report faults` read them (`recent`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import errors
from gateway.vend import accounts, idempotency, meters
from gateway.vend.models import ReportedFault
from gateway.vend.types import FaultReport, MsgID, Principal, RequestHeader

_fault = cast(Table, ReportedFault.__table__)
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
MAX_DESCRIPTION = 2000
MAX_CONTACT = 200


def ref_no(request_id: int) -> str:
    """The reference number of the report made by that request (at most 20 characters)."""
    return f"FLT{request_id:09d}"


def _text(name: str, value: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise errors.SchemaError(f"{name} must be text of at most {limit} characters", code=name)
    return " ".join(value.split())


def report_fault(
    sessions: sessionmaker[Session],
    who: Principal,
    header: RequestHeader,
    meter_number: str | None,
    account_no: str | None,
    fault_kind: str,
    description: str,
    contact: str,
    now: datetime,
) -> FaultReport:
    if not isinstance(fault_kind, str) or not _KIND.fullmatch(fault_kind):
        raise errors.SchemaError(
            "the fault kind is a name of 1 to 40 letters, digits, '_', '.' or '-'",
            code="fault-kind",
            value=fault_kind,
        )
    description = _text("description", description, MAX_DESCRIPTION)
    contact = _text("contact", contact, MAX_CONTACT)
    if meter_number is not None:
        meters.check_meter_number(meter_number)
    if account_no is not None:
        account_no = accounts.check_account_no(account_no)

    def work(session: Session, request_id: int) -> idempotency.Answer:
        if meter_number is not None:
            meters.find_meter(session, meter_number)  # UnknownMeterEx
        if account_no is not None:
            accounts.find_customer(session, account_no)  # ConfirmCustomerEx
        report = FaultReport(
            ref_no=ref_no(request_id),
            msg_id=header.msg_id,
            meter_number=meter_number,
            account_no=account_no,
            fault_kind=fault_kind,
            description=description,
            contact=contact,
            reported_at=now,
        )
        session.execute(
            insert(_fault).values(
                ref_no=report.ref_no,
                request_id=request_id,
                vendor_id=who.vendor_id,
                client_id=who.client_id,
                terminal_id=who.terminal_id,
                operator=header.operator,
                msg_id=header.msg_id.key,
                meter_number=meter_number,
                account_no=account_no,
                fault_kind=fault_kind,
                description=description,
                contact=contact,
                reported_at=now,
            )
        )
        return idempotency.Answer(to_json(report))

    fingerprint = idempotency.request_hash(
        "CustReportFault",
        meter=meter_number,
        account=account_no,
        kind=fault_kind,
        description=description,
        contact=contact,
    )
    return from_json(idempotency.run_once(sessions, header, "CustReportFault", fingerprint, work))


def to_json(r: FaultReport) -> dict[str, Any]:
    return {
        "ref_no": r.ref_no,
        "msg_id": {"date_time": r.msg_id.date_time, "unique_number": r.msg_id.unique_number},
        "meter_number": r.meter_number,
        "account_no": r.account_no,
        "fault_kind": r.fault_kind,
        "description": r.description,
        "contact": r.contact,
        "reported_at": r.reported_at.isoformat(),
    }


def from_json(body: dict[str, Any]) -> FaultReport:
    return FaultReport(
        ref_no=body["ref_no"],
        msg_id=MsgID(**body["msg_id"]),
        meter_number=body["meter_number"],
        account_no=body["account_no"],
        fault_kind=body["fault_kind"],
        description=body["description"],
        contact=body["contact"],
        reported_at=datetime.fromisoformat(body["reported_at"]),
    )


def recent(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[ReportedFault]:
    """The fault reports made in [since, until), oldest first."""
    query = select(ReportedFault).order_by(ReportedFault.reported_at, ReportedFault.id)
    if since is not None:
        query = query.where(ReportedFault.reported_at >= since)
    if until is not None:
        query = query.where(ReportedFault.reported_at < until)
    return list(session.scalars(query))
