"""Logging in and out, the second factor, and the user's own settings (language, TOTP).

/login takes `username` and `password`. Admin and finance users who have enrolled a TOTP
authenticator (and anyone else who has) then give a code at /login/code. Success replaces the
session with a new one (a token from before the login is worth nothing after it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from vendgw.console import users, web
from vendgw.console.access import allowed
from vendgw.console.forms import ActionForm, CodeForm, LanguageForm, LoginForm
from vendgw.console.models import LANGUAGES, ConsoleUser
from vendgw.console.sessions import ServerSession

blueprint = Blueprint("auth", __name__)


def _server_session() -> ServerSession:
    assert isinstance(session, ServerSession)
    return session


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never another host (an open redirect after login).
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


def _logged_in(user: ConsoleUser) -> Any:
    current = _server_session()
    language = user.language
    current.clear()
    current.renew = True
    current.user_id = user.id
    current["authenticated"] = True
    current["language"] = language
    return redirect(_safe_next(request.args.get("next")))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        with web.unit_of_work() as db:
            result = users.check_login(
                db, form.username.data or "", form.password.data or "", source=_source()
            )
            user = result.user
            if user is not None:
                db.flush()  # the cleared failure count, before the object leaves the session
                db.expunge(user)
        if user is None:
            flash(_("Wrong username or password, or the account is locked."), "error")
            return render_template("auth/login.html", form=form), 401
        if users.second_factor_required(user):
            current = _server_session()
            current.clear()
            current.renew = True
            current.user_id = user.id
            current["second_factor_for"] = user.id
            return redirect(url_for("auth.code", next=request.args.get("next")))
        return _logged_in(user)
    return render_template("auth/login.html", form=form)


@blueprint.route("/login/code", methods=["GET", "POST"])
def code() -> Any:
    current = _server_session()
    user_id = current.get("second_factor_for")
    if user_id is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        master_key = web.runtime().settings.master_key()
        with web.unit_of_work() as db:
            user = db.scalar(select(ConsoleUser).where(ConsoleUser.id == user_id).with_for_update())
            ok = (
                user is not None
                and user.status == "active"
                and users.check_second_factor(db, user, form.code.data or "", master_key)
            )
            if user is not None:
                db.flush()
                db.expunge(user)
        if ok and user is not None:
            return _logged_in(user)
        flash(_("That code was not accepted."), "error")
        return render_template("auth/code.html", form=form), 401
    return render_template("auth/code.html", form=form)


@blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    if g.get("user") is not None:
        with web.unit_of_work() as db:
            web.record(db, "console.logout", g.user.username)
    _server_session().ended = True
    return redirect(url_for("auth.login"))


@blueprint.route("/language", methods=["POST"])
def language() -> Any:
    form = LanguageForm()
    chosen = form.language.data if form.validate_on_submit() else None
    if chosen in LANGUAGES:
        if g.get("user") is not None:
            with web.unit_of_work() as db:
                user = db.get(ConsoleUser, g.user.id)
                assert user is not None
                users.set_language(db, user, chosen)
        session["language"] = chosen
    return redirect(_safe_next(request.form.get("next")))


@blueprint.route("/account", methods=["GET", "POST"])
@allowed("account")
def account() -> Any:
    """The user's second factor: start an enrolment (a new secret, shown here once), then
    confirm it with a code from the authenticator."""
    master_key = web.runtime().settings.master_key()
    secret = uri = None
    start = ActionForm(prefix="start")
    confirm = CodeForm(prefix="confirm")
    with web.unit_of_work() as db:
        user = db.get(ConsoleUser, g.user.id)
        assert user is not None
        if request.method == "POST" and "start-csrf_token" in request.form:
            if start.validate_on_submit():
                secret = users.start_enrolment(db, user, master_key)
                uri = users.provisioning_uri(secret, user.username)
                web.record(db, "console.totp_enrolment_started", user.username)
        elif request.method == "POST" and confirm.validate_on_submit():
            if users.confirm_enrolment(db, user, confirm.code.data or "", master_key):
                flash(_("Your authenticator is enrolled: it is asked for at every login."), "ok")
            else:
                flash(_("That code was not accepted."), "error")
        enrolled = user.totp_enrolled_at is not None
        pending = user.totp_secret is not None and not enrolled
    return render_template(
        "auth/account.html",
        start=start,
        confirm=confirm,
        secret=secret,
        uri=uri,
        enrolled=enrolled,
        pending=pending,
        must_enrol=g.user.role in users.SECOND_FACTOR_ROLES and not enrolled,
    )


def _source() -> str:
    return request.remote_addr or ""
