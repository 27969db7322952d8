"""Audit events and a keyed hash chain that shows tampering.

Every authentication attempt, block, unblock, code change and regeneration produces an
:class:`AuditEvent` (who, what, when, outcome; never a secret). A store seals events in order
with :func:`seal`: each sealed event carries the HMAC-SHA256 of its canonical form and of the
previous event's MAC, under an audit key held outside the database. :func:`verify_chain`
detects an edited, inserted, reordered or deleted event; a truncated tail is detected only
against a head kept outside the database: ``expected_head``, or the signed checkpoints of
:mod:`securebox_auth.shell.audit_checkpoint`.

There is one chain per subscription (a **tenant**: its client identifier, see
:func:`tenants_of`) and one **global** chain (:data:`GLOBAL`, the empty name): events of no
subscription, and the anchors that pin the tenant chains' heads
(:mod:`securebox_auth.audit_anchor`, ADR 0021). A tenant chain's MACs cover its name, so an
event or a whole chain cannot be moved to another tenant; the global chain keeps the MAC of
the original single chain, so events sealed before tenant chains existed still verify.
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
    "GLOBAL",
    "SUBSCRIPTION_DETAIL",
    "AuditChainBroken",
    "AuditEvent",
    "SealedEvent",
    "check_chain_name",
    "seal",
    "tenants_of",
    "verify_chain",
]

GENESIS: Final = "0" * 64
#: The name of the global chain (events of no subscription, and the anchors).
GLOBAL: Final = ""
#: The detail that names one more subscription an event concerns (besides its actor's and
#: its subject's): the event is sealed into that subscription's chain too.
SUBSCRIPTION_DETAIL: Final = "subscription"
_TENANT: Final = re.compile(r"[A-Z0-9]{1,64}")  # a canonical client identifier
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


def check_chain_name(chain: str) -> str:
    """``chain`` if it names a chain: :data:`GLOBAL` or a canonical client identifier."""
    if not isinstance(chain, str) or (chain != GLOBAL and not _TENANT.fullmatch(chain)):
        raise MalformedInput("an audit chain is named by a client identifier (or is global)")
    return chain


def _client_of(text: str, *, bare: bool) -> str | None:
    """The client identifier of a principal key ``CLIENT:USER`` (or, when ``bare``, of a
    client identifier on its own); ``None`` for any other text."""
    client, sep, user = text.partition(":")
    if sep:
        return client if _TENANT.fullmatch(client) and _TENANT.fullmatch(user) else None
    return text if bare and _TENANT.fullmatch(text) else None


def tenants_of(event: AuditEvent) -> tuple[str, ...]:
    """The subscriptions ``event`` concerns, sorted: the client identifier of its actor
    (a principal key), of its subject (a principal key or a client identifier), and the
    :data:`SUBSCRIPTION_DETAIL` detail. Derived from what the MAC covers, so anyone can
    recompute where an event belongs; empty: the event goes to the global chain."""
    found = {
        _client_of(event.actor, bare=False),
        _client_of(event.subject, bare=True),
        *(_client_of(v, bare=True) for k, v in event.details if k == SUBSCRIPTION_DETAIL),
    }
    return tuple(sorted(t for t in found if t is not None))


@dataclass(frozen=True, slots=True)
class SealedEvent:
    sequence: int
    event: AuditEvent
    previous: str
    mac: str = field(repr=False)
    #: The chain the event was sealed into (:data:`GLOBAL` or a client identifier).
    chain: str = GLOBAL


def _mac(key: bytes, chain: str, sequence: int, previous: str, event: AuditEvent) -> str:
    # The global chain keeps the MAC of the single chain of before (its events still
    # verify); a tenant chain's MAC also covers the tenant, under another prefix (a decimal
    # sequence never starts with "chain").
    head = f"{sequence}\x00{previous}\x00"
    if chain != GLOBAL:
        head = f"chain\x00{chain}\x00{head}"
    return hmac.new(key, head.encode() + event.canonical(), "sha256").hexdigest()


def seal(
    key: bytes, previous: SealedEvent | None, event: AuditEvent, *, chain: str = GLOBAL
) -> SealedEvent:
    """Append ``event`` after ``previous`` (``None`` for the first event) in ``chain``."""
    if previous is not None and previous.chain != chain:
        raise MalformedInput("an event is sealed after an event of its own chain")
    sequence = 1 if previous is None else previous.sequence + 1
    prev_mac = GENESIS if previous is None else previous.mac
    mac = _mac(key, chain, sequence, prev_mac, event)
    return SealedEvent(sequence, event, prev_mac, mac, chain)


def verify_chain(
    key: bytes,
    events: Iterable[SealedEvent],
    *,
    expected_head: str | None = None,
    chain: str | None = None,
) -> int:
    """Verify a whole chain from its first event; return the number of events.

    Every event must belong to ``chain`` (by default: the chain of the first event).
    Raises :class:`AuditChainBroken` at the first event that does not verify, or when the
    last MAC is not ``expected_head``.
    """
    previous = GENESIS
    count = 0
    for sealed in events:
        count += 1
        if chain is None:
            chain = sealed.chain
        if sealed.chain != chain:
            raise AuditChainBroken(sealed.sequence, f"the event is not of chain {chain!r}")
        if sealed.sequence != count:
            raise AuditChainBroken(sealed.sequence, f"expected sequence {count}")
        if not hmac.compare_digest(sealed.previous, previous):
            raise AuditChainBroken(sealed.sequence, "link to the previous event does not match")
        expected = _mac(key, chain, sealed.sequence, sealed.previous, sealed.event)
        if not hmac.compare_digest(sealed.mac, expected):
            raise AuditChainBroken(sealed.sequence, "event content does not match its MAC")
        previous = sealed.mac
    if expected_head is not None and not hmac.compare_digest(previous, expected_head):
        raise AuditChainBroken(count, "the chain does not end at the expected head")
    return count
