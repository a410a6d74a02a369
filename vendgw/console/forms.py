"""The console's forms (Flask-WTF: each carries the CSRF token; a POST without one is a 400)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from vendgw.console.models import LANGUAGES

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية"}


class LoginForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF is untyped
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF is untyped
    code = StringField(
        _l("Code from your authenticator"), validators=[DataRequired(), Length(max=10)]
    )


class LanguageForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF is untyped
    language = SelectField(
        _l("Language"), choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]
    )


class ActionForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF is untyped
    """A form that is only a button: the CSRF token and nothing else."""
