"""Server-side sessions: Flask's `session` kept in the console_session table.

The browser holds only a random token in a cookie that is Secure, HttpOnly and SameSite=Strict;
the row (found by the token's SHA-256) holds the values. A session not used for 30 minutes is
over: the next request starts an anonymous one, and any page then sends the browser to /login.
Logging in replaces the session with a new token (no fixation), logging out deletes it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import CallbackDict

from core.db import transaction, utcnow
from vendgw.console.models import ConsoleSession

COOKIE_NAME = "vendgw_console"
IDLE_MINUTES = 30
# Sessions idle past their end are deleted by one in this many new sessions (no timer needed).
_SWEEP_ONE_IN = 50


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The session's values plus what the interface needs to save it."""

    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token  # None: not stored yet
        self.modified = False
        self.renew = False  # a new token at the next save (after login)
        self.ended = False  # delete at the next save (logout)
        self.user_id: int | None = None


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, sessions: sessionmaker[Session], *, idle_minutes: int = IDLE_MINUTES):
        self.sessions = sessions
        self.idle = timedelta(minutes=idle_minutes)

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(COOKIE_NAME, "")
        if not token or len(token) > 100:
            return ServerSession()
        now = utcnow()
        with transaction(self.sessions) as db:
            row = db.get(ConsoleSession, token_hash(token))
            if row is None:
                return ServerSession()
            if now - row.last_seen_at > self.idle:
                db.delete(row)
                return ServerSession()
            row.last_seen_at = now  # the idle clock restarts with every request
            found = ServerSession(json.loads(row.data or "{}"), token)
            found.user_id = row.user_id
            return found

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        max_age = int(self.idle.total_seconds())
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)

        def forget() -> None:
            response.delete_cookie(
                COOKIE_NAME, path, domain, secure=True, httponly=True, samesite="Strict"
            )

        def keep(token: str) -> None:
            response.set_cookie(
                COOKIE_NAME,
                token,
                max_age=max_age,
                path=path,
                domain=domain,
                secure=True,
                httponly=True,
                samesite="Strict",
            )

        if session.ended:
            if session.token is not None:
                with transaction(self.sessions) as db:
                    db.execute(
                        delete(ConsoleSession).where(
                            ConsoleSession.token_hash == token_hash(session.token)
                        )
                    )
            forget()
            return
        if session.token is not None and not session.modified and not session.renew:
            # The row's last_seen_at moved on when it was opened; the cookie's life does too.
            keep(session.token)
            return
        if session.token is None and not session.modified:
            return  # nothing to keep: no row for a page view that stored nothing
        data = json.dumps(dict(session), sort_keys=True)
        now = utcnow()
        with transaction(self.sessions) as db:
            if session.token is not None and session.renew:
                db.execute(
                    delete(ConsoleSession).where(
                        ConsoleSession.token_hash == token_hash(session.token)
                    )
                )
                session.token = None
            if session.token is None:
                session.token = secrets.token_urlsafe(32)
                db.add(
                    ConsoleSession(
                        token_hash=token_hash(session.token),
                        user_id=session.user_id,
                        data=data,
                        created_at=now,
                        last_seen_at=now,
                    )
                )
                if secrets.randbelow(_SWEEP_ONE_IN) == 0:
                    sweep(db, now - self.idle)
            else:
                row = db.get(ConsoleSession, token_hash(session.token))
                if row is None:  # ended meanwhile (user disabled, password reset)
                    forget()
                    return
                row.data = data
                row.user_id = session.user_id
                row.last_seen_at = now
        keep(session.token)


def sweep(db: Session, before: datetime) -> int:
    """Delete the sessions idle since before `before`."""
    result = db.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def live_session_count(db: Session, user_id: int) -> int:
    return len(
        db.scalars(select(ConsoleSession.token_hash).where(ConsoleSession.user_id == user_id)).all()
    )
