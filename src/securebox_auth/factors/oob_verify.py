"""Checking an out-of-band code against its challenge: expiry, attempts, single use.

Re-exported by :mod:`securebox_auth.factors.oob` (ADR 0019).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.errors import InvalidCode
from securebox_auth.factors.methods import AuthMethod
from securebox_auth.factors.oob_issue import OobChallenge, OobRules, _peppered_input
from securebox_auth.factors.outcome import Outcome, count_failure, refusal
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    record_success,
)

__all__ = ["OobFailure", "OobVerdict", "verify_oob"]


class OobFailure(enum.Enum):
    """Why an attempt failed, for the audit trail only; never shown to the user."""

    WRONG_CODE = "wrong_code"
    NO_CHALLENGE = "no_challenge"
    OTHER_PRINCIPAL = "other_principal"
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    BURNT = "too_many_wrong_tries"
    WRONG_BINDING = "bound_elsewhere"
    DATA_CHANGED = "operation_data_changed"
    BLOCKED_TEMPORARILY = "blocked_temporarily"
    BLOCKED_PERMANENTLY = "blocked_permanently"


@dataclass(frozen=True, slots=True)
class OobVerdict:
    outcome: Outcome
    reason: OobFailure | None
    challenge: OobChallenge | None
    lockout: LockoutState
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def method(self) -> AuthMethod | None:
        """``sms_otp`` or ``email_otp`` on success: one possession element, never strong
        on its own."""
        return self.challenge.channel.method if self.ok and self.challenge else None


def _unusable(
    challenge: OobChallenge | None,
    principal: Principal,
    purpose: str,
    reference: str,
    digest: str | None,
    now: datetime,
    rules: OobRules,
) -> OobFailure | None:
    if challenge is None:
        return OobFailure.NO_CHALLENGE
    if challenge.principal != principal.key:
        return OobFailure.OTHER_PRINCIPAL
    if challenge.consumed_at is not None:
        return OobFailure.ALREADY_USED
    if now >= challenge.expires_at or now < challenge.issued_at:
        return OobFailure.EXPIRED
    if challenge.wrong >= rules.max_wrong:
        return OobFailure.BURNT
    if challenge.purpose != purpose or challenge.reference != reference:
        return OobFailure.WRONG_BINDING
    if challenge.digest != digest:
        return OobFailure.DATA_CHANGED
    return None


def verify_oob(
    challenge: OobChallenge | None,
    lockout: LockoutState,
    principal: Principal,
    code: object,
    *,
    purpose: str,
    reference: str,
    now: datetime,
    hasher: CodeHasher,
    rules: OobRules,
    lockout_rules: LockoutRules,
    digest: str | None = None,
) -> OobVerdict:
    """One attempt with a received code, for ``(purpose, reference, digest)``: the login
    or the operation (with the digest of its data **as it is about to be executed**).

    Every unusable case (no challenge, another user's, used, expired, burnt, bound
    elsewhere) costs one argon2 verification like a wrong code, and is counted alike.
    """
    now = require_aware(now)
    if not isinstance(code, str) or not 6 <= len(code) <= 8 or not code.isascii():
        raise InvalidCode("a received code is 6 to 8 digits")
    if not code.isdigit():
        raise InvalidCode("a received code is 6 to 8 digits")
    channel = challenge.channel.value if challenge is not None else "oob"
    action = f"{purpose}.{channel}_code"
    subject = principal.key
    refused = refusal(lockout, subject=subject, action=action, now=now)
    if refused is not None:
        text, event = refused
        return OobVerdict(
            Outcome.BLOCKED, OobFailure(text), challenge, lockout, LockoutAlert.NONE, (event,)
        )
    reason = _unusable(challenge, principal, purpose, reference, digest, now, rules)
    if reason is not None or challenge is None:
        hasher.verify_dummy(principal, _peppered_input("-", code))
    elif not hasher.verify(challenge.code_hash, principal, _peppered_input(challenge.id, code)):
        reason = OobFailure.WRONG_CODE
        challenge = replace(challenge, wrong=challenge.wrong + 1)
    if reason is not None or challenge is None:
        failure = reason or OobFailure.NO_CHALLENGE
        outcome, record = count_failure(
            lockout,
            subject=subject,
            action=action,
            reason=failure.value,
            now=now,
            rules=lockout_rules,
            element=Element.OOB,
        )
        return OobVerdict(outcome, failure, challenge, record.state, record.alert, record.events)
    used = replace(challenge, consumed_at=now)
    event = AuditEvent.make(
        now,
        action,
        actor=subject,
        subject=subject,
        outcome="success",
        details={"challenge": used.id, "reference": used.reference},
    )
    return OobVerdict(
        Outcome.ACCEPTED,
        None,
        used,
        record_success(lockout, element=Element.OOB),
        LockoutAlert.NONE,
        (event,),
    )
