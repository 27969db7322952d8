"""Failed-attempt accounting shared by every entry path.

Login, code change, step-up, company proofs, recovery: every path that checks a secret counts
a failure the same way, on the same per-principal
:class:`~securebox_auth.lockout.rules.LockoutState`
(RTS 4(3)(b): failures are counted across every path), in the series of the element it tried
(:class:`~securebox_auth.lockout.rules.Element`, ADR 0008), and produces the same audit events.
Pure functions: the caller commits the new state with compare-and-swap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    block_status,
    record_failure,
)

__all__ = ["FailureRecord", "blocked_refusal", "register_failure", "unblock_event"]

_REFUSALS = {
    BlockStatus.TEMPORARY: "blocked_temporarily",
    BlockStatus.PERMANENT: "blocked_permanently",
}


@dataclass(frozen=True, slots=True)
class FailureRecord:
    state: LockoutState
    alert: LockoutAlert
    blocked: bool
    events: tuple[AuditEvent, ...]


def register_failure(
    state: LockoutState,
    *,
    subject: str,
    action: str,
    reason: str,
    now: datetime,
    rules: LockoutRules,
    element: Element,
) -> FailureRecord:
    """Count one failure of ``subject`` (a principal key) with ``element`` on the path
    ``action``."""
    new_state, alert = record_failure(state, now, rules, element=element)
    blocked = block_status(new_state, now) is not BlockStatus.OPEN
    events = [
        AuditEvent.make(
            now,
            action,
            actor=subject,
            subject=subject,
            outcome="failure",
            details={
                "reason": reason,
                # the count this attempt reached in the element's series (a block resets it)
                "failures": str(
                    rules.max_failures if blocked else new_state.series(element).failures
                ),
            },
        )
    ]
    if blocked:
        events.append(
            AuditEvent.make(
                now,
                "lockout.blocked",
                actor="system",
                subject=subject,
                outcome=alert.value,
                details={
                    "temporary_blocks": str(new_state.series(element).temporary_blocks),
                    "path": action,
                    "element": element.value,
                },
            )
        )
    return FailureRecord(new_state, alert, blocked, tuple(events))


def blocked_refusal(
    state: LockoutState, *, subject: str, action: str, now: datetime
) -> AuditEvent | None:
    """``None`` when ``subject`` may try; else the audit event of a refusal that costs no
    verification work and is not counted."""
    status = block_status(state, now)
    if status is BlockStatus.OPEN:
        return None
    return AuditEvent.make(
        now,
        action,
        actor=subject,
        subject=subject,
        outcome="refused",
        details={"reason": _REFUSALS[status]},
    )


def unblock_event(state: LockoutState, *, actor: str, subject: str, now: datetime) -> AuditEvent:
    """The audit event of lifting ``subject``'s block (or resetting their failures)."""
    return AuditEvent.make(
        now,
        "lockout.unblock",
        actor=actor,
        subject=subject,
        outcome="success",
        details={"was": block_status(state, now).value, "failures": str(state.failures)},
    )
