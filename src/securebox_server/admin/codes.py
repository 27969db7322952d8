"""Where a new confidential code goes: to the user, by a separate channel, never to the
administrator who asked for it (ASVS 5 6.4.6; the bank's guide sends it by post).

The library returns the new one-time code to its caller
(:meth:`~securebox_auth.shell.entitlements.EntitlementService.regenerate_code`,
``add_user``); this courier is the only place the server reveals it, and only to a channel:

* ``sms`` / ``email``: through the server's gateways (:mod:`securebox_server.delivery`);
* ``letter``: a text file written (mode 0600) to ``settings.code_letters_dir``, printed and
  posted by the back office.

The destination is chosen here, never typed by the administrator at that moment: for a
regenerated code, the user's **verified** destinations only (the library's out-of-band
destinations: a code sent there came back), so an administrator cannot first change the
profile's address to their own; for a new user, the contact details of their profile
(nothing is verified yet). No destination, or a gateway failing: :class:`Undelivered`, and
the code is lost (another regeneration makes a new one).
"""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from securebox_auth.errors import SecureboxError
from securebox_auth.factors.code import OneTimeCode
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.oob_issue import OobMessage
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import DeliveryFailed, Gateway
from securebox_server.admin.profiles import Profile

__all__ = ["CodeChannel", "CodeCourier", "Undelivered"]


class Undelivered(SecureboxError):
    code = "code_undelivered"
    status_hint = 503


class CodeChannel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"


SUBJECT = "Your new confidential code"


def _body(code: OneTimeCode, to: Principal) -> str:
    return (
        f"Client identifier {to.client_id.value}, user number {to.user_number.value}.\n"
        f"Your new one-time confidential code: {code.reveal()}\n"
        "You will choose your own code at your next login. "
        "If you did not expect this message, call your bank.\n"
    )


@dataclass(frozen=True, slots=True)
class CodeCourier:
    gateways: Mapping[str, Gateway]
    letters: Path | None = None

    def channels(self) -> tuple[CodeChannel, ...]:
        """The channels this deployment can deliver to."""
        found = [CodeChannel(c) for c in ("sms", "email") if c in self.gateways]
        if self.letters is not None:
            found.append(CodeChannel.LETTER)
        return tuple(found)

    def deliver(
        self,
        code: OneTimeCode,
        to: Principal,
        channel: CodeChannel,
        *,
        address: str | None,
        profile: Profile | None,
        now: datetime,
    ) -> None:
        """Send ``code`` to ``address`` (a phone number or e-mail address of the user) or
        write the letter; raise :class:`Undelivered` when it cannot."""
        if channel not in self.channels():
            raise Undelivered("this channel is not configured")
        if channel is CodeChannel.LETTER:
            self._letter(code, to, profile, now)
            return
        if not address:
            raise Undelivered("no destination for this channel")
        message = OobMessage(
            Channel(channel.value),
            address,
            SUBJECT,
            _body(code, to),
            f"code-{secrets.token_hex(8)}",
        )
        try:
            self.gateways[channel.value].send(message)
        except DeliveryFailed:
            raise Undelivered("the gateway did not take the message") from None

    def _letter(
        self, code: OneTimeCode, to: Principal, profile: Profile | None, now: datetime
    ) -> None:
        assert self.letters is not None
        stamp = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        name = f"{stamp}-{to.client_id.value}-{to.user_number.value}.txt"  # never reused
        head = (
            ""
            if profile is None
            else (f"{profile.civility.capitalize()} {profile.first_name} {profile.last_name}\n\n")
        )
        try:
            self.letters.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.letters / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(head + _body(code, to))
        except OSError:
            raise Undelivered("the letter could not be written") from None
