"""Every message of the console's code and templates is in the English, French and Arabic
catalogs, translated (extracted with Babel and compared), and the catalogs compile."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.mofile import read_mo

from vendgw.console import catalogs


def test_every_message_is_in_every_catalog_and_translated() -> None:
    wanted = {m.id for m in catalogs.extract() if m.id}
    # not vacuous: messages of Python code and of templates are both extracted
    assert "Wrong username or password, or the account is locked." in wanted  # pages/auth.py
    assert "Vends per hour" in wanted and "Sales today" in wanted  # code, template
    assert len(wanted) > 100
    problems = catalogs.problems()
    assert not problems, "\n".join(map(str, problems))


def test_a_new_message_missing_from_the_catalogs_is_found(tmp_path: Path) -> None:
    package = tmp_path / "console"
    shutil.copytree(catalogs.PACKAGE / "templates", package / "templates")
    (package / "templates" / "new.html").write_text(
        '{{ _("A sentence nobody has translated yet") }}', encoding="utf-8"
    )
    (package / "new_page.py").write_text(
        'from flask_babel import gettext as _\n\nMESSAGE = _("Another new sentence")\n',
        encoding="utf-8",
    )
    found = {(p.language, p.msgid, p.what) for p in catalogs.problems(package)}
    for language in catalogs.LANGUAGES:
        assert (language, "A sentence nobody has translated yet", "missing") in found
        assert (language, "Another new sentence", "missing") in found


def test_the_catalogs_compile_and_carry_the_translations() -> None:
    for path in catalogs.compile_all():
        assert path.exists()
    with (catalogs.TRANSLATIONS / "ar" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        arabic = read_mo(fh)
    assert arabic.get("Dashboard").string == "لوحة المعلومات"
    with (catalogs.TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        french = read_mo(fh)
    assert french.get("Dashboard").string == "Tableau de bord"
