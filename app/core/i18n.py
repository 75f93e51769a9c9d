"""Translations: Babel catalogs (`app/translations/<locale>/LC_MESSAGES/messages.po`).

The `.po` files are read directly at start-up (no compiled `.mo` files to keep in sync).
Language: the user's choice (cookie), else `Accept-Language`, else the configured default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import NullTranslations
from fastapi import Request

from app.core.config import get_settings

TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "translations"
LOCALES = ("en", "zh_CN")
LANG_COOKIE = "procopt_lang"


class POTranslations(NullTranslations):
    """gettext over a catalog read from a `.po` file; untranslated or fuzzy entries fall back."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        with path.open("rb") as fh:
            catalog = read_po(fh)
        self._singular: dict[str, str] = {}
        self._plural: dict[str, tuple[str, ...]] = {}
        self._contextual: dict[tuple[str, str], str] = {}
        for msg in catalog:
            if not msg.id or msg.fuzzy or not msg.string:
                continue
            if isinstance(msg.id, tuple):
                if all(msg.string) and not msg.context:
                    self._plural[msg.id[0]] = tuple(msg.string)
            elif msg.context:
                self._contextual[(msg.context, msg.id)] = msg.string
            else:
                self._singular[msg.id] = msg.string

    def gettext(self, message: str) -> str:
        context = getattr(message, "context", None)  # a label marked with `NC_`
        if context is not None:
            return self.pgettext(context, message)
        return self._singular.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self._plural.get(singular)
        if forms is None:
            return singular if n == 1 else plural
        # zh_CN has one form; en has two (one, other).
        return forms[0] if len(forms) == 1 or n == 1 else forms[1]

    def pgettext(self, context: str, message: str) -> str:
        """`message` as meant in `context` ("Active" account, "Active" initiative): one English word can
        need different Chinese ones (`msgctxt` in the catalog)."""
        return self._contextual.get((context, str(message)), str(message))

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.ngettext(singular, plural, n)


@lru_cache
def translations(locale: str) -> NullTranslations:
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    return POTranslations(path) if path.exists() else NullTranslations()


def negotiate(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    for tag in _accept_language(request.headers.get("accept-language", "")):
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh_CN"  # the interface is written in Simplified Chinese
        if primary == "en":
            return "en"
    return get_settings().default_locale


def _accept_language(header: str) -> list[str]:
    """Language tags of an Accept-Language header, most preferred first (q=0 dropped)."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip().lower().replace("_", "-")))
    return [tag for _, _, tag in sorted(weighted)]


def gettext_for(locale: str):  # noqa: ANN201
    return translations(locale).gettext


def pgettext_for(locale: str):  # noqa: ANN201
    return translations(locale).pgettext


def html_lang(locale: str) -> str:
    return locale.replace("_", "-")
