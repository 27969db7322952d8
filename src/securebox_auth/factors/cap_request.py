"""What a CAP code is checked against: Respond challenges and requests per mode.

A Respond challenge (:class:`CapChallenge`) is random digits drawn by the shell
(:func:`new_challenge_value`), for one card, bound to a login or to an operation (its
``purpose`` and, for a linked operation, its digest), valid for a few minutes and spent by
the first verification that uses it, whatever the result.

A :class:`CapRequest` says what the code must have been computed over. For a payment,
:meth:`CapRequest.sign` and :meth:`CapRequest.tds` take the amount and the payee from a
:class:`~securebox_auth.policy.linking.Payment`: the user types the amount and the payee's
reference digits (:func:`payee_reference`) into the reader, the code is a MAC over them,
and the request carries the payment's dynamic-linking digest (RTS art. 5).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.emv.profiles import CapMode, TerminalInput, challenge_un, numeric_currency
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.cap_card import CapCard
from securebox_auth.policy.linking import Payment, normalise_payee

__all__ = [
    "CapChallenge",
    "CapRequest",
    "issue_challenge",
    "new_challenge_value",
    "payee_reference",
]

_MAX_LIFETIME: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapChallenge:
    """A Respond challenge: random digits for one card, for one login or operation."""

    challenge_id: str
    subject: str
    card_id: str
    value: str
    #: ``"login"`` or the operation name; ``digest`` binds it to the operation's data.
    purpose: str
    digest: str | None
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def __post_init__(self) -> None:
        challenge_un(self.value)
        for name in ("issued_at", "expires_at", "used_at"):
            moment = getattr(self, name)
            if moment is not None:
                object.__setattr__(self, name, require_aware(moment, name))


def new_challenge_value(digits: int = 8) -> str:
    """Random challenge digits (the shell draws them; the core stays deterministic)."""
    if not 4 <= digits <= 8:
        raise ConfigurationError("a Respond challenge has 4-8 digits")
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def issue_challenge(
    card: CapCard,
    *,
    challenge_id: str,
    value: str,
    purpose: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
    digest: str | None = None,
) -> tuple[CapChallenge, AuditEvent]:
    """A single-use challenge for ``card`` (``value`` from :func:`new_challenge_value`)."""
    now = require_aware(now)
    if not timedelta(0) < lifetime <= _MAX_LIFETIME:
        raise ConfigurationError("a challenge lives more than 0 s and at most 1 hour")
    challenge = CapChallenge(
        challenge_id=challenge_id,
        subject=card.subject,
        card_id=card.card_id,
        value=value,
        purpose=purpose,
        digest=digest,
        issued_at=now,
        expires_at=now + lifetime,
    )
    event = AuditEvent.make(
        now,
        "cap.challenge",
        actor="system",
        subject=card.subject,
        outcome="issued",
        details={"card": card.card_id, "purpose": purpose, "challenge_id": challenge_id},
    )
    return challenge, event


def payee_reference(payee: str, digits: int = 8) -> str:
    """The digits a user types as the Sign reference: the last ``digits`` digits of the
    payee's account (an IBAN without its country code and check digits)."""
    canonical = normalise_payee(payee)
    body = canonical[9:] if canonical.startswith("IBAN:") else canonical[3:]
    found = "".join(ch for ch in body if ch.isdigit())
    if not found:
        raise MalformedInput("this payee identifier holds no digits to sign")
    return found[-digits:]


@dataclass(frozen=True, slots=True)
class CapRequest:
    """What a code must have been computed over. Build it with the class methods."""

    terminal: TerminalInput
    challenge: CapChallenge | None = None
    #: The dynamic-linking digest a successful Sign or TDS code proves.
    digest: str | None = None

    def __post_init__(self) -> None:
        responding = self.terminal.mode is CapMode.RESPOND
        if responding != (self.challenge is not None):
            raise MalformedInput("a Respond request, and only it, carries its server challenge")
        if self.challenge is not None and self.terminal != TerminalInput.respond(
            self.challenge.value
        ):
            raise MalformedInput("the unpredictable number is not the challenge's")

    @property
    def mode(self) -> CapMode:
        return self.terminal.mode

    @classmethod
    def identify(cls) -> CapRequest:
        return cls(TerminalInput.identify())

    @classmethod
    def respond(cls, challenge: CapChallenge) -> CapRequest:
        return cls(TerminalInput.respond(challenge.value), challenge, challenge.digest)

    @classmethod
    def sign(cls, payment: Payment) -> CapRequest:
        """UK Sign: the payment's amount and its payee reference (:func:`payee_reference`)."""
        amount = payment.amount
        reference = payee_reference(payment.payee)
        terminal = TerminalInput.sign(reference, amount.minor, numeric_currency(amount.currency))
        return cls(terminal, digest=payment.digest())

    @classmethod
    def tds(cls, payment: Payment) -> CapRequest:
        """BE/NL Mode 2 + TDS over the payee reference and the amount in minor units."""
        numbers = (payee_reference(payment.payee), str(payment.amount.minor))
        return cls(TerminalInput.tds_numbers(numbers), digest=payment.digest())
