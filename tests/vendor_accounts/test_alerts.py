"""Float alert levels and `vendgw float alerts`, mailing a real SMTP sink (aiosmtpd) started here:
one mail per vendor per day, however often the command runs, and never for a float above its
level."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from core.db import transaction
from core.models import AuditEvent
from core.settings import SmtpSettings
from tests.support.vendor_accounts import TZ, client_id, new_vendor
from vendor_accounts import InvalidInput, UnknownVendor
from vendor_accounts.alerts import (
    SmtpMailer,
    alert_level,
    below_alert_level,
    send_alerts,
    set_alert_level,
)
from vendor_accounts.models import FloatAlertSent

VENDGW = Path(sys.executable).with_name("vendgw")


@dataclass
class Sink:
    """What the SMTP sink received; ``refuse`` makes it answer 550 to mail for those addresses."""

    port: int
    messages: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse & set(envelope.rcpt_tos):
            return "550 mailbox unavailable"
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[Sink]:
    found = Sink(_free_port())
    controller = Controller(found, hostname="127.0.0.1", port=found.port)
    controller.start()
    try:
        yield found
    finally:
        controller.stop()


def _smtp(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        username="",
        password="",
        sender="vendgw@utility.test",
        alert_to="finance@utility.test",
        timeout_seconds=5,
    )


def _vendors(db) -> None:
    """Vendor 1 below its level, 2 above it, 3 below with an address of its own, 4 none."""
    with transaction(db.sessions) as s:
        for n, funded in ((1, 40_000), (2, 900_000), (3, 1_000), (4, 0)):
            new_vendor(s, n, funded_cents=funded)
        set_alert_level(s, client_id=client_id(1), level_cents=50_000, actor="fin")
        set_alert_level(s, client_id=client_id(2), level_cents=50_000, actor="fin")
        set_alert_level(
            s,
            client_id=client_id(3),
            level_cents=20_000,
            actor="fin",
            notify=["ops@vendor3.test"],
        )


def _run(db, sink: Sink, now: datetime | None = None):
    return send_alerts(
        db.sessions,
        SmtpMailer(_smtp(sink.port)),
        sender="vendgw@utility.test",
        alert_to=["finance@utility.test"],
        utility="Demo Power",
        currency="ZAR",
        timezone=TZ,
        now=now,
    )


def test_the_floats_below_their_level_furthest_first(db):
    _vendors(db)
    with db.sessions() as s:
        lows = below_alert_level(s)
        assert [(low.client_id, low.short_by_cents) for low in lows] == [
            (client_id(3), 19_000),
            (client_id(1), 10_000),
        ]
        assert lows[0].notify == ("ops@vendor3.test",)
        assert alert_level(s, lows[1].vendor_id) == 50_000
    with transaction(db.sessions) as s:  # removing the level removes the alert
        set_alert_level(s, client_id=client_id(3), level_cents=None, actor="fin")
    with db.sessions() as s:
        assert [low.client_id for low in below_alert_level(s)] == [client_id(1)]
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "fin")).all()
        assert actions.count("float.alert_level") == 4


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"level_cents": 0}, InvalidInput),
        ({"level_cents": 10.0}, InvalidInput),
        ({"notify": ["not an address"]}, InvalidInput),
        ({"client_id": client_id(8)}, UnknownVendor),
    ],
)
def test_bad_alert_levels_are_refused(db, kwargs, error):
    with transaction(db.sessions) as s:
        new_vendor(s, 1)
    args = {"client_id": client_id(1), "level_cents": 100, "actor": "fin", **kwargs}
    with pytest.raises(error), transaction(db.sessions) as s:
        set_alert_level(s, **args)
    with db.sessions() as s:
        assert below_alert_level(s) == []


def test_one_mail_per_vendor_per_day_however_often_it_runs(db, sink):
    _vendors(db)
    first = _run(db, sink)
    assert sorted(low.client_id for low in first.sent) == [client_id(1), client_id(3)]
    second = _run(db, sink)
    assert second.sent == () and len(second.already_sent) == 2
    assert len(sink.messages) == 2
    assert len(sink.to("finance@utility.test")) == 2
    [mail3] = sink.to("ops@vendor3.test")
    assert client_id(3) in mail3["Subject"] and "Vendor 3" in mail3["Subject"]
    body = mail3.get_payload()
    assert "ZAR 10.00" in body and "ZAR 200.00" in body  # balance and level, from cents

    # The next local day, the floats still low: one more each.
    third = _run(db, sink, now=datetime.now(UTC) + timedelta(days=1))
    assert len(third.sent) == 2 and len(sink.messages) == 4
    with db.sessions() as s:
        assert s.scalar(select(func.count(FloatAlertSent.id))) == 4


def test_two_runs_at_the_same_moment_send_each_mail_once(db, sink):
    _vendors(db)
    start = threading.Barrier(3)
    runs = []

    def cron() -> None:
        start.wait()
        runs.append(_run(db, sink))

    threads = [threading.Thread(target=cron) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 3
    assert sum(len(r.sent) for r in runs) == 2
    assert sum(len(r.already_sent) for r in runs) == 4
    assert len(sink.messages) == 2


def test_a_mail_the_relay_refuses_is_tried_again_next_run(db, sink):
    _vendors(db)
    sink.refuse.add("ops@vendor3.test")
    first = _run(db, sink)
    assert [low.client_id for low in first.sent] == [client_id(1)]
    assert [low.client_id for low, _ in first.failed] == [client_id(3)]
    assert "550" in first.failed[0][1]
    sink.refuse.clear()
    second = _run(db, sink)
    assert [low.client_id for low in second.sent] == [client_id(3)]
    assert len(sink.messages) == 2


def test_no_mail_without_a_recipient(db, sink):
    _vendors(db)
    run = send_alerts(
        db.sessions,
        SmtpMailer(_smtp(sink.port)),
        sender="vendgw@utility.test",
        alert_to=[],
        utility="Demo Power",
        currency="ZAR",
        timezone=TZ,
    )
    assert [low.client_id for low in run.no_recipient] == [client_id(1)]
    assert [low.client_id for low in run.sent] == [client_id(3)]


def test_the_command_run_twice_by_cron_mails_once(db, sink):
    _vendors(db)
    env = {
        **os.environ,
        **db.env(),
        "VENDGW_SMTP_HOST": "127.0.0.1",
        "VENDGW_SMTP_PORT": str(sink.port),
        "VENDGW_SMTP_ALERT_TO": "finance@utility.test",
        "VENDGW_UTILITY_TIMEZONE": TZ,
    }
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [str(VENDGW), "float", "alerts"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    assert "2 sent, 0 already sent today" in outputs[0]
    assert "0 sent, 2 already sent today" in outputs[1]
    assert len(sink.messages) == 2

    dry = subprocess.run(
        [str(VENDGW), "float", "alerts", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dry.returncode == 0 and client_id(1) in dry.stdout and len(sink.messages) == 2


def test_the_command_fails_when_the_relay_is_down(db):
    _vendors(db)
    env = {
        **os.environ,
        **db.env(),
        "VENDGW_SMTP_PORT": str(_free_port()),  # nothing listens there
        "VENDGW_SMTP_ALERT_TO": "finance@utility.test",
        "VENDGW_SMTP_TIMEOUT_SECONDS": "3",
    }
    done = subprocess.run(
        [str(VENDGW), "float", "alerts"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "2 alert(s) not sent" in done.stderr
    with db.sessions() as s:
        assert s.scalar(select(func.count(FloatAlertSent.id))) == 0
