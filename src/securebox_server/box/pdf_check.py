"""What a PDF holds, decided before it enters the box: pages, or the first thing that bars it.

:func:`inspect_pdf` is pure (bytes in, a :class:`PdfInspection` out) and never raises for any
input. It layers three checks, so a hostile file must defeat all of them:

1. the header: ``%PDF-1.0`` to ``%PDF-2.0`` at offset 0 (no polyglot with a prefix), and an
   ``%%EOF`` marker in the last KiB (a truncated upload is refused, not repaired);
2. a scan of the raw bytes for the names that only active content uses (``/JavaScript``,
   ``/Launch``, ``/EmbeddedFile(s)``, ``/FileAttachment``, ``/RichMedia``, ``/XFA``, with
   ``#xx`` escapes decoded): it sees objects that the cross-reference table hides (an old
   revision, an unreferenced object a repairing viewer would still find);
3. a strict parse with ``pypdf`` under tightened resource limits, then a walk of EVERY object
   the cross-reference tables list (not only those reachable from the catalogue), with a
   budget of visited nodes.

The rules (ADR 0031): no encryption; no JavaScript anywhere (``/JS``, ``/JavaScript`` keys or
actions, the ``/JavaScript`` name tree); no embedded files (``/EmbeddedFiles``, ``/EF``,
``/EmbeddedFile`` streams, ``/FileAttachment`` annotations); no ``/Launch``; no automatic
actions (``/AA``, an ``/OpenAction`` that is not a plain ``/GoTo`` or destination); no action
outside the allow-list ``GoTo``, ``URI``, ``Named``, ``Thread`` (plus the inert ``ResetForm``,
``Hide``, ``SetOCGState``, ``Trans``), and a ``URI`` only to ``https:``, ``http:`` or
``mailto:``; no XFA forms, rich media, screen, movie, sound or 3D annotations.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    PdfObject,
    TextStringObject,
)

__all__ = ["PdfInspection", "PdfProblem", "inspect_pdf"]

PdfProblem = Literal[
    "not_pdf",
    "malformed",
    "encrypted",
    "javascript",
    "embedded_files",
    "launch_action",
    "active_content",
    "too_complex",
    "too_many_pages",
]


@dataclass(frozen=True, slots=True)
class PdfInspection:
    """``pages`` when the file passed (``problem`` is None), else the first problem found."""

    pages: int = 0
    problem: PdfProblem | None = None


class _Barred(Exception):
    def __init__(self, problem: PdfProblem) -> None:
        super().__init__(problem)
        self.problem = problem


_HEADER: Final = re.compile(rb"%PDF-(?:1\.[0-7]|2\.0)[\r\n \t%]")
_EOF_WINDOW: Final = 1024
_RAW_NAME: Final = re.compile(rb"/([A-Za-z0-9#]{2,32})")
_ESCAPE: Final = re.compile(rb"#([0-9A-Fa-f]{2})")
_RAW_NAMES: Final[dict[bytes, PdfProblem]] = {
    b"JavaScript": "javascript",
    b"Launch": "launch_action",
    b"EmbeddedFiles": "embedded_files",
    b"EmbeddedFile": "embedded_files",
    b"FileAttachment": "embedded_files",
    b"RichMedia": "active_content",
    b"RichMediaExecute": "active_content",
    b"XFA": "active_content",
}

# Keys whose mere presence bars the file, wherever they appear.
_KEYS: Final[dict[str, PdfProblem]] = {
    "/JS": "javascript",
    "/JavaScript": "javascript",
    "/EmbeddedFiles": "embedded_files",
    "/EF": "embedded_files",
    "/AA": "active_content",
    "/XFA": "active_content",
    "/RichMediaContent": "active_content",
    "/RichMediaSettings": "active_content",
}
_ALLOWED_ACTIONS: Final = frozenset(
    {"/GoTo", "/URI", "/Named", "/Thread", "/ResetForm", "/Hide", "/SetOCGState", "/Trans"}
)
_ACTIONS: Final[dict[str, PdfProblem]] = {
    "/JavaScript": "javascript",
    "/Launch": "launch_action",
    **dict.fromkeys(
        (
            "/SubmitForm",
            "/ImportData",
            "/GoToR",
            "/GoToE",
            "/GoToDp",
            "/Rendition",
            "/Movie",
            "/Sound",
            "/RichMediaExecute",
            "/GoTo3DView",
        ),
        "active_content",
    ),
}
_SUBTYPES: Final[dict[str, PdfProblem]] = {
    "/FileAttachment": "embedded_files",
    "/RichMedia": "active_content",
    "/Screen": "active_content",
    "/Movie": "active_content",
    "/Sound": "active_content",
    "/3D": "active_content",
}
_URI_SCHEMES: Final = ("https:", "http:", "mailto:")


def inspect_pdf(data: bytes, *, max_pages: int, max_nodes: int) -> PdfInspection:
    """Inspect ``data``: never raises, whatever the bytes (see the module documentation)."""
    try:
        return PdfInspection(pages=_inspect(data, max_pages=max_pages, max_nodes=max_nodes))
    except _Barred as barred:
        return PdfInspection(problem=barred.problem)
    except (RecursionError, LimitReachedError):
        return PdfInspection(problem="too_complex")
    except Exception:  # any failure inside the parser is a malformed file, never a crash
        return PdfInspection(problem="malformed")


def _inspect(data: bytes, *, max_pages: int, max_nodes: int) -> int:
    if not _HEADER.match(data):
        raise _Barred("not_pdf")
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise _Barred("malformed")
    _scan_raw(data)
    # The body is at most a few MiB: no stream may declare or inflate to much more.
    budget = max(4 * len(data), 1 << 20)
    # A context variable: these limits hold for this thread or task only.
    with apply_configuration(
        maximum_declared_stream_length=len(data),
        zlib_maximum_output_length=budget,
        lzw_maximum_output_length=budget,
        run_length_maximum_output_length=budget,
        array_based_stream_maximum_output_length=budget,
        stream_decoding_work_maximum_length=budget,
        brotli_maximum_output_length=budget,
        jbig2_maximum_output_length=budget,
        jbig2dec_binary=None,
    ):
        reader = PdfReader(io.BytesIO(data), strict=True, xref_stream_maximum_entries=max_nodes)
        if reader.is_encrypted:
            raise _Barred("encrypted")
        _walk(reader, max_nodes)
        pages = len(reader.pages)
    if pages == 0:
        raise _Barred("malformed")
    if pages > max_pages:
        raise _Barred("too_many_pages")
    return pages


def _scan_raw(data: bytes) -> None:
    for match in _RAW_NAME.finditer(data):
        name = _ESCAPE.sub(lambda m: bytes((int(m[1], 16),)), match[1])
        problem = _RAW_NAMES.get(name)
        if problem is not None:
            raise _Barred(problem)


def _roots(reader: PdfReader) -> Iterator[PdfObject]:
    """The trailer, then every object of every cross-reference section and object stream."""
    yield reader.trailer
    for generation, numbers in sorted(reader.xref.items()):
        for number in sorted(numbers):
            yield IndirectObject(number, generation, reader)
    for number in sorted(reader.xref_objStm):
        yield IndirectObject(number, 0, reader)


def _walk(reader: PdfReader, max_nodes: int) -> None:
    seen: set[tuple[int, int]] = set()
    nodes = 0
    stack: list[PdfObject | None] = list(_roots(reader))
    stack.reverse()
    while stack:
        item = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise _Barred("too_complex")
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key not in seen:
                seen.add(key)
                stack.append(item.get_object())
        elif isinstance(item, DictionaryObject):
            _check_dictionary(item)
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def _check_dictionary(d: DictionaryObject) -> None:
    for key in d:
        problem = _KEYS.get(key)
        if problem is not None:
            raise _Barred(problem)
    action = _name(d.get("/S"))
    if action in _ACTIONS:
        raise _Barred(_ACTIONS[action])
    if _name(d.get("/Type")) == "/Action":
        _check_action(d)
    if "/A" in d:
        _check_actions(d.raw_get("/A"))
    if "/Next" in d and "/S" in d:  # an action's next ones (an outline item's is a sibling)
        _check_actions(d.raw_get("/Next"))
    subtype = _name(d.get("/Subtype"))
    if subtype in _SUBTYPES:
        raise _Barred(_SUBTYPES[subtype])
    if _name(d.get("/Type")) == "/EmbeddedFile":
        raise _Barred("embedded_files")
    if "/OpenAction" in d:
        _check_open_action(d.raw_get("/OpenAction"))
    needs_rendering = _resolve(d.get("/NeedsRendering"))
    if isinstance(needs_rendering, BooleanObject) and needs_rendering.value:
        raise _Barred("active_content")  # an XFA form that the viewer must render


def _check_actions(value: PdfObject) -> None:
    """The value of ``/A`` or of an action's ``/Next``: one action, or an array of them."""
    target = _resolve(value)
    for item in target if isinstance(target, ArrayObject) else (target,):
        action = _resolve(item)
        if isinstance(action, DictionaryObject):
            _check_action(action)


def _check_action(d: DictionaryObject) -> None:
    action = _name(d.get("/S"))
    if action in _ACTIONS:
        raise _Barred(_ACTIONS[action])
    if action not in _ALLOWED_ACTIONS:
        raise _Barred("active_content")
    if action == "/URI" and not _safe_uri(d.get("/URI")):
        raise _Barred("active_content")


def _check_open_action(value: PdfObject) -> None:
    """A destination (an array) or a ``/GoTo`` action may open the file; nothing else."""
    target = _resolve(value)
    if isinstance(target, ArrayObject):
        return
    if isinstance(target, DictionaryObject) and _name(target.get("/S")) == "/GoTo":
        return
    action = _name(target.get("/S")) if isinstance(target, DictionaryObject) else None
    raise _Barred(_ACTIONS.get(action or "", "active_content"))


def _resolve(value: object) -> object:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _name(value: object) -> str | None:
    value = _resolve(value)
    return str(value) if isinstance(value, NameObject) else None


def _safe_uri(value: object) -> bool:
    value = _resolve(value)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, (str, TextStringObject)):
        return False
    return str(value).strip().lower().startswith(_URI_SCHEMES)
