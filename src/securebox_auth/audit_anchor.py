"""Anchors: the heads of the tenant chains, sealed into the global chain (ADR 0021).

Each subscription has its own audit chain (:func:`securebox_auth.audit.tenants_of`), so
commits of different subscriptions never wait for each other. An **anchor** is an event of
the global chain that records the head ``(sequence, MAC)`` a tenant chain had when the
anchor was taken (:func:`anchor_event`); a store seals one for every tenant chain that moved
since its last anchor (``anchor``). Verification (:func:`anchors_of`, :func:`check_anchored`):

* the global chain verifies, and each tenant's anchors go forwards in it (a replayed older
  anchor, or two anchors that disagree on an event, break it);
* each tenant chain verifies, holds the anchored MAC at every anchored sequence, and is at
  least as long as its last anchor.

So a tenant chain cut or rewritten below its last anchor fails, even by someone holding the
audit MAC key, unless they rewrite the global chain from that anchor on too; the signed
checkpoints of the global chain (:mod:`securebox_auth.shell.audit_checkpoint`) catch that
below the last checkpoint. Pure: times are arguments.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditChainBroken,
    AuditEvent,
    SealedEvent,
    check_chain_name,
)

__all__ = [
    "ANCHOR_ACTION",
    "Anchor",
    "anchor_event",
    "anchors_of",
    "check_anchored",
    "require_anchors_held",
]

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
