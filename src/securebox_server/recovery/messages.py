"""The texts recovery sends, in the user's language (French or English)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from securebox_auth.identity import Principal
from securebox_server import i18n

__all__ = [
    "MailSender",
    "TextSender",
    "identifier_sms",
    "link_mail",
    "notice",
    "one_time_code_sms",
]


@runtime_checkable
class MailSender(Protocol):
    def send_mail(self, mail: EmailMessage) -> None: ...


@runtime_checkable
class TextSender(Protocol):
    def send_text(
        self, to: str, text: str, *, reference: str, idempotency_key: str | None = None
    ) -> None: ...


def link_mail(to: str, link: str, hours: int, lang: str) -> EmailMessage:
    _ = i18n.translations(lang).gettext
    mail = EmailMessage()
    mail["To"] = to
    mail["Subject"] = _("Choose a new confidential code")
    body = _(
        "You asked to choose a new confidential code. Follow this link within %(hours)s "
        "hours; it works once, and a newer request replaces it:"
    ) % {"hours": hours}
    tail = _("If you did not ask for it, ignore this message: your code has not changed.")
    mail.set_content(f"{body}\n\n{link}\n\n{tail}\n")
    return mail


def identifier_sms(principal: Principal, lang: str) -> str:
    _ = i18n.translations(lang).gettext
    return _("Your client identifier: %(client)s, user number: %(user)s") % {
        "client": principal.client_id.value,
        "user": principal.user_number.value,
    }


def one_time_code_sms(code: str, lang: str) -> str:
    _ = i18n.translations(lang).gettext
    return _("Your new confidential code: %(code)s. You will change it at your next login.") % {
        "code": code
    }


def notice(what: str, lang: str) -> tuple[str, str]:
    """The subject and text telling the user, on their other channel, what recovery did."""
    _ = i18n.translations(lang).gettext
    texts = {
        "code_reset": _("Your confidential code was changed after a recovery request."),
        "identifier_sent": _("Your identifier was sent by SMS after a recovery request."),
        "code_sent": _("A new confidential code was sent by SMS after a card proof."),
        "identifier_shown": _("Your identifier was shown after your secret questions."),
    }
    if what.startswith("code"):  # a code was replaced: every session ended
        tail = _("Every other session was ended. If it was not you, call your bank at once.")
    else:
        tail = _("If it was not you, call your bank at once.")
    return _("Security notice"), f"{texts[what]} {tail}"
