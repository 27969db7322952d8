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
(:func:`anchor_event`, ADR 0021). A tenant chain's MACs cover its name, so an
event or a whole chain cannot be moved to another tenant; the global chain keeps the MAC of
the original single chain, so events sealed before tenant chains existed still verify.

Each event names the id of the audit key that sealed it, covered by its MAC, and a chain is
verified with a keyring by id (:mod:`securebox_auth.audit_keys`, ADR 0059): a rotation of
the key keeps the events of before verifiable, and an event under a key older than one
already used in its chain is refused.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from securebox_auth.audit_keys import NO_KEY_ID, AuditKeyMissing, AuditKeys, audit_keyring
from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, MalformedInput, SecureboxError

__all__ = [
    "ANCHOR_ACTION",
    "GENESIS",
    "GLOBAL",
    "SUBSCRIPTION_DETAIL",
    "Anchor",
    "AuditChainBroken",
    "AuditEvent",
    "SealedEvent",
    "anchor_event",
    "anchors_of",
    "check_anchored",
    "check_chain_name",
    "require_anchors_held",
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
    #: The id of the audit key that sealed it (:data:`~securebox_auth.audit_keys.NO_KEY_ID`:
    #: sealed before key ids, or under a single unnamed key; ADR 0059).
    key_id: str = NO_KEY_ID


def _mac(
    key: bytes, key_id: str, chain: str, sequence: int, previous: str, event: AuditEvent
) -> str:
    # Without a key id, the MAC of before: the global chain keeps the MAC of the single
    # chain of before (its events still verify); a tenant chain's MAC also covers the
    # tenant, under another prefix (a decimal sequence never starts with "chain"). With a
    # key id, the MAC covers the id and the chain under a prefix of its own ("key"): an
    # id cannot be swapped, added or removed without breaking the MAC.
    head = f"{sequence}\x00{previous}\x00"
    if chain != GLOBAL or key_id != NO_KEY_ID:
        head = f"chain\x00{chain}\x00{head}"
    if key_id != NO_KEY_ID:
        head = f"key\x00{key_id}\x00{head}"
    return hmac.new(key, head.encode() + event.canonical(), "sha256").hexdigest()


def seal(
    keys: AuditKeys, previous: SealedEvent | None, event: AuditEvent, *, chain: str = GLOBAL
) -> SealedEvent:
    """Append ``event`` after ``previous`` (``None`` for the first event) in ``chain``,
    under the current key of ``keys`` (a keyring, or one unnamed key).

    One unnamed key cannot follow an event under a key id
    (:class:`~securebox_auth.errors.ConfigurationError`): verification would refuse it.
    """
    if previous is not None and previous.chain != chain:
        raise MalformedInput("an event is sealed after an event of its own chain")
    ring = audit_keyring(keys)
    sequence = 1 if previous is None else previous.sequence + 1
    prev_mac = GENESIS if previous is None else previous.mac
    key_id = ring.current
    if previous is not None and key_id == NO_KEY_ID and previous.key_id != NO_KEY_ID:
        raise ConfigurationError(
            f"chain {chain!r} is sealed under audit key ids: seal it with a keyring "
            "(audit_keys), not one unnamed key"
        )
    mac = _mac(ring.keys[key_id], key_id, chain, sequence, prev_mac, event)
    return SealedEvent(sequence, event, prev_mac, mac, chain, key_id)


def verify_chain(
    keys: AuditKeys,
    events: Iterable[SealedEvent],
    *,
    expected_head: str | None = None,
    chain: str | None = None,
) -> int:
    """Verify a whole chain from its first event; return the number of events.

    Each event is verified under the key of its key id in ``keys`` (a keyring, or one
    unnamed key). Every event must belong to ``chain`` (by default: the chain of the
    first event), and no event may be sealed under a key older (in the keyring's order)
    than an earlier event's. Raises :class:`AuditChainBroken` at the first event that does
    not verify, or when the last MAC is not ``expected_head``;
    :class:`~securebox_auth.audit_keys.AuditKeyMissing` at an event whose key id the
    keyring does not hold.
    """
    ring = audit_keyring(keys)
    previous = GENESIS
    count = 0
    newest: tuple[int, str] | None = None  # the rank and id of the newest key seen
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
        key, rank = ring.key(sealed.key_id), ring.rank(sealed.key_id)
        if key is None or rank is None:
            raise AuditKeyMissing(chain, sealed.sequence, sealed.key_id)
        expected = _mac(key, sealed.key_id, chain, sealed.sequence, sealed.previous, sealed.event)
        if not hmac.compare_digest(sealed.mac, expected):
            raise AuditChainBroken(sealed.sequence, "event content does not match its MAC")
        if newest is not None and rank > newest[0]:
            raise AuditChainBroken(
                sealed.sequence,
                f"sealed under key {sealed.key_id or '(no id)'!r}, older than key "
                f"{newest[1]!r} of an earlier event of the chain",
            )
        newest = (rank, sealed.key_id) if newest is None or rank < newest[0] else newest
        previous = sealed.mac
    if expected_head is not None and not hmac.compare_digest(previous, expected_head):
        raise AuditChainBroken(count, "the chain does not end at the expected head")
    return count


# -- anchors: the heads of the tenant chains, sealed into the global chain (ADR 0021) -----
#
# Each subscription has its own audit chain (:func:`securebox_auth.audit.tenants_of`), so
# commits of different subscriptions never wait for each other. An **anchor** is an event of
# the global chain that records the head ``(sequence, MAC)`` a tenant chain had when the
# anchor was taken (:func:`anchor_event`); a store seals one for every tenant chain that moved
# since its last anchor (``anchor``). Verification (:func:`anchors_of`, :func:`check_anchored`):
#
# * the global chain verifies, and each tenant's anchors go forwards in it (a replayed older
#   anchor, or two anchors that disagree on an event, break it);
# * each tenant chain verifies, holds the anchored MAC at every anchored sequence, and is at
#   least as long as its last anchor.
#
# So a tenant chain cut or rewritten below its last anchor fails, even by someone holding the
# audit MAC key, unless they rewrite the global chain from that anchor on too; the signed
# checkpoints of the global chain (:mod:`securebox_auth.shell.audit_checkpoint`) catch that
# below the last checkpoint. Pure: times are arguments.

#: The action of an anchor event (global chain only).
ANCHOR_ACTION: Final = "audit.anchor"
_ANCHOR_DETAILS: Final = frozenset({"chain", "sequence", "mac"})


@dataclass(frozen=True, slots=True)
class Anchor:
    """Tenant chain ``chain`` had event ``sequence`` with MAC ``mac`` when global event
    ``at_global`` was sealed."""

    chain: str
    sequence: int
    mac: str
    at_global: int


def anchor_event(at: datetime, chain: str, sequence: int, mac: str) -> AuditEvent:
    """The global event that anchors head ``(sequence, mac)`` of tenant chain ``chain``."""
    if check_chain_name(chain) == GLOBAL or sequence < 1 or mac == GENESIS:
        raise AuditChainBroken(sequence, "only a non-empty tenant chain is anchored")
    return AuditEvent.make(
        at,
        ANCHOR_ACTION,
        actor="system",
        subject="audit",
        outcome="success",
        details={"chain": chain, "sequence": str(sequence), "mac": mac},
    )


def _anchor(sealed: SealedEvent) -> Anchor | None:
    if sealed.event.action != ANCHOR_ACTION:
        return None
    details = dict(sealed.event.details)
    if set(details) != _ANCHOR_DETAILS or not details["sequence"].isdigit():
        raise AuditChainBroken(sealed.sequence, "a malformed anchor")
    return Anchor(details["chain"], int(details["sequence"]), details["mac"], sealed.sequence)


def anchors_of(
    global_events: Iterable[SealedEvent], found: dict[str, list[Anchor]]
) -> Iterator[SealedEvent]:
    """Pass the global chain through (to :func:`~securebox_auth.audit.verify_chain`),
    collecting its anchors into ``found`` by tenant. Raises
    :class:`~securebox_auth.audit.AuditChainBroken` when a tenant's anchors go backwards
    (an old anchor replayed) or two anchors of one event disagree."""
    for sealed in global_events:
        anchor = _anchor(sealed) if sealed.chain == GLOBAL else None
        if anchor is not None:
            earlier = found.setdefault(anchor.chain, [])
            if earlier and anchor.sequence < earlier[-1].sequence:
                raise AuditChainBroken(sealed.sequence, "an anchor goes backwards (replayed)")
            if (
                earlier
                and anchor.sequence == earlier[-1].sequence
                and not hmac.compare_digest(anchor.mac, earlier[-1].mac)
            ):
                raise AuditChainBroken(sealed.sequence, "two anchors disagree")
            earlier.append(anchor)
        yield sealed


def check_anchored(
    events: Iterable[SealedEvent], anchors: Sequence[Anchor]
) -> Iterator[SealedEvent]:
    """Pass a tenant chain through, checking that its event at each anchored sequence has
    the anchored MAC (it was not rewritten below the anchor)."""
    expected: Mapping[int, Anchor] = {a.sequence: a for a in anchors}
    for sealed in events:
        anchor = expected.get(sealed.sequence)
        if anchor is not None and not hmac.compare_digest(sealed.mac, anchor.mac):
            raise AuditChainBroken(
                sealed.sequence,
                f"chain {anchor.chain!r} was rewritten below its anchor "
                f"(global event {anchor.at_global})",
            )
        yield sealed


def require_anchors_held(chain: str, count: int, anchors: Sequence[Anchor]) -> None:
    """A verified tenant chain of ``count`` events reaches its last anchor (else its tail,
    or the whole chain, was removed)."""
    if anchors and count < anchors[-1].sequence:
        last = anchors[-1]
        raise AuditChainBroken(
            count,
            f"chain {chain!r} ends at event {count}, before its anchor of event "
            f"{last.sequence} (global event {last.at_global}): its tail was removed",
        )
