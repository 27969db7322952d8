"""sample_pdf: real PDFs (pypdf reads the French text back), deterministic bytes, the size
asked for, and every sample passes check_upload."""

from __future__ import annotations

from io import BytesIO

import pytest
from pypdf import PdfReader

from securebox_server.box.samples import MAX_SIZE_HINT, sample_pdf
from securebox_server.box.upload import check_upload

LINES = ["Madame, Monsieur,", "Votre échéance de 1 250,00 € « prêt œuvre » est réglée."]


def test_text_reads_back_with_its_accents() -> None:
    data = sample_pdf(title="Relevé de compte — janvier", lines=LINES)
    text = PdfReader(BytesIO(data)).pages[0].extract_text()
    assert "Relevé de compte — janvier" in text
    assert "échéance de 1 250,00 € « prêt œuvre » est réglée." in text
    assert data.startswith(b"%PDF-1.")


def test_same_arguments_same_bytes_and_the_seed_varies_them() -> None:
    one = sample_pdf(title="Avis", lines=LINES, seed=7, pages=2)
    assert one == sample_pdf(title="Avis", lines=LINES, seed=7, pages=2)
    assert one != sample_pdf(title="Avis", lines=LINES, seed=8, pages=2)
    assert b"/ID [<" in one


def test_characters_outside_windows_1252_are_replaced() -> None:
    data = sample_pdf(title="Ελληνικά 漢字", lines=["ok"])
    assert "?" in PdfReader(BytesIO(data)).pages[0].extract_text()


@pytest.mark.parametrize("pages", [1, 3, 12])
def test_pages(pages: int) -> None:
    data = sample_pdf(title="Relevé", lines=LINES, pages=pages)
    assert len(PdfReader(BytesIO(data)).pages) == pages
    assert check_upload(data, "releve.pdf").pages == pages


@pytest.mark.parametrize("size", [100_000, 500_000, 2_000_000])
def test_size_hint_reaches_the_size_and_passes_the_check(size: int) -> None:
    data = sample_pdf(title="Relevé annuel", lines=LINES, seed=size, size_hint=size)
    assert size <= len(data) <= size * 1.05
    assert data == sample_pdf(title="Relevé annuel", lines=LINES, seed=size, size_hint=size)
    assert check_upload(data, "releve.pdf").size == len(data)


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="pages"):
        sample_pdf(title="t", lines=[], pages=0)
    with pytest.raises(ValueError, match="size_hint"):
        sample_pdf(title="t", lines=[], size_hint=MAX_SIZE_HINT + 1)
