"""The message of a share (:mod:`securebox_server.box.shares`): a pure function from the
document, its body, who shares it and their note to an e-mail with the body attached.

Plain text only (the note is the sharer's text and is never interpreted), in the language
the sharer used. The subject names the sharer and the document's label, with every control
character of the label replaced by a space (a header never breaks). The ``Reply-To`` is the
sharer's professional address when the bank recorded one, so the recipient answers them and
not the box's robot address. The attachment keeps the document's media type and file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Final

from babel.dates import format_date

from securebox_auth.errors import MalformedInput
from securebox_server.box.names import theme_label
from securebox_server.i18n import DEFAULT, LANGUAGES, translations

__all__ = ["SharedDocument", "compose_share"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class SharedDocument:
    """What the message says of the document, and its body."""

    label: str
    theme: str
    sender: str
    company: str
    issued_at: datetime
    filename: str
    media_type: str
    body: bytes = field(repr=False)


def _flat(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def compose_share(
    doc: SharedDocument,
    *,
    to: str,
    sharer: str,
    note: str | None,
    language: str,
    message: str,
    reply_to: str | None = None,
) -> EmailMessage:
    """The e-mail to ``to`` carrying ``doc`` (``message``: its Message-ID; ``sharer``: how
    the sharer is named)."""
    if not doc.body or "/" not in doc.media_type:
        raise MalformedInput("a shared document has a body and a media type")
    lang = language if language in LANGUAGES else DEFAULT
    t = translations(lang)
    who = _flat(sharer)
    label = _flat(doc.label)
    when = format_date(doc.issued_at, format="medium", locale=lang)
    about = ", ".join(
        part
        for part in (theme_label(t.gettext, doc.theme), _flat(doc.sender), doc.company, when)
        if part
    )
    lines = [
        t.gettext("%(who)s shares a document of their Digital Box with you:") % {"who": who},
        "",
        f"{label} ({about})",
        "",
    ]
    if note:
        lines += [t.gettext("Their note:"), "", *note.splitlines(), ""]
    lines += [
        t.gettext("The document is attached to this message."),
        "",
        t.gettext(
            "This message was sent automatically at the request of that user; "
            "if you did not expect it, you may delete it."
        ),
    ]
    mail = EmailMessage()
    mail["To"] = to
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Subject"] = t.gettext("%(who)s shares a document with you: %(label)s") % {
        "who": who,
        "label": label,
    }
    mail["Message-ID"] = message
    mail.set_content("\n".join(lines))
    maintype, _, subtype = doc.media_type.partition("/")
    filename = _flat(doc.filename) or "document"
    mail.add_attachment(doc.body, maintype=maintype, subtype=subtype, filename=filename)
    mail["Content-Language"] = lang
    return mail
