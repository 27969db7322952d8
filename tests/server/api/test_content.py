"""A document body's headers: RFC 9530 Repr-Digest, RFC 6266/8187 Content-Disposition."""

from __future__ import annotations

import base64
import hashlib

from securebox_server.api.content import body_response, content_disposition, repr_digest


def test_repr_digest_is_the_base64_of_the_sha256() -> None:
    data = b"%PDF-1.7 body"
    value = repr_digest(hashlib.sha256(data).hexdigest())
    assert value == "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def test_an_ascii_name_is_quoted_plainly() -> None:
    assert content_disposition("statement-2026-11.pdf") == (
        'attachment; filename="statement-2026-11.pdf"'
    )


def test_a_name_beyond_ascii_gets_filename_star_and_a_safe_fallback() -> None:
    value = content_disposition('relevé "nov".pdf', inline=True)
    assert value.startswith('inline; filename="relev_ _nov_.pdf"')
    assert "filename*=UTF-8''relev%C3%A9%20%22nov%22.pdf" in value


def test_an_empty_name_has_a_default() -> None:
    assert content_disposition("  ") == 'attachment; filename="document.pdf"'


def test_the_answer_carries_every_header() -> None:
    data = b"%PDF-1.7"
    digest = hashlib.sha256(data).hexdigest()
    response = body_response(
        data, media_type="application/pdf", filename="a.pdf", digest_hex=digest
    )
    assert response.body == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["repr-digest"] == repr_digest(digest)
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
