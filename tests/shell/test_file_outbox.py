"""The demo's file outbox records what a message carried: its plain text, and the names and
sizes of its attachments (a shared document, ADR 0068), so a demo shows the share worked."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from securebox_auth.shell.gateways import FileOutbox


def test_a_mail_with_an_attachment_is_recorded_with_its_name_and_size(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    mail = EmailMessage()
    mail["To"] = "auditor@firm.example"
    mail["Subject"] = "A document"
    mail["Message-ID"] = "<m1@bank.example>"
    mail.set_content("See the attachment.")
    mail.add_attachment(b"%PDF-1.7 body", maintype="application", subtype="pdf", filename="x.pdf")
    outbox.send_mail(mail)
    plain = EmailMessage()
    plain["To"], plain["Subject"], plain["Message-ID"] = "a@b.example", "Hello", "<m2@b>"
    plain.set_content("Nothing attached.")
    outbox.send_mail(plain)
    first, second = outbox.messages()
    assert first["body"].strip() == "See the attachment."
    assert first["attachments"] == "x.pdf (13 bytes)"
    assert "attachments" not in second
