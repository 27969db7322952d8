"""EMV-CAP card readers: pure verification of the codes they display.

A CAP code is 17 to 26 bits of an application cryptogram that the user's bank card computed
in a card reader after an offline PIN check, so one successful code proves possession of the
card and knowledge of its PIN. Modes (:class:`~securebox_auth.emv.profiles.CapMode`):
``IDENTIFY`` (login), ``RESPOND`` (a server challenge typed into the reader), ``SIGN`` (UK:
amount and payee reference typed into the reader) and ``TDS`` (BE/NL: numbers MAC'd with
the cryptogram). A Sign or TDS code built from a :class:`~securebox_auth.policy.linking.
Payment` is the dynamic-linking proof of that payment (RTS art. 5): its ``digest``.

:func:`verify_cap` is pure (P1 of the style guide): it takes the card record, the request,
the code, the principal's lockout state and ``now``, and returns a :class:`CapVerdict` with
the new card record (``last_atc``), the new lockout state, the consumed challenge and the
audit events; the shell commits them with compare-and-swap. The search:

1. refuse at once, without any cryptography, a blocked principal (no count) and a spent,
   expired or foreign challenge (counted);
2. read back the ATC bits the code reveals and check the bits of the predictable fields
   (PSN, CID, IAD): a code that cannot come from this card costs no MAC;
3. for each ATC in ``(last_atc, last_atc + window]`` that the revealed bits admit, ask the
   issuer key provider for the cryptogram, apply the TDS step, filter, compare as integers;
4. on a match, ``last_atc`` becomes that ATC: an ATC at or below it is never accepted again.

Every failure feeds :func:`securebox_auth.lockout.attempts.register_failure`, the lockout shared by
every factor: a code carries few bits, so rate limiting is the defence.

This module is the factor's public face: it also re-exports the card record and enrolment
(:mod:`securebox_auth.factors.cap_card`), the challenges and requests
(:mod:`securebox_auth.factors.cap_request`) and digest linking
(:mod:`securebox_auth.factors.cap_linking`).
"""

from __future__ import annotations

import enum
import functools
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.emv.cap import tds_mac
from securebox_auth.emv.cryptogram import cryptogram_input, recommended_terminal_data
from securebox_auth.emv.issuer import CryptogramRequest, IssuerKeyProvider
from securebox_auth.emv.profiles import CapMode, TerminalInput, dol_data
from securebox_auth.errors import InvalidCode, MalformedInput
from securebox_auth.factors.cap_card import CapCard, CardParameters, enrol_card, pan_digest
from securebox_auth.factors.cap_linking import (
    issue_linked_challenge,
    linked_challenge_value,
    linked_request,
    new_link_nonce,
)
from securebox_auth.factors.cap_request import (
    CapChallenge,
    CapRequest,
    checked_reference,
    issue_challenge,
    new_challenge_value,
    payee_reference,
    reference_collisions,
)
from securebox_auth.factors.cap_rules import CapRules
from securebox_auth.factors.methods import CAP_IDENTIFY, CAP_RESPOND, CAP_SIGN, AuthMethod
from securebox_auth.lockout.attempts import blocked_refusal, register_failure
from securebox_auth.lockout.rules import (
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    record_success,
)

__all__ = [
    "CapCard",
    "CapChallenge",
    "CapMode",
    "CapOutcome",
    "CapRequest",
    "CapRules",
    "CapVerdict",
    "CardParameters",
    "FailureReason",
    "checked_reference",
    "enrol_card",
    "issue_challenge",
    "issue_linked_challenge",
    "linked_challenge_value",
    "linked_request",
    "new_challenge_value",
    "new_link_nonce",
    "pan_digest",
    "payee_reference",
    "reference_collisions",
    "verify_cap",
]

_CODE: Final = re.compile(r"[0-9]{1,16}")
_MAX_ATC: Final = 0xFFFF
_DEFAULT_RULES: Final = CapRules()
_METHODS: Final = {
    CapMode.IDENTIFY: CAP_IDENTIFY,
    CapMode.RESPOND: CAP_RESPOND,
    CapMode.SIGN: CAP_SIGN,
    CapMode.TDS: CAP_SIGN,
}


class CapOutcome(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    BLOCKED = "blocked"


class FailureReason(enum.Enum):
    """Why a code failed, for the audit trail only."""

    WRONG_CODE = "wrong_code"
    REPLAY = "replayed_counter"
    COUNTER_EXHAUSTED = "counter_exhausted"
    CHALLENGE_USED = "challenge_used"
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_MISMATCH = "challenge_mismatch"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class CapVerdict:
    outcome: CapOutcome
    reason: FailureReason | None
    card: CapCard
    lockout: LockoutState
    #: The Respond or linked challenge, now spent (``used_at`` set), to store back.
    challenge: CapChallenge | None
    atc: int | None
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]
    method: AuthMethod | None = None
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is CapOutcome.ACCEPTED


def _parse_code(code: str) -> int:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidCode("a CAP code is 1 to 16 digits")
    return int(code)


