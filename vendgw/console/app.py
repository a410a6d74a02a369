"""The console's application factory: Flask, its server-side sessions, CSRF, languages, pages.

`create_app(runtime)` builds the application; gunicorn serves `vendgw.console.wsgi:application`
(`vendgw console --bind HOST:PORT`), on an address of its own, never the vendors' SOAP port.
Pages are blueprints listed in PAGES, each a module with a `blueprint` (see FRAMEWORK.md).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, g, render_template, request, session
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from core.runtime import Runtime
from vendgw.console import access, web
from vendgw.console.models import LANGUAGES, ConsoleUser
from vendgw.console.sessions import DatabaseSessionInterface, ServerSession

log = logging.getLogger("gateway.console")

# The pages: (module, attribute) of each blueprint, registered in this order.
PAGES = [
    ("vendgw.console.pages.auth", "blueprint"),
    ("vendgw.console.pages.dashboard", "blueprint"),
    ("vendgw.console.pages.vendors", "blueprint"),
    ("vendgw.console.pages.meters", "blueprint"),
    ("vendgw.console.pages.audit", "blueprint"),
    ("vendgw.console.pages.floats", "blueprint"),
    ("vendgw.console.pages.tariffs", "blueprint"),
    ("vendgw.console.pages.reconciliation", "blueprint"),
    ("vendgw.console.pages.reports", "blueprint"),
    ("vendgw.console.pages.vouchers", "blueprint"),
]

# Uploads (a vendor's reconciliation file) are the largest requests.
MAX_BODY_BYTES = 10 * 1024 * 1024
RTL_LANGUAGES = frozenset({"ar"})
_SECRET_INFO = b"vendgw console csrf-signing v1"


def _secret_key(master_key: bytes) -> bytes:
    # Flask-WTF signs its CSRF tokens with it: a key of its own, derived from the master key.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SECRET_INFO).derive(
        bytes(master_key)
    )


def _language() -> str:
    user = g.get("user")
    if user is not None:
        return str(user.language)
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    best = request.accept_languages.best_match(LANGUAGES)
    return best or "en"


def _load_user(app: Flask) -> None:
    """g.user: the session's user when logged in (second factor passed) and still active."""
    g.user = None
    current = session
    if not isinstance(current, ServerSession) or current.user_id is None:
        return
    if not current.get("authenticated"):
        return
    with web.unit_of_work() as db:
        user = db.scalar(select(ConsoleUser).where(ConsoleUser.id == current.user_id))
        if user is None or user.status != "active":
            current.ended = True
            return
        db.expunge(user)
    g.user = user


def _security_headers(response: Any) -> Any:
    # Everything is served from here (no CDN); pages carry tokens and balances: never cached.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(runtime: Runtime, *, config: dict[str, Any] | None = None) -> Flask:
    app = Flask("vendgw.console", static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=_secret_key(runtime.settings.master_key()),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as its session (30 idle minutes)
        BABEL_DEFAULT_LOCALE="en",
        BABEL_DEFAULT_TIMEZONE=runtime.settings.utility.timezone,
        BABEL_TRANSLATION_DIRECTORIES="translations",
        BABEL_DOMAIN="messages",
    )
    app.config.update(config or {})
    app.extensions[web.RUNTIME_KEY] = runtime
    app.session_interface = DatabaseSessionInterface(runtime.sessions)
    CSRFProtect(app)
    Babel(app, locale_selector=_language)
    app.jinja_env.filters.update(web.TEMPLATE_FILTERS)
    app.jinja_env.globals.update(
        navigation=_navigation,
        languages=LANGUAGES,
        rtl_languages=RTL_LANGUAGES,
        get_locale=get_locale,
    )
    app.before_request(lambda: _load_user(app))
    app.after_request(_security_headers)

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> tuple[str, int]:
        return render_template("error.html", code=400, reason="csrf"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if error.code is None or error.code < 400:
            return error
        return render_template("error.html", code=error.code, reason=""), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        # Logged in full here; the browser learns only that it failed (no traceback).
        log.exception("console: the page %s %s failed", request.method, request.path)
        try:
            return render_template("error.html", code=500, reason=""), 500
        except Exception:  # the frame itself failed: plain text, still no traceback
            log.exception("console: the error page failed too")
            return "internal error\n", 500

    for module, attribute in PAGES:
        app.register_blueprint(getattr(importlib.import_module(module), attribute))
    return app


def _navigation() -> list[tuple[str, str]]:
    """(page, endpoint) of the pages the current user may open, for the menu; a blueprint
    with a `nav_shown` condition (the vouchers page: once a batch exists) is listed when it
    holds."""
    from flask import current_app

    user = g.get("user")
    if user is None:
        return []
    found = []
    for page, endpoint in access.NAVIGATION:
        if endpoint not in current_app.view_functions or not access.may_use(user.role, page):
            continue
        shown = getattr(current_app.blueprints.get(endpoint.split(".")[0]), "nav_shown", None)
        if shown is None or shown():
            found.append((page, endpoint))
    return found
