"""French and English with Babel and Jinja2's i18n extension.

The catalogs are the ``.po`` files under ``locale/``; they are compiled in memory at
start-up (Babel's ``read_po`` then ``write_mo``), so no binary ``.mo`` is committed and a
translation change needs no build step. The language of a request is the user's choice
(cookie, set by ``/lang``), then ``Accept-Language``, then French (the portal's language).
Extract with ``pybabel extract -F babel.cfg -o messages.pot src/securebox_server``.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = ["DEFAULT", "LANGUAGES", "N_", "negotiate", "translations"]

LANGUAGES: Final = ("fr", "en")
DEFAULT: Final = "fr"
LOCALE_DIR: Final = Path(__file__).parent / "locale"


@cache
def translations(lang: str) -> Translations:
    """The compiled catalog of ``lang`` (one of :data:`LANGUAGES`)."""
    if lang not in LANGUAGES:
        lang = DEFAULT
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def negotiate(choice: str | None, accept_language: str | None) -> str:
    """The cookie's choice if supported, else the best of ``Accept-Language``, else French."""
    if choice in LANGUAGES:
        return choice
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else DEFAULT


def N_(message: str) -> str:  # noqa: N802 (Babel's keyword for a msgid translated later)
    """``message`` unchanged: marks it for Babel's extraction (``babel.cfg``); the page
    that shows it translates it."""
    return message
