"""What the profile decides on, as values and pure functions: the notification preferences
and the life of a pending contact change (``pending`` → ``done`` or ``superseded``; it
expires :data:`CHANGE_TTL` after it was opened)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.errors import MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_server.i18n import DEFAULT, LANGUAGES

__all__ = [
    "CHANGE_TTL",
    "NewDocuments",
    "PendingChange",
    "Preferences",
    "parse_address",
    "parse_channel",
    "parse_preferences",
]

#: How long the code sent to a new address may be entered (the library's code expires
#: too: whichever comes first).
CHANGE_TTL: Final = timedelta(minutes=15)


class NewDocuments(enum.Enum):
    """How a user is told about new documents."""

    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Preferences:
    new_documents: NewDocuments = NewDocuments.EMAIL
    language: str = DEFAULT


def parse_preferences(new_documents: object, language: object) -> Preferences:
    """The preferences of a form or a JSON body, else :class:`MalformedInput`."""
    try:
        choice = NewDocuments(new_documents)
    except ValueError:
        raise MalformedInput("new_documents: email, sms or none") from None
    if language not in LANGUAGES or not isinstance(language, str):
        raise MalformedInput(f"language: one of {', '.join(sorted(LANGUAGES))}")
    return Preferences(choice, language)


#: An e-mail address (as the box's company contacts accept one) and an E.164 mobile number.
_EMAIL: Final = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,189}\.[^@\s.]{2,63}")
_MOBILE: Final = re.compile(r"\+[1-9][0-9]{6,14}")


def parse_address(channel: Channel, value: object) -> str:
    """``value`` when it is an address of ``channel``, else :class:`MalformedInput`."""
    pattern = _EMAIL if channel is Channel.EMAIL else _MOBILE
    if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
        raise MalformedInput(
            "not an e-mail address" if channel is Channel.EMAIL else "not a mobile number"
        )
    return value.strip()


def parse_channel(value: object) -> Channel:
    """``email`` or ``sms`` (the contact details a user changes), else MalformedInput."""
    if value == Channel.EMAIL.value:
        return Channel.EMAIL
    if value == Channel.SMS.value:
        return Channel.SMS
    raise MalformedInput("a contact is email or sms")


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A change of address waiting for the code sent to the new address."""

    id: str
    channel: Channel
    reference: str
    challenge_id: str
    expires_at: datetime
    status: str

    def usable(self, now: datetime) -> bool:
        """Still pending and not expired (a change is used at most once)."""
        return self.status == "pending" and now < self.expires_at
