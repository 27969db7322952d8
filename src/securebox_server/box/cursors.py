"""Keyset cursors in URLs: opaque and tamper-proof.

A cursor names the last catalogue row a page examined, ``(issued_at, document_id)``. In a
URL it is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload)[:16])`` where the
payload is ``"v1|<microseconds since the epoch>|<document id>"``: a user cannot forge or
edit one (a changed byte fails the MAC, compared in constant time), and a cursor made with
another server key is refused. A position is all it reveals, and only to the user it was
made for (pages are computed under the reader's own visibility filter anyway).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Final

from securebox_auth.entitlements.catalogue import Cursor
from securebox_auth.entitlements.model import valid_document_id
from securebox_auth.errors import MalformedInput

__all__ = ["BadCursor", "CursorSeal"]

_VERSION: Final = "v1"
_TAG: Final = 16
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TEXT: Final = 200


class BadCursor(MalformedInput):
    """A page link whose cursor was edited, truncated or made by another server."""

    code: ClassVar[str] = "bad_cursor"
    status_hint: ClassVar[int] = 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSeal:
    """Seals and opens cursors with one server key (at least 32 bytes)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise MalformedInput("a cursor key is at least 32 bytes")
        self._key = key

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"box-cursor\x00" + payload, hashlib.sha256).digest()[:_TAG]

    def seal(self, cursor: Cursor) -> str:
        micros = (cursor.issued_at - _EPOCH) // timedelta(microseconds=1)
        payload = f"{_VERSION}|{micros}|{cursor.document_id}".encode()
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def open(self, token: str) -> Cursor:
        """The cursor of ``token``, else :class:`BadCursor` (never a partial answer)."""
        if not isinstance(token, str) or not 1 <= len(token) <= _MAX_TEXT or not token.isascii():
            raise BadCursor("this page link is not valid")
        body, _, tag = token.partition(".")
        try:
            payload, given = _unb64(body), _unb64(tag)
        except (binascii.Error, ValueError):
            raise BadCursor("this page link is not valid") from None
        if not hmac.compare_digest(self._tag(payload), given):
            raise BadCursor("this page link is not valid")
        try:  # a MAC-valid payload is ours; parse it defensively all the same
            version, micros, document_id = payload.decode().split("|")
            if version != _VERSION:
                raise ValueError(version)
            at = _EPOCH + timedelta(microseconds=int(micros))
            return Cursor(at, valid_document_id(document_id))
        except (ValueError, OverflowError, MalformedInput):
            raise BadCursor("this page link is not valid") from None
