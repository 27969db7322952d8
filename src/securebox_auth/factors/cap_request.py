"""What a CAP code is checked against: Respond challenges and requests per mode.

A Respond challenge (:class:`CapChallenge`) is random digits drawn by the shell
(:func:`new_challenge_value`), for one card, bound to a login or to an operation (its
``purpose`` and, for a linked operation, its digest), valid for a few minutes and spent by
the first verification that uses it, whatever the result.

A :class:`CapRequest` says what the code must have been computed over. For a payment,
:meth:`CapRequest.sign` and :meth:`CapRequest.tds` take the amount and the payee from a
:class:`~securebox_auth.policy.linking.Payment`: the user types the amount and the payee's
reference digits (:func:`payee_reference`) into the reader, the code is a MAC over them,
and the request carries the payment's dynamic-linking digest (RTS art. 5). The reference is
only the payee's last 8 digits: two payees that share them would share codes, so building
such a request checks the user's other payees (:func:`checked_reference`). A Sign or TDS
request may also carry a server challenge derived from the full digest
(:mod:`securebox_auth.factors.cap_linking`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.emv.profiles import CapMode, TerminalInput, challenge_un, numeric_currency
from securebox_auth.errors import AmbiguousPayeeReference, ConfigurationError, MalformedInput
from securebox_auth.factors.cap_card import CapCard
from securebox_auth.policy.linking import Payment, normalise_payee

__all__ = [
    "CapChallenge",
    "CapRequest",
    "checked_reference",
    "issue_challenge",
    "new_challenge_value",
    "payee_reference",
    "reference_collisions",
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


def reference_collisions(
    payee: str, known_payees: Iterable[str], digits: int = 8
) -> tuple[str, ...]:
    """The other payees among ``known_payees`` whose reader reference (the digits typed into
    a reader, :func:`payee_reference`) equals ``payee``'s (canonical forms, sorted). Pure;
    payees without digits and ``payee`` itself are not collisions."""
    canonical = normalise_payee(payee)
    reference = payee_reference(canonical, digits)
    found = set()
    for other in known_payees:
        other_canonical = normalise_payee(other)
        if other_canonical == canonical:
            continue
        try:
            other_reference = payee_reference(other_canonical, digits)
        except MalformedInput:  # no digits: nothing to type, nothing to confuse
            continue
        if other_reference == reference:
            found.add(other_canonical)
    return tuple(sorted(found))


def checked_reference(payee: str, known_payees: Iterable[str], digits: int = 8) -> str:
    """``payee``'s reader reference, or :class:`AmbiguousPayeeReference` when another of the
    user's payees (``known_payees``) has the same one: a Sign or TDS code over these digits
    would prove either payment (see ``docs/factors/cap.md``, "What a reader code binds")."""
    others = reference_collisions(payee, known_payees, digits)
    if others:
        raise AmbiguousPayeeReference(
            normalise_payee(payee), payee_reference(payee, digits), others
        )
    return payee_reference(payee, digits)


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
        mode, challenge = self.terminal.mode, self.challenge
        if mode is CapMode.RESPOND and challenge is None:
            raise MalformedInput("a Respond request carries its server challenge")
        if challenge is None:
            return
        if mode is CapMode.IDENTIFY:
            raise MalformedInput("an Identify request has no server challenge")
        if mode is CapMode.RESPOND and self.terminal != TerminalInput.respond(challenge.value):
            raise MalformedInput("the unpredictable number is not the challenge's")
        if mode is CapMode.SIGN and self.terminal.un != challenge_un(challenge.value):
            raise MalformedInput("a linked Sign code is computed over the challenge")
        if mode is CapMode.TDS and self.terminal.tds[-1:] != (challenge.value,):
            raise MalformedInput("a linked TDS code signs the challenge as its last number")

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
    def sign(cls, payment: Payment, *, known_payees: Iterable[str]) -> CapRequest:
        """UK Sign: the payment's amount and its payee reference (:func:`payee_reference`).

        ``known_payees`` are the user's other payees (their trusted list, past payees):
        a payee whose reference is also another's raises :class:`AmbiguousPayeeReference`
        (pass ``()`` only when the user can have no other payee). Digest linking
        (:mod:`securebox_auth.factors.cap_linking`) has no such limit."""
        amount = payment.amount
        reference = checked_reference(payment.payee, known_payees)
        terminal = TerminalInput.sign(reference, amount.minor, numeric_currency(amount.currency))
        return cls(terminal, digest=payment.digest)

    @classmethod
    def tds(cls, payment: Payment, *, known_payees: Iterable[str]) -> CapRequest:
        """BE/NL Mode 2 + TDS over the payee reference and the amount in minor units
        (``known_payees`` as for :meth:`sign`)."""
        numbers = (checked_reference(payment.payee, known_payees), str(payment.amount.minor))
        return cls(TerminalInput.tds_numbers(numbers), digest=payment.digest)
