"""A document's body as an HTTP answer: its media type, ``Content-Disposition`` (RFC 6266,
with the RFC 8187 ``filename*`` for names beyond ASCII), ``Repr-Digest`` (RFC 9530: the
SHA-256 of the bytes, which the client checks against the document's metadata), an
``ETag`` of the same digest, and the middleware's ``nosniff`` and ``no-store``.

The bytes come from :meth:`DocumentStore.body`, which checked the digest already: a body
that fails it is never served (:class:`BodyCorrupted`, an alert).
"""

from __future__ import annotations

import base64
import re
from typing import Final
from urllib.parse import quote

from fastapi import Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation
from securebox_auth.identity import Principal
from securebox_server.api.common import api_problem
from securebox_server.box.model import BodyCorrupted
from securebox_server.box.reading import BoxReader

__all__ = ["body_response", "content_disposition", "download", "repr_digest"]

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9 ._()+-]")


def repr_digest(digest_hex: str) -> str:
    """``sha-256=:<base64>:`` of a lowercase-hex SHA-256 (RFC 9530 section 3)."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(digest_hex)).decode()}:"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` (the plain name keeps to safe
    ASCII, the extended one carries the real name)."""
    name = filename.strip() or "document.pdf"
    plain = _UNSAFE.sub("_", name)[:150] or "document.pdf"
    kind = "inline" if inline else "attachment"
    value = f'{kind}; filename="{plain}"'
    if plain != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def body_response(
    data: bytes, *, media_type: str, filename: str, digest_hex: str, inline: bool = False
) -> Response:
    """The answer carrying ``data`` (``digest_hex`` is its checked SHA-256)."""
    response = Response(data, media_type=media_type)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["Repr-Digest"] = repr_digest(digest_hex)
    response.headers["ETag"] = f'"{digest_hex}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def download(
    request: Request, reader: BoxReader, principal: Principal, document_id: str
) -> Response:
    """``principal`` downloads the document (a recorded read, :meth:`BoxReader.read`): its
    body, or ``404`` when they may not, or ``503`` ``body_corrupted`` (never the bytes)."""
    try:
        doc, body = reader.read(principal, document_id, Operation.DOWNLOAD)
    except BodyCorrupted:
        return api_problem(request, 503, "body_corrupted", headers={"Retry-After": "3600"})
    return body_response(
        body, media_type=doc.media_type, filename=doc.filename, digest_hex=doc.digest
    )