def _challenge_problem(
    card: CapCard, request: CapRequest, now: datetime
) -> tuple[FailureReason | None, CapChallenge | None]:
    challenge = request.challenge
    if challenge is None:
        return None, None
    spent = replace(challenge, used_at=challenge.used_at or now)
    if challenge.used_at is not None:
        return FailureReason.CHALLENGE_USED, spent
    if challenge.subject != card.subject or challenge.card_id != card.card_id:
        return FailureReason.CHALLENGE_MISMATCH, spent
    if challenge.digest != request.digest:  # a linked challenge, for another operation
        return FailureReason.CHALLENGE_MISMATCH, spent
    if not challenge.issued_at <= now < challenge.expires_at:
        return FailureReason.CHALLENGE_EXPIRED, spent
    return None, spent


def _terminal_data(card: CapCard, typed: TerminalInput) -> bytes:
    return _cached_terminal_data(card.recipe, card.profile, card.cdol1, card.ipb, card.iaf, typed)


@functools.lru_cache(maxsize=4096)
def _cached_terminal_data(
    recipe: str, profile: str, cdol1: bytes, ipb: bytes | None, iaf: int, typed: TerminalInput
) -> bytes:
    """The terminal part of the MAC input: it depends on the card and the typed values, not
    on the ATC, so one verification (and each later Identify) computes it once."""
    prep = CapCard.prepare(recipe, profile, cdol1, ipb, iaf)
    terminal = dol_data(prep.cdol1, prep.profile.values(typed, iaf=iaf))
    if prep.recipe.recommended_terminal_only:
        terminal = recommended_terminal_data(prep.cdol1, terminal)
    return terminal


def _matching_atc(
    card: CapCard, request: CapRequest, code: int, atcs: Sequence[int], issuer: IssuerKeyProvider
) -> int | None:
    prep = card.prepared()
    psn = card.psn_byte
    revealed = prep.codec.reveal(code, cid=card.predicted_cid, iad=card.predicted_iad, psn=psn)
    if revealed is None:
        return None
    mask, bits = revealed.atc_mask, revealed.atc_bits
    candidates = [atc for atc in atcs if atc & mask == bits]
    if not candidates:
        return None
    terminal = _terminal_data(card, request.terminal)
    recipe, un, numbers = prep.recipe, request.terminal.un, request.terminal.tds
    for atc in candidates:
        data = cryptogram_input(
            recipe, terminal=terminal, aip=card.aip, atc=atc, iad=card.predicted_iad
        )
        ac = issuer.cryptogram(
            card.key_ref, CryptogramRequest(recipe.session, recipe.padding, atc, un, data)
        )
        if numbers:
            ac = tds_mac(ac, numbers)
        shown = prep.codec.code(
            cid=card.predicted_cid, atc=atc, ac=ac, iad=card.predicted_iad, psn=psn
        )
        if hmac.compare_digest(shown.to_bytes(8, "big"), code.to_bytes(8, "big")):
            return atc
    return None


def verify_cap(
    card: CapCard,
    request: CapRequest,
    code: str,
    *,
    lockout: LockoutState,
    now: datetime,
    issuer: IssuerKeyProvider,
    lockout_rules: LockoutRules,
    rules: CapRules = _DEFAULT_RULES,
) -> CapVerdict:
    """Verify one CAP code (see the module documentation for the steps)."""
    now = require_aware(now)
    value = _parse_code(code)
    if not card.prepared().profile.supports(request.mode):
        raise MalformedInput(f"this card's reader has no {request.mode.value} mode")
    action = f"cap.{request.mode.value}"
    refusal = blocked_refusal(lockout, subject=card.subject, action=action, now=now)
    if refusal is not None:
        return CapVerdict(
            CapOutcome.BLOCKED, FailureReason.BLOCKED, card, lockout,
            request.challenge, None, LockoutAlert.NONE, (refusal,),
        )  # fmt: skip
    reason, challenge = _challenge_problem(card, request, now)
    last = -1 if card.last_atc is None else card.last_atc
    atc: int | None = None
    if reason is None and last >= _MAX_ATC:
        reason = FailureReason.COUNTER_EXHAUSTED
    if reason is None:
        forward = range(last + 1, min(last + rules.window, _MAX_ATC) + 1)
        atc = _matching_atc(card, request, value, forward, issuer)
        if atc is None:
            backward = range(max(0, last - rules.window + 1), last + 1)
            replayed = _matching_atc(card, request, value, backward, issuer)
            reason = FailureReason.WRONG_CODE if replayed is None else FailureReason.REPLAY
    if reason is not None or atc is None:
        failed = register_failure(
            lockout,
            subject=card.subject,
            action=action,
            reason=(reason or FailureReason.WRONG_CODE).value,
            now=now,
            rules=lockout_rules,
            element=Element.CAP,
        )
        outcome = CapOutcome.BLOCKED if failed.blocked else CapOutcome.REJECTED
        return CapVerdict(
            outcome, reason, card, failed.state, challenge, None, failed.alert, failed.events
        )
    event = AuditEvent.make(
        now,
        action,
        actor=card.subject,
        subject=card.subject,
        outcome="success",
        details={"card": card.card_id, "atc": str(atc), "linked": str(bool(request.digest))},
    )
    return CapVerdict(
        CapOutcome.ACCEPTED,
        None,
        card.advanced(atc, now),
        record_success(lockout, element=Element.CAP),
        challenge,
        atc,
        LockoutAlert.NONE,
        (event,),
        _METHODS[request.mode],
        request.digest,
    )
