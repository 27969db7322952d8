"""Audit events and a keyed hash chain that shows tampering.

Every authentication attempt, block, unblock, code change and regeneration produces an
:class:`AuditEvent` (who, what, when, outcome; never a secret). A store seals events in order
with :func:`seal`: each sealed event carries the HMAC-SHA256 of its canonical form and of the
previous event's MAC, under an audit key held outside the database. :func:`verify_chain`
detects an edited, inserted, reordered or deleted event; a truncated tail is detected only
against a head kept outside the database: ``expected_head``, or the signed checkpoints of
:mod:`securebox_auth.shell.audit_checkpoint`.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from securebox_auth.clock import require_aware
from securebox_auth.errors import MalformedInput, SecureboxError

__all__ = [
    "GENESIS",
    "AuditChainBroken",
    "AuditEvent",
    "SealedEvent",
    "seal",
    "verify_chain",
]

GENESIS: Final = "0" * 64
_FORBIDDEN_DETAIL_KEYS: Final = frozenset({"code", "pin", "password", "secret", "otp"})


class AuditChainBroken(SecureboxError):
    """The audit chain does not verify: an event was edited, removed, inserted or reordered."""

    code = "audit_chain_broken"
    status_hint = 500

    def __init__(self, sequence: int, message: str) -> None:
        super().__init__(f"audit chain broken at event {sequence}: {message}")
        self.sequence = sequence


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Something that happened. ``details`` holds short, non-secret facts."""

    at: datetime
    action: str
    actor: str
    subject: str
    outcome: str
    details: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_aware(self.at, "at"))
        for key, value in self.details:
            if _FORBIDDEN_DETAIL_KEYS & set(re.split(r"[^a-z0-9]+", key.lower())):
                raise MalformedInput(f"audit details must not carry a secret ({key!r})")
            if not isinstance(value, str):
                raise MalformedInput("audit detail values are text")

    @classmethod
    def make(
        cls,
        at: datetime,
        action: str,
        *,
        actor: str,
        subject: str,
        outcome: str,
        details: Mapping[str, str] | None = None,
    ) -> AuditEvent:
        return cls(at, action, actor, subject, outcome, tuple(sorted((details or {}).items())))

    def canonical(self) -> bytes:
        body = {
            "at": self.at.isoformat(timespec="microseconds"),
            "action": self.action,
            "actor": self.actor,
            "subject": self.subject,
            "outcome": self.outcome,
            "details": [list(pair) for pair in self.details],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True, slots=True)
class SealedEvent:
    sequence: int
    event: AuditEvent
    previous: str
    mac: str = field(repr=False)


def _mac(key: bytes, sequence: int, previous: str, event: AuditEvent) -> str:
    message = f"{sequence}\x00{previous}\x00".encode() + event.canonical()
    return hmac.new(key, message, "sha256").hexdigest()


def seal(key: bytes, previous: SealedEvent | None, event: AuditEvent) -> SealedEvent:
    """Append ``event`` after ``previous`` (``None`` for the first event)."""
    sequence = 1 if previous is None else previous.sequence + 1
    prev_mac = GENESIS if previous is None else previous.mac
    return SealedEvent(sequence, event, prev_mac, _mac(key, sequence, prev_mac, event))


def verify_chain(
    key: bytes, events: Iterable[SealedEvent], *, expected_head: str | None = None
) -> int:
    """Verify a whole chain from its first event; return the number of events.

    Raises :class:`AuditChainBroken` at the first event that does not verify, or when the
    last MAC is not ``expected_head``.
    """
    previous = GENESIS
    count = 0
    for sealed in events:
        count += 1
        if sealed.sequence != count:
            raise AuditChainBroken(sealed.sequence, f"expected sequence {count}")
        if not hmac.compare_digest(sealed.previous, previous):
            raise AuditChainBroken(sealed.sequence, "link to the previous event does not match")
        expected = _mac(key, sealed.sequence, sealed.previous, sealed.event)
        if not hmac.compare_digest(sealed.mac, expected):
            raise AuditChainBroken(sealed.sequence, "event content does not match its MAC")
        previous = sealed.mac
    if expected_head is not None and not hmac.compare_digest(previous, expected_head):
        raise AuditChainBroken(count, "the chain does not end at the expected head")
    return count
