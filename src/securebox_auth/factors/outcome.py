"""What every factor's verifier shares: the outcome a login form may show, and the two
steps every attempt goes through on the principal's lockout state.

An attempt on a blocked principal is refused before any verification work and is not
counted (:func:`refusal`); every failed attempt, whatever the factor, is counted on the one
per-principal :class:`~securebox_auth.lockout.rules.LockoutState` through
:func:`securebox_auth.lockout.attempts.register_failure` (PSD2 RTS art. 4(3)(b): failures are
counted across every factor and every entry path), in the series of its element (ADR 0008).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.lockout.attempts import FailureRecord, blocked_refusal, register_failure
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    LockoutRules,
    LockoutState,
    block_status,
)

__all__ = ["Outcome", "count_failure", "refusal", "success_event"]


class Outcome(enum.Enum):
    """What the user may be told. ``REJECTED`` never says which element was wrong (RTS art.
    4(3)(a)): a wrong code, a replayed one, an expired one and an unknown user look alike."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    BLOCKED = "blocked"


def refusal(
    lockout: LockoutState, *, subject: str, action: str, now: datetime
) -> tuple[str, AuditEvent] | None:
    """``None`` when ``subject`` may try; else the audit reason (``blocked_temporarily`` or
    ``blocked_permanently``) and the event of a refusal that costs no verification work."""
    event = blocked_refusal(lockout, subject=subject, action=action, now=now)
    if event is None:
        return None
    status = block_status(lockout, now)
    reason = "blocked_permanently" if status is BlockStatus.PERMANENT else "blocked_temporarily"
    return reason, event


def count_failure(
    lockout: LockoutState,
    *,
    subject: str,
    action: str,
    reason: str,
    now: datetime,
    rules: LockoutRules,
    element: Element,
) -> tuple[Outcome, FailureRecord]:
    """Count one failed attempt of ``element`` on the shared lockout state."""
    record = register_failure(
        lockout,
        subject=subject,
        action=action,
        reason=reason,
        now=now,
        rules=rules,
        element=element,
    )
    return (Outcome.BLOCKED if record.blocked else Outcome.REJECTED), record


_EVENT_SLOTS: Final = tuple(
    getattr(AuditEvent, name).__set__
    for name in ("at", "action", "actor", "subject", "outcome", "details")
)


def success_event(
    now: datetime, action: str, subject: str, details: tuple[tuple[str, str], ...]
) -> AuditEvent:
    """The audit event of a success, on the verifiers' hot path.

    ``now`` is already aware UTC (the verifiers call ``require_aware`` first) and the detail
    keys are literals of the calling module, sorted, none of them a secret's name: the event
    is built without re-running :class:`AuditEvent`'s checks, which cost as much as a third
    of a TOTP verification. The tests compare it with :meth:`AuditEvent.make`.
    """
    event = object.__new__(AuditEvent)
    for setter, value in zip(
        _EVENT_SLOTS, (now, action, subject, subject, "success", details), strict=True
    ):
        setter(event, value)
    return event
