"""A document's body as an HTTP answer: its media type, ``Content-Disposition`` (RFC 6266,
with the RFC 8187 ``filename*`` for names beyond ASCII), ``Repr-Digest`` (RFC 9530: the
SHA-256 of the bytes, which the client checks against the document's metadata), an
``ETag`` of the same digest, and the middleware's ``nosniff`` and ``no-store``.

The bytes come from :meth:`DocumentStore.stream` (ADR 0058): checked whole before the
answer starts (a body that fails its digest is never served: :class:`BodyCorrupted`, an
alert, ``503``), then sent as :class:`BodyStream` chunks, hashed again on the way; a body
changed in between is cut short before its last chunk (the connection closed with its
``Content-Length`` unmet), never served whole. Memory per download: a chunk or two.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import anyio.to_thread
from fastapi import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from securebox_auth.entitlements.model import Operation
from securebox_auth.identity import Principal
from securebox_server.api.common import api_problem
from securebox_server.box.blobs import Streamed
from securebox_server.box.model import BodyCorrupted
from securebox_server.box.reading import BoxReader

__all__ = ["BodyStream", "body_response", "content_disposition", "download", "repr_digest"]

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


class BodyStream(Response):
    """A ``200`` carrying a :class:`Streamed` body with its ``Content-Length``: each chunk
    read in a worker thread and sent before the next is read. When the second pass finds
    the body changed (:class:`BodyCorrupted`, already alerted), the answer stops before
    its last chunk and the server closes the connection: the client sees a short body,
    never a complete corrupted one."""

    def __init__(
        self, body: Streamed, *, media_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.streamed = body
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers({**(headers or {}), "Content-Length": str(body.size)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = self.streamed.chunks
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await send(start)
        try:
            if scope.get("method") != "HEAD":
                while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except BodyCorrupted:
            return  # cut short (see the class)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def body_response(
    data: bytes | Streamed,
    *,
    media_type: str,
    filename: str,
    digest_hex: str,
    inline: bool = False,
) -> Response:
    """The answer carrying ``data`` (``digest_hex`` is its checked SHA-256)."""
    response: Response
    if isinstance(data, Streamed):
        response = BodyStream(data, media_type=media_type)
    else:
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
        doc, body = reader.stream(principal, document_id, Operation.DOWNLOAD)
    except BodyCorrupted:
        return api_problem(request, 503, "body_corrupted", headers={"Retry-After": "3600"})
    return body_response(
        body, media_type=doc.media_type, filename=doc.filename, digest_hex=doc.digest
    )
