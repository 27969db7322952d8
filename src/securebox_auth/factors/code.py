"""Confidential codes: pure verification, change and regeneration.

Each function takes the stored state (the credential, the principal's lockout state), the
input and ``now``, and returns a verdict carrying the **new state** and the audit events to
append. Nothing here reads a clock or a database; the shell (:mod:`securebox_auth.shell.code`)
loads the state, calls these functions and applies the result with compare-and-swap.

Enumeration resistance: when the principal is unknown or disabled the caller passes
``credential=None`` and the verifier does the same work as for a wrong code (one argon2id
verification against a dummy hash, one lockout update keyed by the claimed principal), and
returns the same outcome. A blocked principal, known or not, costs no hashing at all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.code_strength import (
    CodeRules,
    generate_code,
    require_strong,
    validate_code_syntax,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.attempts import blocked_refusal, register_failure
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    block_status,
    record_success,
)

__all__ = [
    "ChangeOutcome",
    "ChangeVerdict",
    "CodeCredential",
    "CodeOutcome",
    "CodeVerdict",
    "FailureReason",
    "OneTimeCode",
    "change_code",
    "issue_one_time_code",
    "verify_code",
]


@dataclass(frozen=True, slots=True)
class CodeCredential:
    """The stored confidential code of one principal. Hashes never appear in ``repr``."""

    hash: str = field(repr=False)
    set_at: datetime
    must_change: bool = False
    expires_at: datetime | None = None
    history: tuple[str, ...] = field(default=(), repr=False)


class CodeOutcome(enum.Enum):
    """What the login screen may be told. Deliberately coarse: a wrong code, an unknown
    client identifier, an unknown user number, a disabled account and an expired one-time
    code are all ``REJECTED``."""

    ACCEPTED = "accepted"
    CHANGE_REQUIRED = "change_required"
    REJECTED = "rejected"
    BLOCKED = "blocked"


class FailureReason(enum.Enum):
    """Why an attempt failed, for the audit trail only; never shown to the user."""

    WRONG_CODE = "wrong_code"
    UNKNOWN_PRINCIPAL = "unknown_principal"
    EXPIRED = "expired_one_time_code"
    BLOCKED_TEMPORARILY = "blocked_temporarily"
    BLOCKED_PERMANENTLY = "blocked_permanently"


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    outcome: CodeOutcome
    reason: FailureReason | None
    lockout: LockoutState
    credential: CodeCredential | None
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]

    @property
    def ok(self) -> bool:
        return self.outcome in (CodeOutcome.ACCEPTED, CodeOutcome.CHANGE_REQUIRED)


def _blocked_reason(state: LockoutState, now: datetime) -> FailureReason | None:
    status = block_status(state, now)
    if status is BlockStatus.TEMPORARY:
        return FailureReason.BLOCKED_TEMPORARILY
    if status is BlockStatus.PERMANENT:
        return FailureReason.BLOCKED_PERMANENTLY
    return None


def _failure(
    *,
    principal: Principal,
    lockout: LockoutState,
    credential: CodeCredential | None,
    reason: FailureReason,
    now: datetime,
    lockout_rules: LockoutRules,
    action: str,
) -> CodeVerdict:
    record = register_failure(
        lockout,
        subject=principal.key,
        action=action,
        reason=reason.value,
        now=now,
        rules=lockout_rules,
        element=Element.CODE,
    )
    return CodeVerdict(
        CodeOutcome.BLOCKED if record.blocked else CodeOutcome.REJECTED,
        reason,
        record.state,
        credential,
        record.alert,
        record.events,
    )


def verify_code(
    credential: CodeCredential | None,
    lockout: LockoutState,
    principal: Principal,
    code: str,
    *,
    now: datetime,
    hasher: CodeHasher,
    lockout_rules: LockoutRules,
) -> CodeVerdict:
    """One login attempt with a confidential code.

    Pass ``credential=None`` when the principal is unknown or its account is not active.
    On success with a code that needs rehashing (new argon2 parameters, rotated pepper) the
    verdict's credential carries the new hash.
    """
    now = require_aware(now)
    validate_code_syntax(code)
    action = "login.code"
    refusal = blocked_refusal(lockout, subject=principal.key, action=action, now=now)
    if refusal is not None:
        return CodeVerdict(
            CodeOutcome.BLOCKED,
            _blocked_reason(lockout, now),
            lockout,
            credential,
            LockoutAlert.NONE,
            (refusal,),
        )
    reason: FailureReason | None = None
    if credential is None:
        hasher.verify_dummy(principal, code)
        reason = FailureReason.UNKNOWN_PRINCIPAL
    elif not hasher.verify(credential.hash, principal, code):
        reason = FailureReason.WRONG_CODE
    elif credential.expires_at is not None and now >= credential.expires_at:
        reason = FailureReason.EXPIRED
    if reason is not None or credential is None:
        return _failure(
            principal=principal,
            lockout=lockout,
            credential=credential,
            reason=reason or FailureReason.UNKNOWN_PRINCIPAL,
            now=now,
            lockout_rules=lockout_rules,
            action=action,
        )
    new_credential = credential
    details: dict[str, str] = {}
    if hasher.needs_rehash(credential.hash):
        new_credential = replace(credential, hash=hasher.hash(principal, code))
        details["rehashed"] = "true"
    outcome = CodeOutcome.CHANGE_REQUIRED if credential.must_change else CodeOutcome.ACCEPTED
    details["result"] = outcome.value
    event = AuditEvent.make(
        now,
        action,
        actor=principal.key,
        subject=principal.key,
        outcome="success",
        details=details,
    )
    return CodeVerdict(
        outcome,
        None,
        record_success(lockout, element=Element.CODE),
        new_credential,
        LockoutAlert.NONE,
        (event,),
    )


class ChangeOutcome(enum.Enum):
    CHANGED = "changed"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    #: The current code was right, but the new one equals one of the last codes.
    REUSED = "reused"


@dataclass(frozen=True, slots=True)
class ChangeVerdict:
    outcome: ChangeOutcome
    reason: FailureReason | None
    lockout: LockoutState
    credential: CodeCredential | None
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]


def _matches_earlier(hasher: CodeHasher, stored: str, principal: Principal, code: str) -> bool:
    """Compare with an earlier code; a history entry whose pepper key was retired can no
    longer be compared and is skipped (the current code always can)."""
    try:
        return hasher.verify(stored, principal, code)
    except ConfigurationError:
        return False


def _identifiers(principal: Principal) -> tuple[str, str]:
    return (principal.client_id.value, principal.user_number.value)


def change_code(
    credential: CodeCredential | None,
    lockout: LockoutState,
    principal: Principal,
    current_code: str,
    new_code: str,
    *,
    now: datetime,
    hasher: CodeHasher,
    rules: CodeRules,
    lockout_rules: LockoutRules,
) -> ChangeVerdict:
    """Change a code, proving the current one (also how a required change is done).

    The new code's strength is checked first and raises :class:`~securebox_auth.errors.
    WeakCode` without consuming an attempt. A wrong current code counts as a failure.
    """
    now = require_aware(now)
    validate_code_syntax(current_code)
    require_strong(new_code, rules, _identifiers(principal))
    action = "code.change"
    check = verify_code(
        credential,
        lockout,
        principal,
        current_code,
        now=now,
        hasher=hasher,
        lockout_rules=lockout_rules,
    )
    if not check.ok or check.credential is None:
        outcome = (
            ChangeOutcome.BLOCKED
            if check.outcome is CodeOutcome.BLOCKED
            else (ChangeOutcome.REJECTED)
        )
        events = tuple(
            replace(e, action=action) if e.action == "login.code" else e for e in check.events
        )
        return ChangeVerdict(
            outcome, check.reason, check.lockout, check.credential, check.alert, events
        )
    current = check.credential
    earlier = (current.hash, *current.history[: rules.history])
    if any(_matches_earlier(hasher, old, principal, new_code) for old in earlier):
        event = AuditEvent.make(
            now,
            action,
            actor=principal.key,
            subject=principal.key,
            outcome="refused",
            details={"reason": "previous_code"},
        )
        return ChangeVerdict(
            ChangeOutcome.REUSED, None, check.lockout, current, LockoutAlert.NONE, (event,)
        )
    new_credential = CodeCredential(
        hash=hasher.hash(principal, new_code),
        set_at=now,
        must_change=False,
        expires_at=None,
        history=earlier[: rules.history],
    )
    event = AuditEvent.make(
        now,
        action,
        actor=principal.key,
        subject=principal.key,
        outcome="success",
        details={"was_required": str(current.must_change).lower()},
    )
    return ChangeVerdict(
        ChangeOutcome.CHANGED, None, check.lockout, new_credential, LockoutAlert.NONE, (event,)
    )


class OneTimeCode:
    """A freshly generated code, to hand over once. Its value never appears in ``repr`` or
    ``str``; call :meth:`reveal` where it is delivered."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "OneTimeCode(<hidden>)"

    __str__ = __repr__


def issue_one_time_code(
    previous: CodeCredential | None,
    principal: Principal,
    *,
    actor: str,
    now: datetime,
    hasher: CodeHasher,
    rules: CodeRules,
    code: str | None = None,
) -> tuple[OneTimeCode, CodeCredential, AuditEvent]:
    """Generate a random one-time code (at account creation or when an administrator
    regenerates a forgotten code). It must be changed at the first login and expires after
    ``rules.one_time_code_lifetime``. The administrator never chooses it (ASVS 6.4.6);
    ``code`` exists for deterministic tests and must itself pass the strength rules."""
    now = require_aware(now)
    value = (
        require_strong(code, rules, _identifiers(principal))
        if code is not None
        else generate_code(rules, _identifiers(principal))
    )
    history: tuple[str, ...] = ()
    if previous is not None:
        history = (previous.hash, *previous.history)[: rules.history]
    credential = CodeCredential(
        hash=hasher.hash(principal, value),
        set_at=now,
        must_change=True,
        expires_at=now + rules.one_time_code_lifetime,
        history=history,
    )
    event = AuditEvent.make(
        now,
        "code.issue",
        actor=actor,
        subject=principal.key,
        outcome="success",
        details={"expires_at": credential.expires_at.isoformat() if credential.expires_at else ""},
    )
    return OneTimeCode(value), credential, event
