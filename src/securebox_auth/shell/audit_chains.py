"""Anchor and verify the audit chains of a store: every tenant chain and the global one.

* :func:`anchor_chains` seals into the global chain the head of every tenant chain that
  moved since its last anchor (run it periodically, for instance every minute, before
  :func:`~securebox_auth.shell.audit_checkpoint.take_checkpoint` of the global chain);
* :func:`verify_audit_chains` verifies the global chain (against its signed checkpoints when
  given), collects its anchors, then verifies each tenant chain: its MACs, its anchors, and
  its own checkpoints when the source holds some. See ADR 0021 for what each step detects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from securebox_auth.audit import (
    GLOBAL,
    Anchor,
    SealedEvent,
    anchors_of,
    check_anchored,
    check_chain_name,
    require_anchors_held,
    verify_chain,
)
from securebox_auth.audit_keys import AuditKeys
from securebox_auth.clock import Clock
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.audit_checkpoint import Checkpoint, verify_against_checkpoints

__all__ = ["AuditChains", "ChainsVerified", "anchor_chains", "verify_audit_chains"]


class AuditChains(Protocol):
    """What a store offers to read and anchor its chains (both stores do)."""

    def audit_log(self, tenant: str | None = None) -> Iterator[SealedEvent]: ...

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]: ...

    def audit_tenants(self) -> list[str]: ...

    def anchor(self, at: datetime) -> list[SealedEvent]: ...


@dataclass(frozen=True, slots=True)
class ChainsVerified:
    """How many events each verified chain holds (``""``: the global chain)."""

    events: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.events.values())


def anchor_chains(store: AuditChains, clock: Clock) -> list[SealedEvent]:
    """Anchor every tenant chain that moved; return the anchors sealed."""
    return store.anchor(clock.now())


def _verify_one(
    audit_key: AuditKeys,
    chain: str,
    events: Iterable[SealedEvent],
    checkpoints: Sequence[Checkpoint] | None,
    public_key: Ed25519PublicKey | None,
) -> int:
    if checkpoints is None or public_key is None:
        return verify_chain(audit_key, events, chain=chain)
    return verify_against_checkpoints(audit_key, events, checkpoints, public_key, chain=chain)


def verify_audit_chains(
    audit_key: AuditKeys,
    store: AuditChains,
    *,
    checkpoints: Sequence[Checkpoint] | None = None,
    public_key: Ed25519PublicKey | None = None,
    tenants: Sequence[str] | None = None,
) -> ChainsVerified:
    """Verify the global chain, then every tenant chain (or only ``tenants``) against the
    anchors the global chain holds, and each chain against its checkpoints among
    ``checkpoints`` (signed by ``public_key``). ``audit_key`` is the store's keyring
    (``store.audit_keys``, ADR 0059) or one key. A tenant anchored but absent (its chain
    was deleted) is verified too, and fails. Raises
    :class:`~securebox_auth.audit.AuditChainBroken` at the first break,
    :class:`~securebox_auth.audit_keys.AuditKeyMissing` at an event under a key id the
    keyring does not hold."""
    if (checkpoints is None) != (public_key is None):
        raise ConfigurationError("checkpoints are verified with their public key")
    anchors: dict[str, list[Anchor]] = {}
    counts = {
        GLOBAL: _verify_one(
            audit_key,
            GLOBAL,
            anchors_of(store.audit_log(GLOBAL), anchors),
            checkpoints,
            public_key,
        )
    }
    chosen = (
        sorted(set(store.audit_tenants()) | set(anchors))
        if tenants is None
        else sorted({check_chain_name(t) for t in tenants} - {GLOBAL})
    )
    for tenant in chosen:
        held = anchors.get(tenant, [])
        events = check_anchored(store.audit_log(tenant), held)
        counts[tenant] = _verify_one(audit_key, tenant, events, checkpoints, public_key)
        require_anchors_held(tenant, counts[tenant], held)
    return ChainsVerified(counts)
