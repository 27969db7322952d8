"""The digest messages: pure functions from what a recipient is told about to an e-mail
(plain text with an HTML alternative) or a short SMS, in French or English.

A digest names each document by its label, theme (translated), sender (its display name),
company and date, and links to the box at the
server's public URL; it never carries a document's body, digest or any code. The
``Message-ID`` of a digest is derived from its notification ids (:func:`message_id`), so a
digest sent again after a crash carries the same one and the recipient's mail system (or a
support agent) recognises the duplicate; an SMS carries the same value as its idempotency key.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Final

from babel.dates import format_date

from securebox_auth.errors import MalformedInput
from securebox_server.box.names import theme_label
from securebox_server.i18n import DEFAULT, LANGUAGES, translations

__all__ = ["Item", "compose_mail", "compose_sms", "idempotency_key", "message_id"]

NEW_DOCUMENT: Final = "new_document"
EXPIRY_WARNING: Final = "expiry_warning"
KINDS: Final = (NEW_DOCUMENT, EXPIRY_WARNING)


@dataclass(frozen=True, slots=True)
class Item:
    """One document of a digest, as the recipient may see it listed."""

    label: str
    company: str
    issued_at: datetime
    valid_until: datetime | None = None
    #: the sender's display name (:func:`~securebox_server.box.names.sender_names`)
    sender: str = ""
    #: the theme's id (its label is translated here: :func:`~securebox_server.box.names.
    #: theme_label`)
    theme: str = ""


def message_id(ids: Sequence[str], domain: str) -> str:
    """``<{hash of the sorted ids}.box@domain>``: the same rows, the same Message-ID."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:40]
    return f"<{digest}.box@{domain}>"


def idempotency_key(message: str) -> str:
    """The SMS gateway's ``Idempotency-Key`` (and ``reference``) of the digest ``message``:
    its Message-ID without the angle brackets, so a provider's delivery report naming the
    reference finds the digest's rows (:meth:`.outbox.Outbox.record_bounce`)."""
    return message.strip().removeprefix("<").removesuffix(">")


def _lang(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT


def _subject(kind: str, count: int, language: str) -> str:
    t = translations(_lang(language))
    if kind == EXPIRY_WARNING:
        return t.ngettext(
            "%(num)d document in your Digital Box expires soon",
            "%(num)d documents in your Digital Box expire soon",
            count,
        ) % {"num": count}
    return t.ngettext(
        "%(num)d new document in your Digital Box",
        "%(num)d new documents in your Digital Box",
        count,
    ) % {"num": count}


def _line(item: Item, language: str) -> str:
    lang = _lang(language)
    when = format_date(item.issued_at, format="medium", locale=lang)
    about = [theme_label(translations(lang).gettext, item.theme)] if item.theme else []
    about += [item.sender] if item.sender else []
    line = f"{item.label} ({', '.join([*about, item.company, when])})"
    if item.valid_until is not None:
        until = format_date(item.valid_until, format="medium", locale=lang)
        line += ", " + translations(lang).gettext("until %(date)s") % {"date": until}
    return line


def compose_mail(
    kind: str,
    items: Sequence[Item],
    *,
    to: str,
    language: str,
    public_url: str,
    message: str,
) -> EmailMessage:
    """The digest e-mail of ``items`` to ``to`` (``message``: its Message-ID)."""
    if kind not in KINDS or not items:
        raise MalformedInput("a digest has a known kind and at least one document")
    t = translations(_lang(language))
    subject = _subject(kind, len(items), language)
    intro = (
        t.gettext("These documents of your Digital Box reach the end of their validity:")
        if kind == EXPIRY_WARNING
        else t.gettext("New documents are waiting for you in your Digital Box:")
    )
    action = t.gettext("Open your Digital Box: %(url)s") % {"url": public_url}
    footer = t.gettext("This message was sent automatically; please do not answer it.")
    lines = [_line(item, language) for item in items]
    text = "\n".join([intro, "", *(f"- {line}" for line in lines), "", action, "", footer])
    link = html.escape(public_url, quote=True)
    rich = (
        f'<!DOCTYPE html><html lang="{_lang(language)}"><body>'
        f"<p>{html.escape(intro)}</p><ul>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        + f'</ul><p><a href="{link}">{html.escape(t.gettext("Open your Digital Box"))}</a></p>'
        f"<p><small>{html.escape(footer)}</small></p></body></html>"
    )
    mail = EmailMessage()
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = message
    mail.set_content(text)
    mail.add_alternative(rich, subtype="html")
    mail["Content-Language"] = _lang(language)
    return mail


def compose_sms(kind: str, count: int, *, language: str, public_url: str) -> str:
    """A short SMS: how many documents, and the link (no label: an SMS is easily seen)."""
    if kind not in KINDS or count < 1:
        raise MalformedInput("a digest has a known kind and at least one document")
    return f"{_subject(kind, count, language)}: {public_url}"
