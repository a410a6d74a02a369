"""Float alert levels: finance hears, once a day per vendor, of every float below its alert level.

Each vendor may have an alert level (cents; no level, no alert). :func:`below_alert_level` lists
the floats under theirs (the console's dashboard shows them) and :func:`send_alerts` (``vendgw
float alerts``, run from cron or a systemd timer as often as wanted) mails each of those vendors'
recipients at most once per utility-local day:

* the day's mail is claimed by a row in ``float_alert_sent`` (unique per vendor and day), inserted
  in the same transaction that sends it and committed only after the relay accepted the mail: a
  second run the same day finds the row and sends nothing, two runs at the same moment meet on
  the unique key (the second waits for the first and then skips), and a mail the relay refused
  leaves no row, so the next run tries again;
* the one gap is a crash between the relay's acceptance and the commit: that vendor may get a
  second mail that day. A duplicate warning is the lesser harm than a lost one.

The mail goes out through :class:`Mailer`; :class:`SmtpMailer` speaks SMTP (smtplib) with the
[smtp] settings. Amounts are integer cents until they are formatted for the mail.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.db import utcnow
from core.localtime import local_day, utility_zone
from core.money import format_cents
from core.settings import SmtpSettings
from vendor_accounts.exceptions import InvalidInput, UnknownVendor
from vendor_accounts.models import (
    FloatAccount,
    FloatAlertLevel,
    FloatAlertSent,
    Vendor,
)

__all__ = [
    "AlertRun",
    "LowFloat",
    "Mailer",
    "SmtpMailer",
    "alert_level",
    "below_alert_level",
    "send_alerts",
    "set_alert_level",
]

_level = cast(Table, FloatAlertLevel.__table__)
_sent = cast(Table, FloatAlertSent.__table__)
_fa = cast(Table, FloatAccount.__table__)
_vendor = cast(Table, Vendor.__table__)

# Deliberately plain: an address the relay can take, not RFC 5322 in full.
_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+")


@dataclass(frozen=True)
class LowFloat:
    """A float below its alert level, as the dashboard and the mail show it."""

    vendor_id: int
    client_id: str
    name: str
    status: str
    balance_cents: int
    available_cents: int
    level_cents: int
    notify: tuple[str, ...]

    @property
    def short_by_cents(self) -> int:
        return self.level_cents - self.balance_cents


@dataclass(frozen=True)
class AlertRun:
    """What one run of :func:`send_alerts` did."""

    day: date
    sent: tuple[LowFloat, ...] = ()
    already_sent: tuple[LowFloat, ...] = ()
    no_recipient: tuple[LowFloat, ...] = ()
    failed: tuple[tuple[LowFloat, str], ...] = field(default=())


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand one message to the relay; raise when it was not accepted."""


class SmtpMailer:
    """SMTP through smtplib: one connection per message (a run sends a handful a day)."""

    def __init__(self, settings: SmtpSettings) -> None:
        if settings.security not in ("none", "starttls", "ssl"):
            raise ValueError("smtp.security is none, starttls or ssl")
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        client: smtplib.SMTP
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        with client:
            if s.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password)
            client.send_message(message)


def _addresses(values: Iterable[str], field_name: str) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not _ADDRESS.fullmatch(part):
                raise InvalidInput(f"{part!r} is not a mail address", field=field_name, value=part)
            if part not in found:
                found.append(part)
    return tuple(found)


def set_alert_level(
    session: Session,
    *,
    client_id: str,
    level_cents: int | None,
    actor: str,
    notify: Sequence[str] = (),
) -> None:
    """Set a vendor's alert level (cents, more than zero) and its own recipients, or remove it
    with None. Audited as ``float.alert_level``."""
    if level_cents is not None and (type(level_cents) is not int or level_cents <= 0):
        raise InvalidInput(
            "an alert level is a positive number of cents", field="level_cents", value=level_cents
        )
    addresses = _addresses(notify, "notify")
    vendor_id = session.scalar(select(_vendor.c.id).where(_vendor.c.client_id == client_id))
    if vendor_id is None:
        raise UnknownVendor(client_id=client_id)
    session.execute(delete(_level).where(_level.c.vendor_id == vendor_id))
    if level_cents is not None:
        session.execute(
            _level.insert().values(
                vendor_id=vendor_id,
                level_cents=level_cents,
                notify=" ".join(addresses),
                updated_by=actor,
                updated_at=utcnow(),
            )
        )
    audit.record(
        session,
        actor,
        "float.alert_level",
        client_id,
        level_cents=level_cents,
        notify=list(addresses),
    )


def alert_level(session: Session, vendor_id: int) -> int | None:
    """The vendor's alert level in cents, or None when it has none."""
    return session.scalar(select(_level.c.level_cents).where(_level.c.vendor_id == vendor_id))


