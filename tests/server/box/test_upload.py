"""check_upload: what it accepts (real PDFs, with their facts) and what it refuses, with the
stable reason, for hand-made hostile files; and that nothing but UploadRejected ever comes out
of it, whatever the bytes or the name."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fpdf import FPDF
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfWriter

from securebox_auth.errors import SecureboxError
from securebox_server.box.samples import sample_pdf
from securebox_server.box.upload import (
    PDF,
    REASONS,
    CheckedUpload,
    UploadLimits,
    UploadRejected,
    check_upload,
)
from tests.fuzzing import fuzz
from tests.server.box.hostile_pdfs import (
    PAGE,
    REFUSED,
    objstm_pdf,
    raw_pdf,
    sample,
    with_writer,
)


def _reason(data: bytes, name: str = "releve.pdf", limits: UploadLimits | None = None) -> str:
    with pytest.raises(UploadRejected) as refused:
        check_upload(data, name, limits or UploadLimits())
    assert refused.value.reason in REASONS
    assert isinstance(refused.value, SecureboxError)
    assert refused.value.code == "upload_rejected"
    assert refused.value.status_hint == 422
    return refused.value.reason


def test_a_real_pdf_passes_with_its_facts() -> None:
    data = sample()
    checked = check_upload(data, "Relevé de compte.PDF")
    assert checked == CheckedUpload(
        body=data,
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
        media_type=PDF,
        filename="Relevé de compte.pdf",
        pages=1,
    )
    assert "body" not in repr(checked)


def test_bytearray_and_memoryview_are_bytes_too() -> None:
    data = sample()
    assert check_upload(bytearray(data), "a.pdf").body == data
    assert check_upload(memoryview(data), "a.pdf").body == data


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_hostile_pdfs_are_refused_with_their_reason(case: str) -> None:
    make, reason = REFUSED[case]
    assert _reason(make()) == reason


@pytest.mark.parametrize(
    "make",
    [
        lambda: raw_pdf(b"/OpenAction [3 0 R /Fit]"),
        lambda: raw_pdf(b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >>"),
        lambda: objstm_pdf(b"<< /S /GoTo /D [3 0 R /Fit] >>", b"/OpenAction 6 0 R"),
        lambda: raw_pdf(
            page=PAGE[:-2] + b"/Annots [<< /Subtype /Link /Rect [0 0 9 9] "
            b"/A << /S /URI /URI (https://banque.example/aide) >> >>] >>"
        ),
        lambda: raw_pdf(b"/AcroForm << /Fields [] >>"),
        lambda: raw_pdf(b"/AcroForm << /Fields [] /NeedsRendering false >>"),
        lambda: raw_pdf(b"/Loop 5 0 R", extra=[b"[6 0 R]", b"[5 0 R]"]),
    ],
    ids=["destination", "goto", "goto-in-objstm", "https-link", "empty-form", "form", "cycle"],
)
def test_inert_navigation_and_https_links_pass(make: Callable[[], bytes]) -> None:
    assert check_upload(make(), "a.pdf").pages == 1


def test_pypdf_writer_output_passes() -> None:
    assert check_upload(with_writer(lambda _: None), "a.pdf").pages == 1


def test_cheap_checks_come_first() -> None:
    assert _reason(b"") == "empty"
    assert _reason(sample(), limits=UploadLimits(max_bytes=100)) == "too_large"
    assert _reason(b"%PDF-1.7 but not one", name="../..") == "bad_name"
    with pytest.raises(UploadRejected) as refused:
        check_upload(sample(), "a.pdf", media_type="text/html")
    assert refused.value.reason == "media_type"
    assert check_upload(sample(), "a.pdf", media_type="Application/PDF; x=y").pages == 1


def test_page_and_object_budgets() -> None:
    three = sample_pdf(title="t", lines=["l"], pages=3)
    assert check_upload(three, "a.pdf", UploadLimits(max_pages=3)).pages == 3
    assert _reason(three, limits=UploadLimits(max_pages=2)) == "too_many_pages"
    assert _reason(three, limits=UploadLimits(max_nodes=20)) == "too_complex"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        UploadLimits(max_bytes=0)
    with pytest.raises(ValueError, match="application/pdf"):
        UploadLimits(media_types=frozenset({"image/png"}))


def test_a_non_bytes_body_is_refused_not_crashed() -> None:
    with pytest.raises(UploadRejected):
        check_upload(12, "a.pdf")  # type: ignore[arg-type]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes flipped, set, inserted or removed, or cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        if action == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[i] = draw(st.sampled_from(b"0 9<>[]()/%\n\x00\xff"))
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and len(data) > 1:
            del data[i]
        elif action == "cut" and i > 0:
            del data[i:]
    return bytes(data)


SEEDS = [sample(), raw_pdf(), objstm_pdf(b"<< /S /GoTo /D [3 0 R /Fit] >>", b"/OpenAction 6 0 R")]


def _outcome(data: bytes, name: str) -> str:
    """``"passed"`` or the reason of the refusal; any other exception fails the test."""
    try:
        check_upload(data, name)
    except UploadRejected as refused:
        return refused.reason
    return "passed"


@pytest.mark.fuzz
@fuzz(150)
@given(st.sampled_from(SEEDS).flatmap(mutated))
def test_mutated_pdfs_only_pass_or_raise_upload_rejected(data: bytes) -> None:
    assert _outcome(data, "a.pdf") in {"passed", *REASONS}


@pytest.mark.fuzz
@fuzz(150)
@given(st.binary(max_size=2048), st.text(max_size=300))
def test_any_bytes_and_name_only_raise_upload_rejected(data: bytes, name: str) -> None:
    assert _outcome(b"%PDF-1.7\n" + data, name) in REASONS
    assert _outcome(data, name) in REASONS


def test_hostile_bulk_is_bounded() -> None:
    """A decompression bomb in an object stream and 200,000 objects stop at a budget."""
    bomb = objstm_pdf(b"<< /S /GoTo /D [3 0 R /Fit] >>" + b" " * 10_000_000, b"/OpenAction 6 0 R")
    assert len(bomb) < 100_000
    assert _reason(bomb) == "too_complex"
    many = raw_pdf(
        b"/Many 5 0 R",
        extra=[b"[" + b" ".join(b"%d 0 R" % i for i in range(6, 6 + 20_000)) + b"]"]
        + [b"<< /A 1 >>"] * 20_000,
    )
    assert _reason(many, limits=UploadLimits(max_nodes=10_000)) == "too_complex"


def test_outlines_links_and_named_destinations_pass() -> None:
    """Navigation a real letter has: an outline (whose items' ``/Next`` are siblings, not
    actions), internal links and an https link, as fpdf2 and pypdf write them."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for title in ("Relevé", "Conditions", "Annexe"):
        pdf.add_page()
        pdf.start_section(title)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 10, "Aide", link="https://www.banque.example/aide", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 10, "Début", link=pdf.add_link(page=1))
    assert check_upload(bytes(pdf.output()), "a.pdf").pages == 3

    def outline(writer: PdfWriter) -> None:
        first = writer.add_outline_item(title="Relevé", page_number=0)
        writer.add_outline_item(title="Détail", page_number=0, parent=first)
        writer.add_outline_item(title="Conditions", page_number=0)
        writer.add_named_destination("debut", 0)

    assert check_upload(with_writer(outline), "a.pdf").pages == 1


@pytest.mark.slow
def test_a_pdf_printed_by_chromium_passes(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed")
    page = tmp_path / "lettre.html"
    page.write_text(
        "<h1>Relevé de compte</h1><p>Échéance réglée : 1 250,00 €."
        ' <a href="https://www.banque.example/aide">Aide</a></p>',
        encoding="utf-8",
    )
    out = tmp_path / "lettre.pdf"
    subprocess.run(  # noqa: S603 - the test's own command line
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert check_upload(out.read_bytes(), "lettre.pdf").pages == 1


def test_threads_check_independently() -> None:
    """The pypdf limits are a context variable: checks in parallel threads give the answers
    they give alone (a worker thread per upload is how a server calls this)."""
    cases = [sample(), *(make() for make, _ in REFUSED.values())] * 2
    alone = [_outcome(data, "a.pdf") for data in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(_outcome, cases, ["a.pdf"] * len(cases))) == alone
