"""safe_filename and content_disposition: hostile names become harmless, readable ones stay
readable, the result is stable (sanitising twice changes nothing) and always a usable
``.pdf`` name; the header carries an ASCII fallback and the exact UTF-8 name (RFC 6266/8187)."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_server.box.filenames import (
    MAX_STEM,
    FilenameError,
    ascii_filename,
    content_disposition,
    safe_filename,
)
from tests.fuzzing import fuzz


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Relevé janvier 2026.PDF", "Relevé janvier 2026.pdf"),
        ("e\u0301te\u0301", "été.pdf"),  # NFC
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\moi\\avis.pdf", "avis.pdf"),
        ("facture\u202efdp.exe", "facturefdp.exe.pdf"),  # the bidi override is gone
        ("a\u200bb\ufeffc.pdf", "abc.pdf"),  # zero-width and BOM
        ("ligne\nsuite\u2028fin", "lignesuite fin.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("  .cache..pdf  ", "cache.pdf"),
        ("CON", "_CON.pdf"),
        ("lpt1.txt", "_lpt1.txt.pdf"),
        ("rapport.pdf.pdf", "rapport.pdf.pdf"),
        ("x" * 500, "x" * MAX_STEM + ".pdf"),
    ],
)
def test_names_are_sanitised(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


@pytest.mark.parametrize("name", ["", "   ", "...", "/", "dossier/", "\u202e\u200b", "x" * 1025])
def test_names_with_nothing_usable_are_refused(name: str) -> None:
    with pytest.raises(FilenameError):
        safe_filename(name)


def test_content_disposition_has_both_forms() -> None:
    assert content_disposition("Relevé « 2026 » 100%.pdf") == (
        'attachment; filename="Releve _ 2026 _ 100_.pdf"; '
        "filename*=UTF-8''Relev%C3%A9%20%C2%AB%202026%20%C2%BB%20100%25.pdf"
    )
    assert content_disposition("avis.pdf", inline=True).startswith('inline; filename="avis.pdf"')


@pytest.mark.fuzz
@fuzz(300)
@given(st.text(max_size=400))
def test_any_name_is_safe_and_stable(name: str) -> None:
    try:
        safe = safe_filename(name)
    except FilenameError:
        return
    assert safe == safe_filename(safe)
    assert safe.endswith(".pdf")
    assert len(safe) <= MAX_STEM + 4
    assert unicodedata.is_normalized("NFC", safe)
    assert not any(c in safe for c in '/\\<>:"|?*')
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} for c in safe)
    assert not safe.startswith((".", " "))
    fallback = ascii_filename(safe)
    assert fallback.isascii()
    assert fallback.isprintable()
    assert not any(c in fallback for c in '"\\%')
    header = content_disposition(safe)
    assert header.isascii()
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == safe
