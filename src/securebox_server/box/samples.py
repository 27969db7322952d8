"""Real, deterministic PDFs for the demo, the tests and the benchmarks.

:func:`sample_pdf` draws a letter with ``fpdf2`` (ADR 0031): a title, the given lines of
French or English text (the core fonts' Windows-1252 encoding carries the French accents,
``œ``, ``€`` and typographic quotes), optionally more pages of account movements and a
scanned annex to reach a target size. The same arguments always give the same bytes: the
creation date is fixed (no clock is read) and the file identifier (``/ID``) is a digest of the
content. Every sample passes :func:`~securebox_server.box.upload.check_upload`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final

from fpdf import FPDF
from PIL import Image

__all__ = ["MAX_SIZE_HINT", "sample_pdf"]

MAX_SIZE_HINT: Final = 8 * 1024 * 1024
_SCAN_WIDTH: Final = 1024
_EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)
_ENCODING: Final = "windows-1252"
_LABELS: Final = (
    "Prélèvement SEPA — Électricité de Bourgogne",
    "Virement reçu — Coopérative agricole « Les Prés »",
    "Carte 4971 — Librairie du Théâtre, Besançon",
    "Frais de tenue de compte — trimestre",
    "Virement émis — Société d'Études Côtières",
    "Remise de chèques n° 0042 — 3 chèques",
    "Prélèvement — Assurance multirisque œuvres d'art",
    "Intérêts créditeurs — année écoulée",
)


class _Letter(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"Page {self.page_no()}/{{nb}}", align="C")


def sample_pdf(
    *,
    title: str,
    lines: Sequence[str],
    seed: int = 0,
    pages: int = 1,
    size_hint: int | None = None,
) -> bytes:
    """A valid PDF letter: ``title``, then ``lines``, over at least ``pages`` pages.

    ``seed`` varies the reference, the dates, the movements and the scan (two seeds, two
    different files).
    ``size_hint`` (bytes, at most :data:`MAX_SIZE_HINT`) adds a page with a scanned annex
    (grey paper grain) so that the file is at least that large. Characters outside Windows-1252
    are replaced by ``?``.
    """
    if pages < 1 or pages > 1000:
        raise ValueError("pages must be between 1 and 1000")
    if size_hint is not None and not 0 < size_hint <= MAX_SIZE_HINT:
        raise ValueError(f"size_hint must be between 1 and {MAX_SIZE_HINT} bytes")
    body = _build(title, lines, seed, pages, scan=0)
    if size_hint is None or len(body) >= size_hint:
        return body
    # A scanned annex: its grain is incompressible, so the file grows by about its pixel count.
    scan = size_hint - len(body)
    body = _build(title, lines, seed, pages, scan=scan)
    while len(body) < size_hint:
        scan += size_hint - len(body) + 1024
        body = _build(title, lines, seed, pages, scan=scan)
    return body


def _build(title: str, lines: Sequence[str], seed: int, pages: int, *, scan: int) -> bytes:
    rng = random.Random(seed)  # noqa: S311 - sample content, not a secret
    pdf = _document(title, seed)
    _letter(pdf, title, lines, rng)
    while pdf.page_no() < pages:
        pdf.add_page()
        _movements(pdf, rng, rows=30)
    if scan > 0:
        _annex(pdf, rng, scan)
    return bytes(pdf.output())


def _document(title: str, seed: int) -> _Letter:
    pdf = _Letter(format="A4")
    pdf.core_fonts_encoding = _ENCODING
    pdf.set_creation_date(_EPOCH + timedelta(days=seed % 3650))
    pdf.set_title(_text(title))
    pdf.set_author("securebox")
    pdf.set_creator("securebox sample_pdf")
    pdf.set_producer("securebox")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    return pdf


def _letter(pdf: FPDF, title: str, lines: Sequence[str], rng: random.Random) -> None:
    issued = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 9, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    reference = f"Réf. {rng.randrange(10**9):09d} — le {issued:%d/%m/%Y}"
    pdf.cell(0, 6, _text(reference), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Times", size=11)
    for line in lines:
        pdf.multi_cell(0, 6, _text(line), new_x="LMARGIN", new_y="NEXT")


def _movements(pdf: FPDF, rng: random.Random, *, rows: int) -> None:
    pdf.set_font("Courier", size=8)
    day = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
    for _ in range(rows):
        day += timedelta(days=rng.randrange(3))
        label = rng.choice(_LABELS)
        amount = rng.randrange(-250_000, 400_000) / 100
        figure = f"{amount:,.2f}".replace(",", " ").replace(".", ",")
        row = f"{day:%d/%m/%Y}  {label[:52]:<52} {figure:>12} €"
        pdf.cell(0, 4, _text(row), new_x="LMARGIN", new_y="NEXT")


def _annex(pdf: FPDF, rng: random.Random, size: int) -> None:
    """A page holding a grey "scan" of ``size`` pixels (one byte each) of paper grain."""
    width = _SCAN_WIDTH
    height = -(-size // width)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(0, 8, _text("Annexe — copie numérisée"), new_x="LMARGIN", new_y="NEXT")
    pdf.image(grain, w=pdf.epw, h=min(pdf.eph - 10, pdf.epw * height / width))


def _text(value: str) -> str:
    """``value`` limited to what the core fonts can draw (Windows-1252)."""
    return value.encode(_ENCODING, errors="replace").decode(_ENCODING)
