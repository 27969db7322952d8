"""A publication's ``multipart/form-data`` body, read as it streams in with a size cap.

The cap is checked twice: a ``Content-Length`` over it is refused before a byte is read,
and the stream is counted as it comes (a chunked body, or a client that lied about its
length), so an oversized upload is answered 413 without being read in full or spooled to
disk beyond the cap. Starlette's own :class:`~starlette.formparsers.MultiPartParser`
(python-multipart) parses the counted stream: one ``metadata`` part (JSON, at most
:data:`MAX_METADATA` bytes; a plain field, or a part with a file name and
``application/json``) and one ``file`` part (the PDF).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import ClassVar, Final

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from securebox_auth.errors import MalformedInput

__all__ = [
    "MAX_BATCH_METADATA",
    "MAX_METADATA",
    "OVERHEAD",
    "Batch",
    "BatchFile",
    "PayloadTooLarge",
    "Publication",
    "read_batch",
    "read_publication",
]

#: The ``metadata`` part: a thousand SIREN numbers and a label fit well under it.
MAX_METADATA: Final = 64 * 1024
#: What the multipart framing and the metadata may add to the PDF's own size limit.
OVERHEAD: Final = MAX_METADATA + 8 * 1024


class PayloadTooLarge(MalformedInput):
    """The request body is over the upload limit (RFC 9110 15.5.14: 413)."""

    code: ClassVar[str] = "payload_too_large"
    status_hint: ClassVar[int] = 413


class UnsupportedMediaType(MalformedInput):
    code: ClassVar[str] = "unsupported_media_type"
    status_hint: ClassVar[int] = 415


@dataclass(frozen=True, slots=True)
class Publication:
    """The two parts of a publication, as received (nothing checked but their sizes)."""

    metadata: bytes
    filename: str
    #: The file part's declared media type (``""`` when none).
    media_type: str
    data: bytes


async def _capped(request: Request, cap: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > cap:
            raise PayloadTooLarge("the upload is over the size limit")
        yield chunk


def _declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise MalformedInput("Content-Length is not a number")
    return int(text)


async def read_publication(request: Request, max_file: int) -> Publication:
    """The ``metadata`` and ``file`` parts of ``request`` (the PDF at most ``max_file``
    bytes, the whole body at most ``max_file + OVERHEAD``), else a typed error."""
    cap = max_file + OVERHEAD
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("a publication is multipart/form-data")
    declared = _declared_length(request)
    if declared is not None and declared > cap:
        raise PayloadTooLarge("the upload is over the size limit")
    parser = MultiPartParser(
        request.headers,
        _capped(request, cap),
        max_files=2,
        max_fields=1,
        max_part_size=MAX_METADATA,
    )
    try:
        form = await parser.parse()
    except MultiPartException:
        raise MalformedInput("the multipart body could not be read") from None
    try:
        metadata, upload = form.get("metadata"), form.get("file")
        if isinstance(metadata, UploadFile):  # sent as a part with a file name: read it too
            metadata = (await metadata.read(MAX_METADATA + 1)).decode("utf-8", "replace")
        if not isinstance(metadata, str) or not isinstance(upload, UploadFile):
            raise MalformedInput("a publication has a metadata field and a file part")
        if len(metadata) > MAX_METADATA:
            raise MalformedInput("the metadata part is too long")
        data = await upload.read(max_file + 1)
        if len(data) > max_file:
            raise PayloadTooLarge("the document is over the size limit")
        kind = (upload.content_type or "").split(";", 1)[0].strip().lower()
        return Publication(metadata.encode(), upload.filename or "", kind, data)
    finally:
        await form.close()


#: A batch's ``metadata`` part: a hundred items and a thousand SIRENs fit well under it.
MAX_BATCH_METADATA: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class BatchFile:
    """One file part of a batch, as received."""

    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch's ``metadata`` part and its file parts by part name."""

    metadata: bytes
    files: dict[str, BatchFile]


async def read_batch(request: Request, max_file: int, max_total: int, max_files: int) -> Batch:
    """The ``metadata`` field and up to ``max_files`` file parts of ``request`` (each at most
    ``max_file`` bytes, the whole body at most ``max_total``), else a typed error: 413 as
    for one publication, before the body is read when its ``Content-Length`` says so."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("a batch is multipart/form-data")
    declared = _declared_length(request)
    if declared is not None and declared > max_total:
        raise PayloadTooLarge("the batch is over the size limit")
    parser = MultiPartParser(
        request.headers,
        _capped(request, max_total),
        max_files=max_files,
        max_fields=1,
        max_part_size=MAX_BATCH_METADATA,
    )
    try:
        form = await parser.parse()
    except MultiPartException:
        raise MalformedInput("the multipart body could not be read") from None
    try:
        metadata = form.get("metadata")
        if not isinstance(metadata, str):
            raise MalformedInput("a batch has a metadata field and its file parts")
        files: dict[str, BatchFile] = {}
        for name, part in form.multi_items():
            if name == "metadata":
                continue
            if not isinstance(part, UploadFile) or name in files:
                raise MalformedInput("each file part has its own name and a file name")
            data = await part.read(max_file + 1)
            if len(data) > max_file:
                raise PayloadTooLarge("a document is over the size limit")
            kind = (part.content_type or "").split(";", 1)[0].strip().lower()
            files[name] = BatchFile(part.filename or "", kind, data)
        return Batch(metadata.encode(), files)
    finally:
        await form.close()