_BELOW = (
    select(
        _vendor.c.id,
        _vendor.c.client_id,
        _vendor.c.name,
        _vendor.c.status,
        _fa.c.balance_cents,
        _fa.c.floor_cents,
        _level.c.level_cents,
        _level.c.notify,
    )
    .join(_fa, _fa.c.vendor_id == _vendor.c.id)
    .join(_level, _level.c.vendor_id == _vendor.c.id)
    .where(_fa.c.balance_cents < _level.c.level_cents, _vendor.c.status != "closed")
    .order_by((_level.c.level_cents - _fa.c.balance_cents).desc(), _vendor.c.client_id)
)


def below_alert_level(session: Session) -> list[LowFloat]:
    """Every float (of a vendor not closed) below its alert level, the furthest below first."""
    return [
        LowFloat(
            vendor_id=vid,
            client_id=cid,
            name=name,
            status=status,
            balance_cents=balance,
            available_cents=balance - floor,
            level_cents=level,
            notify=tuple(notify.split()),
        )
        for vid, cid, name, status, balance, floor, level, notify in session.execute(_BELOW)
    ]


def _message(
    low: LowFloat, day: date, recipients: tuple[str, ...], sender: str, utility: str, currency: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"{utility}: float of {low.name} ({low.client_id}) below its alert level"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(
        f"The prepaid float of {low.name} (clientID {low.client_id}) is below its alert level on "
        f"{day.isoformat()}.\n\n"
        f"Balance:      {currency} {format_cents(low.balance_cents)}\n"
        f"Alert level:  {currency} {format_cents(low.level_cents)}\n"
        f"Short by:     {currency} {format_cents(low.short_by_cents)}\n"
        f"Available:    {currency} {format_cents(low.available_cents)} (down to the floor)\n\n"
        "Vends are refused once the available credit runs out. This is the only alert for this "
        "vendor today.\n"
    )
    return message


def send_alerts(
    sessions: sessionmaker[Session],
    mailer: Mailer,
    *,
    sender: str,
    alert_to: Sequence[str],
    utility: str,
    currency: str,
    timezone: str | None = None,
    now: datetime | None = None,
) -> AlertRun:
    """Mail every vendor's recipients (and ``alert_to``) whose float is below its alert level,
    at most once per vendor per local day. Each vendor is one transaction of its own."""
    at = now or utcnow()
    day = local_day(at, utility_zone(timezone))
    common = _addresses(alert_to, "alert_to")
    with sessions() as session:
        lows = below_alert_level(session)
    sent: list[LowFloat] = []
    already: list[LowFloat] = []
    nobody: list[LowFloat] = []
    failed: list[tuple[LowFloat, str]] = []
    for low in lows:
        recipients = tuple(dict.fromkeys((*common, *low.notify)))
        if not recipients:
            nobody.append(low)
            continue
        outcome = _send_one(sessions, mailer, low, day, at, recipients, sender, utility, currency)
        if outcome is None:
            sent.append(low)
        elif outcome == "already":
            already.append(low)
        else:
            failed.append((low, outcome))
    return AlertRun(day, tuple(sent), tuple(already), tuple(nobody), tuple(failed))


def _send_one(
    sessions: sessionmaker[Session],
    mailer: Mailer,
    low: LowFloat,
    day: date,
    at: datetime,
    recipients: tuple[str, ...],
    sender: str,
    utility: str,
    currency: str,
) -> str | None:
    """None when sent; "already" when today's mail was sent; else why the relay refused."""
    with sessions() as session:
        try:
            with session.begin():
                claimed = session.scalar(
                    select(_sent.c.id).where(_sent.c.vendor_id == low.vendor_id, _sent.c.day == day)
                )
                if claimed is not None:
                    return "already"
                # The claim waits here for a run sending the same vendor's mail at this moment.
                session.execute(
                    _sent.insert().values(
                        vendor_id=low.vendor_id,
                        day=day,
                        balance_cents=low.balance_cents,
                        level_cents=low.level_cents,
                        recipients=" ".join(recipients),
                        sent_at=at,
                    )
                )
                audit.record(
                    session,
                    "vendgw",
                    "float.alert_sent",
                    low.client_id,
                    day=day.isoformat(),
                    balance_cents=low.balance_cents,
                    level_cents=low.level_cents,
                    recipients=list(recipients),
                )
                mailer.send(_message(low, day, recipients, sender, utility, currency))
        except IntegrityError:
            return "already"  # a concurrent run claimed the day first and sent it
        except (smtplib.SMTPException, OSError) as exc:
            # Rolled back: no claim, so the next run tries again. The reason, never credentials.
            return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None
