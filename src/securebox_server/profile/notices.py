"""The message to the OLD address when a contact detail changed (pure), and its sending
through the library's gateways (the same ones that carry the one-time codes)."""

from __future__ import annotations

import logging

from securebox_auth.errors import SecureboxError
from securebox_auth.factors.oob import Channel, OobMessage
from securebox_auth.shell.gateways import Gateway
from securebox_server.i18n import DEFAULT, LANGUAGES, translations

__all__ = ["changed_notice", "send_notice"]

log = logging.getLogger(__name__)


def changed_notice(channel: Channel, old: str, language: str, reference: str) -> OobMessage:
    """ "Your e-mail address (or mobile number) was changed", in ``language``; it names
    neither the new address nor any code."""
    t = translations(language if language in LANGUAGES else DEFAULT)
    what = (
        t.gettext("The e-mail address of your Digital Box account was changed.")
        if channel is Channel.EMAIL
        else t.gettext("The mobile number of your Digital Box account was changed.")
    )
    body = "\n\n".join(
        (what, t.gettext("If you did not make this change, call your adviser at once."))
    )
    subject = t.gettext("Your contact details were changed")
    return OobMessage(channel, old, subject, body, reference)


def send_notice(gateway: Gateway | None, message: OobMessage) -> bool:
    """Send ``message``; a gateway failure is logged (never with the address) and false."""
    if gateway is None:
        return False
    try:
        gateway.send(message)
    except SecureboxError as failed:
        log.warning("contact change notice not delivered: %s", failed.code)
        return False
    return True
