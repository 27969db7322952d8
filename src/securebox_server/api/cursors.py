"""The opaque cursor of a sender's list (``GET /api/v1/sender/documents``): base64url (no
padding) of a short JSON array of strings, here the id of the last document shown. It only
says where a keyset page resumes: the store refuses an id that is not the sender's, so a
forged cursor reveals nothing. One that does not decode is :class:`MalformedInput` (400).
(The documents' cursors are :class:`~securebox_server.box.cursors.CursorSeal`'s, sealed.)"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Final

from securebox_auth.errors import MalformedInput

__all__ = ["MAX_CURSOR", "decode", "encode"]

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
