"""Opaque page cursors of the box's APIs: base64url (no padding) of a short JSON array of
strings. A cursor only says where a keyset page resumes; every page is filtered by what the
caller may see, so a forged cursor moves the position and reveals nothing. A cursor that
does not decode is :class:`MalformedInput` (400)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Final

from securebox_auth.entitlements.catalogue import Cursor
from securebox_auth.entitlements.model import valid_document_id
from securebox_auth.errors import MalformedInput

__all__ = ["MAX_CURSOR", "decode", "encode", "from_catalogue", "to_catalogue"]

MAX_CURSOR: Final = 400


def encode(parts: list[str]) -> str:
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(text: str, count: int) -> list[str]:
    """The ``count`` strings of a cursor made by :func:`encode`."""
    if not 0 < len(text) <= MAX_CURSOR or not text.isascii():
        raise MalformedInput("the cursor is not valid")
    try:
        parts = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise MalformedInput("the cursor is not valid") from None
    if (
        not isinstance(parts, list)
        or len(parts) != count
        or not all(isinstance(p, str) and 0 < len(p) <= 100 for p in parts)
    ):
        raise MalformedInput("the cursor is not valid")
    return parts


def from_catalogue(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    return encode([cursor.issued_at.isoformat(), cursor.document_id])


def to_catalogue(text: str | None) -> Cursor | None:
    if text is None:
        return None
    when, document_id = decode(text, 2)
    try:
        issued_at = datetime.fromisoformat(when)
        valid_document_id(document_id)
    except ValueError:
        raise MalformedInput("the cursor is not valid") from None
    if issued_at.tzinfo is None:
        raise MalformedInput("the cursor is not valid")
    return Cursor(issued_at, document_id)
