"""Every string the server's templates and code mark for translation is in both catalogs,
and translated in French (the default language): extracted with Babel from ``babel.cfg``,
as ``docs/server.md`` tells a translator to."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "src" / "securebox_server"


def _extracted() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        SERVER, method_map, options_map
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(lang: str) -> dict[str, str]:
    path = SERVER / "locale" / lang / "LC_MESSAGES" / "messages.po"
    found: dict[str, str] = {}
    with path.open("rb") as po:
        for m in read_po(po):
            key = m.id if isinstance(m.id, str) else m.id[0]
            value = m.string if isinstance(m.string, str) else (m.string or [""])[0]
            if key:
                found[key] = value or ""
    return found


def test_every_marked_string_is_translated_in_french_and_listed_in_english() -> None:
    extracted = _extracted()
    assert len(extracted) > 400  # the extraction found the templates
    french, english = _catalog("fr"), _catalog("en")
    assert sorted(m for m in extracted if not french.get(m)) == []
    assert sorted(m for m in extracted if m not in english) == []
