"""Document file names: sanitised once on upload, then safe in any header, page or file system.

:func:`safe_filename` keeps what a person would recognise of a sender's name (accents
included) and drops what could hurt: path parts (``../``, ``C:\\``), control, format and
bidirectional characters (U+202E would show ``fdp.exe`` as ``exe.pdf``), characters that
Windows refuses, device names (``CON``, ``NUL``...), leading dots. The result is NFC, at most
:data:`MAX_STEM` characters before its ``.pdf`` extension, never empty.

:func:`content_disposition` writes the header of RFC 6266 with both forms of the name: an
ASCII fallback in ``filename`` (accents folded, anything else replaced) and the exact UTF-8
name in ``filename*`` (RFC 8187, which replaced RFC 5987).
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar, Final
from urllib.parse import quote

from securebox_auth.errors import MalformedInput

__all__ = ["MAX_STEM", "FilenameError", "ascii_filename", "content_disposition", "safe_filename"]

MAX_STEM: Final = 120
MAX_INPUT: Final = 1024
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACES: Final = re.compile(r"\s+")
_WINDOWS_RESERVED: Final = re.compile(r'[<>:"|?*\x00-\x1f\\/]')
_DEVICES: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
)
_EXTENSION: Final = ".pdf"
# RFC 8187 attr-char without ALPHA / DIGIT (quote() keeps those and "_.-~").
_ATTR_CHAR: Final = "!#$&+-.^_`|~"


class FilenameError(MalformedInput):
    """A file name that leaves nothing usable once sanitised (or is absurdly long)."""

    code: ClassVar[str] = "bad_filename"


def safe_filename(name: str) -> str:
    """The sanitised form of ``name`` (see the module documentation), ending in ``.pdf``."""
    if not isinstance(name, str) or len(name) > MAX_INPUT:
        raise FilenameError("the file name is not usable")
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    kept = "".join(
        " " if unicodedata.category(c) in {"Zl", "Zp"} else c
        for c in name
        if unicodedata.category(c) not in _DROPPED_CATEGORIES
    )
    kept = _SPACES.sub(" ", _WINDOWS_RESERVED.sub("_", kept))
    stem = kept.strip(" .")
    if stem.lower().endswith(_EXTENSION):
        stem = stem[: -len(_EXTENSION)].rstrip(" .")
    if not stem.strip("_ -"):
        raise FilenameError("the file name is not usable")
    if stem.split(".", 1)[0].upper() in _DEVICES:
        stem = f"_{stem}"
    stem = unicodedata.normalize("NFC", stem[:MAX_STEM]).rstrip(" .")
    return stem + _EXTENSION


def ascii_filename(name: str) -> str:
    """An ASCII rendering of an already safe ``name``: accents folded, the rest ``_``."""
    folded = unicodedata.normalize("NFKD", name)
    out = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\%' else "_"
        for c in folded
        if not unicodedata.combining(c)
    )
    return out or "document.pdf"


def content_disposition(name: str, *, inline: bool = False) -> str:
    """``Content-Disposition`` for a body named ``name`` (sanitised again, to be safe)."""
    safe = safe_filename(name)
    kind = "inline" if inline else "attachment"
    return (
        f'{kind}; filename="{ascii_filename(safe)}"; '
        f"filename*=UTF-8''{quote(safe, safe=_ATTR_CHAR)}"
    )
