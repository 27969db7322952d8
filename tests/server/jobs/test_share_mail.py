"""The message of a share (``compose_share``): the body attached unchanged, a subject that
no label can break, the note as plain text, both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from securebox_auth.errors import MalformedInput
from securebox_server.jobs.share_mail import SharedDocument, compose_share

BODY = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"
DOC = SharedDocument(
    label="Relevé\r\nBcc: eve@evil.example",
    theme="payroll",
    sender="Caisse",
    company="732829320",
    issued_at=datetime(2026, 11, 30, tzinfo=UTC),
    filename="relevé\n.pdf",
    media_type="application/pdf",
    body=BODY,
)


def _mail(language: str = "fr", note: str | None = "<b>bonjour</b>\nà bientôt") -> object:
    return compose_share(
        DOC,
        to="auditor@firm.example",
        sharer="Claire\nMartin",
        note=note,
        language=language,
        message="<abc.box@bank.example>",
        reply_to="claire@acme.example",
    )


def test_the_message() -> None:
    mail = _mail()
    assert mail["To"] == "auditor@firm.example"  # type: ignore[index]
    assert mail["Bcc"] is None  # type: ignore[index]
    subject = mail["Subject"]  # type: ignore[index]
    assert subject == "Claire Martin partage un document avec vous : Relevé Bcc: eve@evil.example"
    assert mail["Reply-To"] == "claire@acme.example"  # type: ignore[index]
    assert mail["Content-Language"] == "fr"  # type: ignore[index]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "<b>bonjour</b>\nà bientôt" in text  # plain text, never interpreted
    assert "Paie" in text or "payroll" in text.lower()
    (part,) = list(mail.iter_attachments())  # type: ignore[attr-defined]
    assert part.get_content() == BODY
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "relevé .pdf"


def test_english_and_no_note() -> None:
    mail = _mail("en", None)
    assert str(mail["Subject"]).startswith("Claire Martin shares a document with you")  # type: ignore[index]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "Their note" not in text


def test_a_document_without_a_body_is_refused() -> None:
    with pytest.raises(MalformedInput):
        compose_share(
            SharedDocument("x", "", "", "", DOC.issued_at, "x.pdf", "application/pdf", b""),
            to="a@b.example",
            sharer="x",
            note=None,
            language="fr",
            message="<m@x>",
        )
