"""An upload checked before anything is stored: size, a real PDF without active content, a name.

:func:`check_upload` is pure and is the only way to a :class:`CheckedUpload` (the box stores
nothing else). It raises :class:`UploadRejected`, with a stable ``reason`` (see
:data:`UploadReason`), for any bytes and any name; it never raises anything else. The PDF rules
are those of :mod:`securebox_server.box.pdf_check` (ADR 0031); the name rules those of
:func:`safe_filename`. A rejected upload leaves nothing behind: nothing is written before this
check passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, get_args

from securebox_auth.errors import SecureboxError
from securebox_server.box.filenames import FilenameError, safe_filename
from securebox_server.box.pdf_check import PdfProblem, inspect_pdf

__all__ = [
    "DEFAULT_LIMITS",
    "PDF",
    "REASONS",
    "CheckedUpload",
    "UploadLimits",
    "UploadReason",
    "UploadRejected",
    "check_upload",
    "safe_filename",
]

PDF: Final = "application/pdf"

UploadReason = Literal[PdfProblem, "empty", "too_large", "bad_name", "media_type"]
"""Why an upload was refused: ``empty``, ``too_large`` (over ``max_bytes``), ``bad_name`` (no
usable file name), ``media_type`` (a type the limits do not allow), ``not_pdf`` (no PDF
header at offset 0), ``malformed`` (truncated or unparsable), ``encrypted``, ``javascript``,
``embedded_files``, ``launch_action``, ``active_content`` (automatic actions, forms that
submit, XFA, rich media, a link other than https/http/mailto), ``too_complex`` (over the
object budget or nesting depth), ``too_many_pages``."""

REASONS: Final[frozenset[str]] = frozenset(get_args(UploadReason))

_MESSAGES: Final[dict[str, str]] = {
    "empty": "the file is empty",
    "too_large": "the file is larger than allowed",
    "bad_name": "the file name is not usable",
    "media_type": "this type of file is not accepted",
    "not_pdf": "the file is not a PDF",
    "malformed": "the PDF is damaged or truncated",
    "encrypted": "encrypted PDFs are not accepted",
    "javascript": "PDFs with JavaScript are not accepted",
    "embedded_files": "PDFs with attached or embedded files are not accepted",
    "launch_action": "PDFs that launch programs are not accepted",
    "active_content": "PDFs with active content (automatic actions, forms, media) are not accepted",
    "too_complex": "the PDF is too complex to check",
    "too_many_pages": "the PDF has too many pages",
}


class UploadRejected(SecureboxError, ValueError):
    """An upload refused by :func:`check_upload`; ``reason`` is one of :data:`UploadReason`."""

    code: ClassVar[str] = "upload_rejected"
    status_hint: ClassVar[int] = 422

    def __init__(self, reason: UploadReason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: UploadReason = reason


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What the box accepts. ``max_nodes`` bounds the objects walked in one file."""

    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 1000
    max_nodes: int = 500_000
    media_types: frozenset[str] = field(default_factory=lambda: frozenset({PDF}))

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pages < 1 or self.max_nodes < 1:
            raise ValueError("upload limits must be positive")
        if not self.media_types <= {PDF}:
            raise ValueError("only application/pdf is supported")


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """A body that passed :func:`check_upload`: the bytes, their SHA-256 (hex) and facts."""

    body: bytes = field(repr=False)
    digest: str
    size: int
    media_type: str
    filename: str
    pages: int


DEFAULT_LIMITS: Final = UploadLimits()


def check_upload(
    data: bytes | bytearray | memoryview,
    filename: str,
    limits: UploadLimits = DEFAULT_LIMITS,
    *,
    media_type: str = PDF,
) -> CheckedUpload:
    """Check an upload; raise :class:`UploadRejected` (and nothing else) when it is refused.

    ``media_type`` is what the sender declared (a multipart part's type); the bytes decide in
    the end: a declared PDF must be one. The cheap checks run first (type, size, name), so an
    oversized or misnamed upload is refused without parsing it.
    """
    try:
        data = memoryview(data).tobytes()
    except TypeError:  # an untyped caller passed no bytes at all
        raise UploadRejected("malformed") from None
    if media_type.split(";", 1)[0].strip().lower() not in limits.media_types:
        raise UploadRejected("media_type")
    if not data:
        raise UploadRejected("empty")
    if len(data) > limits.max_bytes:
        raise UploadRejected("too_large")
    try:
        name = safe_filename(filename)
    except FilenameError:
        raise UploadRejected("bad_name") from None
    found = inspect_pdf(data, max_pages=limits.max_pages, max_nodes=limits.max_nodes)
    if found.problem is not None:
        raise UploadRejected(found.problem)
    return CheckedUpload(
        body=data,
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
        media_type=PDF,
        filename=name,
        pages=found.pages,
    )
