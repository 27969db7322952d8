"""What every factor codec shares: the format number, times, bytes and the read guard.

A stored document carries ``"v": FORMAT``; :func:`read_document` turns a document that is not
one of ours (wrong format, missing or mistyped field) into
:class:`~securebox_auth.errors.MalformedInput`. Used by the codecs re-exported from
:mod:`securebox_auth.stores.factor_codecs`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from securebox_auth.errors import MalformedInput

__all__ = [
    "FORMAT",
    "Doc",
    "b64_from",
    "b64_text",
    "hex_from_or_none",
    "hex_or_none",
    "integer_from",
    "read_document",
    "time_from",
    "time_from_or_none",
    "time_text",
    "time_text_or_none",
]

#: The format number of every document written here.
FORMAT: Final = 1


Doc = Mapping[str, Any]
T = TypeVar("T")


def time_text(moment: datetime) -> str:
    return moment.isoformat()


def time_text_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def time_from(text: object) -> datetime:
    if not isinstance(text, str):
        raise MalformedInput("a stored time is text")
    return datetime.fromisoformat(text)


def time_from_or_none(text: object) -> datetime | None:
    return None if text is None else time_from(text)


def hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def hex_from_or_none(text: object) -> bytes | None:
    return None if text is None else bytes.fromhex(str(text))


def b64_text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def b64_from(text: object) -> bytes:
    if not isinstance(text, str):
        raise MalformedInput("stored DER is base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedInput("stored DER is base64 text") from None


def integer_from(value: object) -> int:
    """A stored integer, exactly: ``6.0``, ``inf``, ``"6"`` or ``True`` are not one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedInput("a stored number is an integer")
    return value


def read_document(what: str, doc: Doc, build: Callable[[Doc], T]) -> T:
    """``build(doc)`` for a document of our format; anything else is MalformedInput."""
    if not isinstance(doc, Mapping) or doc.get("v") != FORMAT:
        raise MalformedInput(f"not a stored {what} (format)")
    try:
        return build(doc)
    except MalformedInput:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise MalformedInput(f"not a stored {what} ({type(exc).__name__})") from None
