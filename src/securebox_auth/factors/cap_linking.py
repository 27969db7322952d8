"""Digest linking for CAP: a server challenge derived from the full operation digest.

A UK Sign code is a MAC over the amount and the payee's *reader reference* (its last 8
digits), a TDS code over the numbers the user typed: neither covers the whole payee, so two
payees that share their last 8 digits share their codes (``FR76…67890189`` and
``ID:EVIL/67890189``). :func:`~securebox_auth.factors.cap_request.checked_reference` refuses
a payee whose reference collides with another of the user's payees; this module offers the
mode that covers the full dynamic-linking digest (RTS art. 5) with an unmodified reader:

* the shell draws a nonce (:func:`new_link_nonce`) once the operation is fixed, and issues a
  single-use challenge whose 8 digits are derived from SHA-256 over the nonce and the
  operation's full digest (:func:`issue_linked_challenge`); the challenge stores the digest;
* the user types those digits into the reader: as the Respond challenge (any reader), as the
  Sign reference next to the amount (UK readers), or as the last TDS number after the payee
  reference and the amount (BE/NL readers) (:func:`linked_request`);
* the verifier accepts the code only with that challenge (single use, short-lived, for that
  card) **and** only when the operation presented with it has the very digest the challenge
  was issued for; any other operation costs a counted failure (``challenge_mismatch``).

The trade-off: the digits the reader MACs are now a server value, not what the user read
on an invoice. In Respond and linked Sign modes the reader no longer sees the payee (the
user must check it on the screen that displays the operation, RTS art. 5(1)(a)); linked TDS
keeps the payee reference and the amount that the user types, and adds the challenge.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.emv.profiles import CapMode, TerminalInput, numeric_currency
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.cap_card import CapCard
from securebox_auth.factors.cap_request import (
    CapChallenge,
    CapRequest,
    issue_challenge,
    payee_reference,
)
from securebox_auth.policy.linking import Payment

__all__ = [
    "issue_linked_challenge",
    "linked_challenge_value",
    "linked_request",
    "new_link_nonce",
]

_DOMAIN: Final = b"securebox/cap/link/v1\x00"
_NONCE_BYTES: Final = 16
_DIGITS: Final = 8


def new_link_nonce() -> bytes:
    """A fresh random nonce for one linked challenge (the shell draws it)."""
    return secrets.token_bytes(_NONCE_BYTES)


def linked_challenge_value(digest: str, nonce: bytes) -> str:
    """The 8 challenge digits for an operation digest (64 hex digits) and a nonce: SHA-256
    over both, reduced mod 10^8 (the bias of a 256-bit value mod 10^8 is below 2^-220)."""
    if not isinstance(nonce, bytes) or len(nonce) < _NONCE_BYTES:
        raise MalformedInput("a linking nonce has at least 16 random bytes")
    try:
        raw = bytes.fromhex(digest)
    except (TypeError, ValueError):
        raise MalformedInput("an operation digest is 64 hexadecimal digits") from None
    if len(raw) != 32:
        raise MalformedInput("an operation digest is 64 hexadecimal digits")
    value = int.from_bytes(hashlib.sha256(_DOMAIN + nonce + raw).digest(), "big")
    return f"{value % 10**_DIGITS:0{_DIGITS}d}"


def issue_linked_challenge(
    card: CapCard,
    *,
    challenge_id: str,
    nonce: bytes,
    digest: str,
    purpose: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
) -> tuple[CapChallenge, AuditEvent]:
    """A single-use challenge for ``card`` bound to the operation ``digest`` (for instance
    ``Payment.digest``), whose digits are :func:`linked_challenge_value`."""
    value = linked_challenge_value(digest, nonce)
    return issue_challenge(
        card,
        challenge_id=challenge_id,
        value=value,
        purpose=purpose,
        now=now,
        lifetime=lifetime,
        digest=digest,
    )


def linked_request(
    mode: CapMode, challenge: CapChallenge, payment: Payment | None = None
) -> CapRequest:
    """What a code in ``mode`` for a linked ``challenge`` was computed over.

    ``payment`` is the operation presented with the code (its digest must be the
    challenge's, or verification fails as ``challenge_mismatch``). Respond: the challenge
    alone (``payment`` optional). Sign: the challenge as the reference and the payment's
    amount. TDS: the payee reference, the amount in minor units, then the challenge."""
    if mode is CapMode.RESPOND:
        digest = challenge.digest if payment is None else payment.digest
        return CapRequest(TerminalInput.respond(challenge.value), challenge, digest)
    if payment is None:
        raise MalformedInput(f"a linked {mode.value} code is checked against its payment")
    amount = payment.amount
    if mode is CapMode.SIGN:
        currency = numeric_currency(amount.currency)
        terminal = TerminalInput.sign(challenge.value, amount.minor, currency)
        return CapRequest(terminal, challenge, payment.digest)
    if mode is CapMode.TDS:
        numbers = (payee_reference(payment.payee), str(amount.minor), challenge.value)
        return CapRequest(TerminalInput.tds_numbers(numbers), challenge, payment.digest)
    raise MalformedInput("an Identify code is not linked to an operation")
