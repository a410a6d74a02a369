"""The console's message catalogs (gettext, Babel): extract, update, compile, check.

    python -m vendgw.console.catalogs update    extract every marked message of the code and
                                                templates, merge them into each language's .po
    python -m vendgw.console.catalogs compile   .po -> .mo (the build does this: `make catalogs`,
                                                a step of `make run` and `make test`)
    python -m vendgw.console.catalogs check     exit 1 when a message is missing or untranslated

The .po files are the source (checked in); the .mo files are built from them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parent
TRANSLATIONS = PACKAGE / "translations"
LANGUAGES = ("en", "fr", "ar")
# What holds messages, and how each is read: the console's Python and its Jinja templates.
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


@dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    what: str  # "missing" or "untranslated"

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.msgid!r}"


def extract(package: Path = PACKAGE) -> Catalog:
    """Every message marked in the console's code and templates, as a template catalog."""
    catalog = Catalog(project="vendgw console", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(package),
        METHOD_MAP,
        options_map={"templates/**.html": {"extensions": "jinja2.ext.do"}},
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def _read(language: str) -> Catalog:
    with po_path(language).open("rb") as fh:
        return read_po(fh, locale=language)


def update() -> None:
    """Merge the extracted messages into every language's catalog (new ones untranslated)."""
    template = extract()
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = _read(language)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, project="vendgw console", charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, sort_output=True)


def compile_all() -> list[Path]:
    """Write each language's .mo beside its .po; returns the files written."""
    written = []
    for language in LANGUAGES:
        catalog = _read(language)
        target = po_path(language).with_suffix(".mo")
        with target.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        written.append(target)
    return written


def _texts(message_id: object) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (str(message_id),)


def problems(package: Path = PACKAGE) -> list[Problem]:
    """Messages of the code and templates that a catalog lacks, or (French, Arabic) leaves
    untranslated. English is the source language: an empty msgstr there means the msgid."""
    found = []
    wanted = [m for m in extract(package) if m.id]
    for language in LANGUAGES:
        catalog = _read(language)
        for message in wanted:
            entry = catalog.get(message.id, context=message.context)
            if entry is None:
                found.append(Problem(language, _texts(message.id)[0], "missing"))
                continue
            if language == "en":
                continue
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if entry.fuzzy or not all(strings):
                found.append(Problem(language, _texts(message.id)[0], "untranslated"))
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
        return 0
    if command == "compile":
        for path in compile_all():
            print(path.relative_to(PACKAGE.parent.parent))
        return 0
    if command == "check":
        found = problems()
        for problem in found:
            print(problem)
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
