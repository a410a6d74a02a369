"""Maker-checker: one user enters a change, a different user approves it, and only then is it done.

A request (a deposit with its bank reference, a new tariff version) is validated when it is
entered, so a checker only ever sees requests that could post, and it is stored as a pending row;
nothing touches the ledger or the tariffs until it is approved. Approval is exactly once:

* one conditional UPDATE moves the request from pending to approved, naming the checker, and only
  when the checker is not the maker; on PostgreSQL it takes the row's lock, so a second checker
  approving at the same instant waits, finds the row no longer pending and is refused; SQLite
  runs one writer at a time;
* the domain write (``vendor_accounts.deposit``, ``gateway.tariffs.ensure_tariff_version``,
  ``gateway.vouchers.activation.activate`` and ``void``) runs
  in that same transaction, in the caller's session: the status change and the posting commit
  together or not at all, and a refusal of the domain write leaves the request pending.

The database keeps the rules too (approval_models.py): an approved row names a checker who is not
its maker. Every step is audited (``approval.request``, ``approval.approve``, ``approval.reject``)
beside the domain's own events (``float.deposit``). Who may make or check which kind is the
console's decision (its roles); this module only knows users by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.localtime import local_day, utility_zone
from gateway import pricing
from gateway.models import Tariff, TariffVersion
from gateway.tariffs import ensure_tariff_version
from gateway.vouchers import activation
from gateway.vouchers.exceptions import VoucherError
from gateway.vouchers.pins import format_serial
from vendgw.console.approval_models import ApprovalRequest
from vendor_accounts import UnknownVendor, VendorAccountsError, deposit, get_vendor
from vendor_accounts.models import JournalEntry

__all__ = [
    "KINDS",
    "AlreadyDecided",
    "ApprovalError",
    "DomainRefusal",
    "DuplicateRequest",
    "InvalidRequest",
    "OwnRequest",
    "Request",
    "UnknownRequest",
    "approve",
    "get_request",
    "list_requests",
    "reject",
    "request_deposit",
    "request_tariff_version",
    "request_voucher_activation",
    "request_voucher_void",
]

# The kinds this module can carry out.
KINDS = ("deposit", "tariff_version", "voucher_activate", "voucher_void")

_req = cast(Table, ApprovalRequest.__table__)


class ApprovalError(Exception):
    """Root of the maker-checker refusals; nothing was written when one is raised::

    ApprovalError            code
     ├── InvalidRequest      field, value   (the payload could never post)
     ├── DuplicateRequest    dedupe_key     (the same thing is already pending or done)
     ├── UnknownRequest      request_id
     ├── AlreadyDecided      request_id, status, checker
     ├── OwnRequest          request_id, user (a maker may not approve their own request)
     └── DomainRefusal       domain_code    (the domain refused the write: vouchers, floats)
    """

    code: ClassVar[str] = "approval"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ApprovalError):
    code = "invalid-request"

    def __init__(self, message: str, *, field: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class DuplicateRequest(ApprovalError):
    code = "duplicate-request"

    def __init__(self, message: str, *, dedupe_key: str) -> None:
        super().__init__(message)
        self.dedupe_key = dedupe_key


class UnknownRequest(ApprovalError):
    code = "unknown-request"

    def __init__(self, request_id: int) -> None:
        super().__init__(f"no approval request {request_id}")
        self.request_id = request_id


class AlreadyDecided(ApprovalError):
    code = "already-decided"

    def __init__(self, request_id: int, status: str, checker: str | None) -> None:
        super().__init__(f"request {request_id} is already {status} (by {checker})")
        self.request_id = request_id
        self.status = status
        self.checker = checker


class OwnRequest(ApprovalError):
    code = "own-request"

    def __init__(self, request_id: int, user: str) -> None:
        super().__init__(f"{user} entered request {request_id} and may not approve it")
        self.request_id = request_id
        self.user = user


class DomainRefusal(ApprovalError):
    """The domain refused the write (a voucher range with nothing left to activate, a float
    too low): at entry nothing is stored, at approval the request stays pending."""

    code = "domain-refusal"

    def __init__(self, message: str, *, domain_code: str) -> None:
        super().__init__(message)
        self.domain_code = domain_code


@dataclass(frozen=True)
class Request:
    """A request as the console shows it; ``payload`` and ``result`` are decoded JSON."""

    id: int
    kind: str
    subject: str
    payload: dict[str, Any]
    maker: str
    created_at: datetime
    status: str
    checker: str | None
    decided_at: datetime | None
    note: str | None
    result: dict[str, Any] | None


def _user(field: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
        raise InvalidRequest(f"{field} must be a user name", field=field, value=value)
    return value.strip()


def _note(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > 2000:
        raise InvalidRequest("a note is at most 2000 characters", field="note", value=value)
    return value.strip()


def _as_request(row: ApprovalRequest) -> Request:
    return Request(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        payload=json.loads(row.payload),
        maker=row.maker,
        created_at=row.created_at,
        status=row.status,
        checker=row.checker,
        decided_at=row.decided_at,
        note=row.note,
        result=json.loads(row.result) if row.result else None,
    )


def _store(
    session: Session,
    *,
    kind: str,
    subject: str,
    dedupe_key: str,
    payload: dict[str, Any],
    maker: str,
) -> Request:
    row = ApprovalRequest(
        kind=kind,
        payload=json.dumps(payload, sort_keys=True),
        subject=subject,
        dedupe_key=dedupe_key,
        maker=maker,
        created_at=utcnow(),
        status="pending",
    )
    # A savepoint: the pending-key index refusing a twin entered at the same moment must not
    # spoil the caller's transaction.
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise DuplicateRequest(
            f"a request for {subject} ({dedupe_key}) is already waiting for approval",
            dedupe_key=dedupe_key,
        ) from exc
    audit.record(
        session, maker, "approval.request", subject, request_id=row.id, kind=kind, **payload
    )
    return _as_request(row)


def _pending_twin(session: Session, dedupe_key: str) -> None:
    if session.scalar(
        select(_req.c.id).where(_req.c.dedupe_key == dedupe_key, _req.c.status == "pending")
    ):
        raise DuplicateRequest(
            f"{dedupe_key} is already waiting for approval", dedupe_key=dedupe_key
        )


# -- deposits ---------------------------------------------------------------------------------


def _deposit_posted(session: Session, vendor_id: int, bank_reference: str) -> int | None:
    return session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.vendor_id == vendor_id,
            JournalEntry.kind == "deposit",
            JournalEntry.reference == bank_reference,
        )
    )


def request_deposit(
    session: Session, *, client_id: str, amount_cents: int, bank_reference: str, maker: str
) -> Request:
    """Enter a deposit the vendor paid into the bank; it posts when another user approves it.

    Refused (:class:`InvalidRequest`) for an unknown vendor, an amount that is not a positive
    integer of cents or a malformed bank reference; :class:`DuplicateRequest` when that bank
    reference is already pending or already posted for the vendor."""
    maker = _user("maker", maker)
    if type(amount_cents) is not int or amount_cents <= 0:
        raise InvalidRequest(
            "the amount must be a positive number of cents", field="amount", value=amount_cents
        )
    if (
        not isinstance(bank_reference, str)
        or not 1 <= len(bank_reference) <= 64
        or bank_reference != bank_reference.strip()
    ):
        raise InvalidRequest(
            "the bank reference is 1-64 characters without surrounding spaces",
            field="bank_reference",
            value=bank_reference,
        )
    try:
        vendor = get_vendor(session, client_id)
    except UnknownVendor as exc:
        raise InvalidRequest(
            f"no vendor {client_id!r}", field="client_id", value=client_id
        ) from exc
    key = f"deposit:{vendor.id}:{bank_reference}"
    _pending_twin(session, key)
    if _deposit_posted(session, vendor.id, bank_reference) is not None:
        raise DuplicateRequest(
            f"bank reference {bank_reference} is already posted for {client_id}", dedupe_key=key
        )
    return _store(
        session,
        kind="deposit",
        subject=client_id,
        dedupe_key=key,
        payload={
            "vendor_id": vendor.id,
            "client_id": client_id,
            "vendor_name": vendor.name,
            "amount_cents": amount_cents,
            "bank_reference": bank_reference,
        },
        maker=maker,
    )


def _post_deposit(session: Session, payload: dict[str, Any], checker: str) -> dict[str, Any]:
    moved = deposit(
        session,
        vendor_id=payload["vendor_id"],
        amount_cents=payload["amount_cents"],
        bank_reference=payload["bank_reference"],
        actor=checker,
    )
    if not moved.applied:
        # Posted meanwhile by another path (the CLI): this approval must not claim it.
        raise DuplicateRequest(
            f"bank reference {payload['bank_reference']} was posted meanwhile",
            dedupe_key=f"deposit:{payload['vendor_id']}:{payload['bank_reference']}",
        )
    return {
        "journal_entry_id": moved.journal_entry_id,
        "balance_after_cents": moved.balance_after_cents,
    }


# -- tariff versions --------------------------------------------------------------------------


def _tariff_day(value: object, timezone: str | None) -> date:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidRequest("the first day is YYYY-MM-DD", field="effective_from", value=value)
    if day < local_day(utcnow(), utility_zone(timezone)):
        # Vends already made were priced with what was in force; a version cannot reach back.
        raise InvalidRequest(
            "a new tariff version starts today or later", field="effective_from", value=value
        )
    return day


def _version_exists(session: Session, code: str, day: date) -> bool:
    return (
        session.scalar(
            select(TariffVersion.id)
            .join(Tariff, Tariff.id == TariffVersion.tariff_id)
            .where(Tariff.code == code, TariffVersion.effective_from == day)
        )
        is not None
    )


def request_tariff_version(
    session: Session,
    *,
    code: str,
    description: str,
    effective_from: str,
    steps: list[tuple[int | None, int]],
    monthly_fixed_charge_cents: int,
    maker: str,
    timezone: str | None = None,
) -> Request:
    """Enter a tariff version (a new tariff, or new prices from a day on) for approval.

    ``steps`` are (upto_tenths, price_e4) pairs as the pricing rules take them, the last
    unbounded. Refused (:class:`InvalidRequest`) when the pricing rules refuse the steps or the
    day is past; :class:`DuplicateRequest` when that tariff already has a version from that day
    or one is pending."""
    maker = _user("maker", maker)
    code = code.strip() if isinstance(code, str) else code
    if not isinstance(code, str) or not 1 <= len(code) <= 32:
        raise InvalidRequest("a tariff code is 1-32 characters", field="code", value=code)
    day = _tariff_day(effective_from, timezone)
    try:
        checked = pricing.TariffSteps(
            code,
            description.strip(),
            tuple(pricing.Step(upto, price) for upto, price in steps),
            monthly_fixed_charge_cents,
        )
    except pricing.PricingError as exc:
        raise InvalidRequest(exc.message, field=exc.field or "steps", value=exc.value) from exc
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("steps are (upto, price) pairs", field="steps", value=steps) from exc
    key = f"tariff_version:{code}:{day.isoformat()}"
    _pending_twin(session, key)
    if _version_exists(session, code, day):
        raise DuplicateRequest(
            f"{code} already has a version from {day}; past receipts were priced with it",
            dedupe_key=key,
        )
    return _store(
        session,
        kind="tariff_version",
        subject=code,
        dedupe_key=key,
        payload={
            "code": code,
            "description": checked.description,
            "effective_from": day.isoformat(),
            "steps": [[s.upto_tenths, s.price_e4] for s in checked.steps],
            "monthly_fixed_charge_cents": checked.monthly_fixed_charge_cents,
            "summary": pricing.describe_tariff(checked),
        },
        maker=maker,
    )


def _post_tariff_version(
    session: Session, payload: dict[str, Any], timezone: str | None
) -> dict[str, Any]:
    day = _tariff_day(payload["effective_from"], timezone)  # still not in the past
    if _version_exists(session, payload["code"], day):
        raise DuplicateRequest(
            f"{payload['code']} got a version from {day} meanwhile",
            dedupe_key=f"tariff_version:{payload['code']}:{day.isoformat()}",
        )
    version = ensure_tariff_version(
        session,
        payload["code"],
        payload["description"],
        day,
        [(upto, price) for upto, price in payload["steps"]],
        payload["monthly_fixed_charge_cents"],
    )
    return {"tariff_version_id": version.id}


# -- vouchers ---------------------------------------------------------------------------------
#
# Activation sells a range of stock to its vendor (its float pays face value less commission);
# a void stops a range for ever and credits back what was sold. Both are the vouchers domain's
# own functions (gateway.vouchers.activation); here they are only entered and approved.


def _today(timezone: str | None) -> date:
    return local_day(utcnow(), utility_zone(timezone))


def _domain_refusal(exc: VoucherError | VendorAccountsError) -> DomainRefusal:
    return DomainRefusal(exc.message, domain_code=exc.code)


def _voucher_range(
    session: Session, batch_id: int | None, first: int | None, last: int | None
) -> tuple[int, int]:
    if batch_id is not None:
        try:
            return activation.batch_range(session, batch_id)
        except VoucherError as exc:
            raise InvalidRequest(exc.message, field="batch_id", value=batch_id) from exc
    if type(first) is not int or type(last) is not int or not 0 < first <= last:
        raise InvalidRequest(
            "a serial range is two serials, the first not after the last",
            field="serials",
            value=(first, last),
        )
    return first, last


def _rehearse(session: Session, write: Any) -> Any:
    """Run the domain write in a savepoint and undo it: what it would do, or why it refuses.

    The request is checked by the domain's own rules, not a copy of them; the savepoint is
    always rolled back, so entering a request changes nothing but the request."""
    nested = session.begin_nested()
    try:
        return write()
    except (VoucherError, VendorAccountsError) as exc:
        raise _domain_refusal(exc) from exc
    finally:
        nested.rollback()


def request_voucher_activation(
    session: Session,
    *,
    maker: str,
    batch_id: int | None = None,
    first_serial: int | None = None,
    last_serial: int | None = None,
    timezone: str | None = None,
) -> Request:
    """Enter the activation of a whole batch or of a serial range; it is sold on approval.

    Refused (:class:`InvalidRequest`) for an unknown batch or a malformed range,
    :class:`DomainRefusal` when the domain would refuse it now (nothing to activate, several
    vendors, expired, the float too low), :class:`DuplicateRequest` when the same range waits."""
    maker = _user("maker", maker)
    low, high = _voucher_range(session, batch_id, first_serial, last_serial)
    key = f"voucher_activate:{low}-{high}"
    _pending_twin(session, key)
    would = _rehearse(
        session,
        lambda: activation.activate(session, low, high, actor=maker, today=_today(timezone)),
    )
    return _store(
        session,
        kind="voucher_activate",
        subject=f"{format_serial(low)}-{format_serial(high)}",
        dedupe_key=key,
        payload={
            "batch_id": batch_id,
            "first_serial": low,
            "last_serial": high,
            "count": would.count,
            "face_cents": would.face_cents,
            "commission_cents": would.commission_cents,
        },
        maker=maker,
    )


def request_voucher_void(
    session: Session,
    *,
    maker: str,
    first_serial: int,
    last_serial: int,
    reason: str,
) -> Request:
    """Enter the void of a serial range (lost or stolen stock) with its reason.

    Refused like :func:`request_voucher_activation`, and :class:`InvalidRequest` without a
    reason."""
    maker = _user("maker", maker)
    low, high = _voucher_range(session, None, first_serial, last_serial)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidRequest(
            "a void needs a reason (at most 500 characters)", field="reason", value=reason
        )
    reason = reason.strip()
    key = f"voucher_void:{low}-{high}"
    _pending_twin(session, key)
    would = _rehearse(
        session, lambda: activation.void(session, low, high, reason=reason, actor=maker)
    )
    return _store(
        session,
        kind="voucher_void",
        subject=f"{format_serial(low)}-{format_serial(high)}",
        dedupe_key=key,
        payload={
            "first_serial": low,
            "last_serial": high,
            "reason": reason,
            "count": would.voided,
            "face_cents": would.face_cents,
            "credited_back_cents": would.credited_back_cents,
        },
        maker=maker,
    )


def _post_voucher_activation(
    session: Session, payload: dict[str, Any], checker: str, timezone: str | None
) -> dict[str, Any]:
    try:
        done = activation.activate(
            session,
            payload["first_serial"],
            payload["last_serial"],
            actor=checker,
            today=_today(timezone),
        )
    except (VoucherError, VendorAccountsError) as exc:
        raise _domain_refusal(exc) from exc
    return {
        "activated": done.count,
        "face_cents": done.face_cents,
        "commission_cents": done.commission_cents,
        "journal_entry_id": done.journal_entry_id,
    }


def _post_voucher_void(session: Session, payload: dict[str, Any], checker: str) -> dict[str, Any]:
    try:
        done = activation.void(
            session,
            payload["first_serial"],
            payload["last_serial"],
            reason=payload["reason"],
            actor=checker,
        )
    except (VoucherError, VendorAccountsError) as exc:
        raise _domain_refusal(exc) from exc
    return {
        "voided": done.voided,
        "face_cents": done.face_cents,
        "credited_back_cents": done.credited_back_cents,
        "already_redeemed": done.already_redeemed,
        "journal_entry_ids": list(done.journal_entry_ids),
    }


# -- deciding ---------------------------------------------------------------------------------


def _refusal(session: Session, request_id: int, user: str) -> ApprovalError:
    # Only picks the error after the conditional UPDATE matched nothing; that UPDATE decided.
    row = session.execute(
        select(_req.c.status, _req.c.checker, _req.c.maker).where(_req.c.id == request_id)
    ).first()
    if row is None:
        return UnknownRequest(request_id)
    status, checker, maker = row
    if status != "pending":
        return AlreadyDecided(request_id, status, checker)
    if maker == user:
        return OwnRequest(request_id, user)
    return AlreadyDecided(request_id, status, checker)  # unreachable under the row lock


def _decide(
    session: Session, request_id: int, user: str, status: str, note: str | None, *, own_ok: bool
) -> ApprovalRequest:
    conditions = [_req.c.id == request_id, _req.c.status == "pending"]
    if not own_ok:
        conditions.append(_req.c.maker != user)
    decided = session.execute(
        update(_req)
        .where(*conditions)
        .values(status=status, checker=user, decided_at=utcnow(), note=note)
        .returning(_req.c.id)
    ).first()
    if decided is None:
        raise _refusal(session, request_id, user)
    row = session.get(ApprovalRequest, request_id, populate_existing=True)
    assert row is not None  # the UPDATE just matched it
    return row


def approve(
    session: Session,
    request_id: int,
    *,
    checker: str,
    note: str | None = None,
    timezone: str | None = None,
) -> Request:
    """Approve a pending request and carry it out, in the caller's transaction.

    Raises :class:`OwnRequest` (the checker entered it), :class:`AlreadyDecided`,
    :class:`UnknownRequest`, or the domain's refusal (the request then stays pending once the
    caller rolls back)."""
    checker = _user("checker", checker)
    row = _decide(session, request_id, checker, "approved", _note(note), own_ok=False)
    payload = json.loads(row.payload)
    if row.kind == "deposit":
        result = _post_deposit(session, payload, checker)
    elif row.kind == "tariff_version":
        result = _post_tariff_version(session, payload, timezone)
    elif row.kind == "voucher_activate":
        result = _post_voucher_activation(session, payload, checker, timezone)
    elif row.kind == "voucher_void":
        result = _post_voucher_void(session, payload, checker)
    else:  # a kind of the schema whose domain is not here yet
        raise InvalidRequest(
            f"{row.kind} requests cannot be approved yet", field="kind", value=row.kind
        )
    row.result = json.dumps(result, sort_keys=True)
    session.flush()
    audit.record(
        session,
        checker,
        "approval.approve",
        row.subject,
        request_id=row.id,
        kind=row.kind,
        maker=row.maker,
        **result,
    )
    return _as_request(row)


def reject(session: Session, request_id: int, *, checker: str, note: str | None = None) -> Request:
    """Reject a pending request (nothing is posted); its maker may withdraw it this way too."""
    checker = _user("checker", checker)
    row = _decide(session, request_id, checker, "rejected", _note(note), own_ok=True)
    audit.record(
        session,
        checker,
        "approval.reject",
        row.subject,
        request_id=row.id,
        kind=row.kind,
        maker=row.maker,
        reason=row.note or "",
    )
    return _as_request(row)


def get_request(session: Session, request_id: int) -> Request:
    row = session.get(ApprovalRequest, request_id)
    if row is None:
        raise UnknownRequest(request_id)
    return _as_request(row)


def list_requests(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Request]:
    """Requests newest first, optionally of one kind and status."""
    query = select(ApprovalRequest).order_by(ApprovalRequest.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(ApprovalRequest.kind == kind)
    if status is not None:
        query = query.where(ApprovalRequest.status == status)
    return [_as_request(r) for r in session.scalars(query)]
