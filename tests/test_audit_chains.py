"""One audit chain per subscription, anchored into the global chain (ADR 0021), in memory:
where events go, and what each attack on the chains runs into (the SQL attacks are in
tests/stores/sql/test_audit_chains.py)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditChainBroken,
    AuditEvent,
    SealedEvent,
    anchor_event,
    seal,
    tenants_of,
    verify_chain,
)
from securebox_auth.clock import FixedClock
from securebox_auth.errors import MalformedInput
from securebox_auth.shell.audit_chains import anchor_chains, verify_audit_chains
from securebox_auth.shell.audit_checkpoint import (
    Checkpoint,
    make_checkpoint,
    take_checkpoint,
)
from securebox_auth.stores.memory import MemoryStore
from tests.support import NOW

KEY = b"\x42" * 32
SIGNER = Ed25519PrivateKey.generate()
PUBLIC = SIGNER.public_key()
A, B = "111111", "222222"


def _event(n: int, subject: str, *, actor: str | None = None, **details: str) -> AuditEvent:
    return AuditEvent.make(
        NOW + timedelta(seconds=n),
        "login.code",
        actor=actor or subject,
        subject=subject,
        outcome=str(n),
        details=details,
    )


class _Sink:
    def __init__(self) -> None:
        self.points: list[Checkpoint] = []

    def append(self, checkpoint: Checkpoint) -> None:
        self.points.append(checkpoint)


def _store() -> MemoryStore:
    """Tenants A and B with 4 events each, one system event, all anchored, then one more
    event of A (sequence 5, not anchored)."""
    store = MemoryStore(audit_key=KEY)
    for n in range(1, 5):
        store.commit([], [_event(n, f"{A}:01"), _event(n, f"{B}:0{n}")])
    store.commit([], [_event(9, "someone")])
    store.anchor(NOW)
    store.commit([], [_event(5, f"{A}:02")])
    return store


def _chain(store: MemoryStore, chain: str) -> list[SealedEvent]:
    return store._chains[chain]  # the stored list itself: what an attacker edits


# -- where events go --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "subject", "details", "tenants"),
    [
        (f"{A}:01", f"{A}:01", {}, (A,)),  # a user's own login
        ("system", f"{A}:01", {}, (A,)),  # a lockout
        (f"{B}:07", f"{A}:01", {}, (A, B)),  # someone of B acts on a user of A
        (f"{B}:07", A, {}, (A, B)),  # an invitee of B accepts an invitation of A
        ("system", f"{B}:07", {"subscription": A}, (A, B)),  # an invitation of A revoked
        ("system", "audit", {}, ()),  # no subscription: the global chain
        ("operator", "someone", {}, ()),
        ("a:b", "lower:case", {}, ()),  # not principal keys
    ],
)
def test_an_event_goes_to_the_chain_of_every_subscription_it_concerns(
    actor: str, subject: str, details: dict[str, str], tenants: tuple[str, ...]
) -> None:
    event = AuditEvent.make(NOW, "x", actor=actor, subject=subject, outcome="ok", details=details)
    assert tenants_of(event) == tenants
    store = MemoryStore(audit_key=KEY)
    store.commit([], [event])
    assert store.audit_tenants() == list(tenants)
    for chain in tenants or (GLOBAL,):
        assert [s.event for s in store.audit_log(chain)] == [event]
    assert store.audit_head(GLOBAL)[0] == (0 if tenants else 1)


def test_each_chain_counts_its_own_events_and_the_view_keeps_the_commit_order() -> None:
    store = _store()
    assert store.audit_tenants() == [A, B]
    assert [s.sequence for s in store.audit_log(A)] == [1, 2, 3, 4, 5]
    assert store.audit_head(B)[0] == 4
    # global: the system event, then one anchor per tenant
    assert [s.event.action for s in store.audit_log(GLOBAL)] == [
        "login.code",
        "audit.anchor",
        "audit.anchor",
    ]
    view = list(store.audit_log())
    assert [(s.chain, s.sequence) for s in view[:3]] == [(A, 1), (B, 1), (A, 2)]
    assert len(view) == 5 + 4 + 3
    assert verify_audit_chains(KEY, store).events == {GLOBAL: 3, A: 5, B: 4}


def test_the_global_chain_keeps_the_mac_of_the_single_chain_of_before() -> None:
    """Events sealed before tenant chains existed still verify as the global chain."""
    event = _event(1, "someone")
    legacy = hmac.new(KEY, f"1\x00{GENESIS}\x00".encode() + event.canonical(), hashlib.sha256)
    assert seal(KEY, None, event).mac == legacy.hexdigest()
    assert seal(KEY, None, event, chain=A).mac != legacy.hexdigest()


def test_anchoring_twice_anchors_only_what_moved() -> None:
    store = _store()
    anchors = anchor_chains(store, FixedClock(NOW))
    assert [dict(s.event.details)["chain"] for s in anchors] == [A]
    assert anchor_chains(store, FixedClock(NOW)) == []


# -- the attacks ------------------------------------------------------------------------------


def _delete(events: list[SealedEvent]) -> None:
    del events[1]


def _reorder(events: list[SealedEvent]) -> None:
    events[1], events[2] = events[2], events[1]


def _edit(events: list[SealedEvent]) -> None:
    events[1] = replace(events[1], event=replace(events[1].event, outcome="edited"))


def _insert(events: list[SealedEvent]) -> None:
    events.insert(2, replace(events[1], sequence=3))


@pytest.mark.parametrize("attack", [_delete, _reorder, _edit, _insert])
@pytest.mark.parametrize("chain", [A, GLOBAL])
def test_a_deleted_reordered_edited_or_inserted_event_breaks_its_chain(
    attack: object, chain: str
) -> None:
    store = _store()
    verify_audit_chains(KEY, store)
    attack(_chain(store, chain))  # type: ignore[operator]
    with pytest.raises(AuditChainBroken):
        verify_audit_chains(KEY, store)


def test_a_tenant_tail_cut_below_its_anchor_is_seen_without_any_checkpoint() -> None:
    store = _store()
    del _chain(store, B)[2:]  # B was anchored at 4
    with pytest.raises(AuditChainBroken, match=r"'222222' ends at event 2.*tail was removed"):
        verify_audit_chains(KEY, store)


def test_a_tail_cut_above_the_last_anchor_needs_a_checkpoint_of_the_chain() -> None:
    store = _store()
    sink = _Sink()
    take_checkpoint(store, sink, SIGNER, FixedClock(NOW), tenant=A)  # A at 5
    take_checkpoint(store, sink, SIGNER, FixedClock(NOW))  # the global chain
    del _chain(store, A)[4:]  # event 5 of A: after its anchor (4)
    assert verify_audit_chains(KEY, store).events[A] == 4  # the limit: nothing pins it
    with pytest.raises(AuditChainBroken, match="tail was removed"):
        verify_audit_chains(KEY, store, checkpoints=sink.points, public_key=PUBLIC)


def test_a_cut_global_tail_is_seen_against_a_global_checkpoint() -> None:
    store = _store()
    sink = _Sink()
    take_checkpoint(store, sink, SIGNER, FixedClock(NOW))
    del _chain(store, GLOBAL)[2:]  # the anchor of B goes
    verify_audit_chains(KEY, store)  # B is no longer pinned: the checkpoint is needed
    with pytest.raises(AuditChainBroken, match="tail was removed"):
        verify_audit_chains(KEY, store, checkpoints=sink.points, public_key=PUBLIC)


def _reseal(events: list[SealedEvent], start: int, chain: str) -> None:
    """What a holder of the audit key does: re-seal the chain from ``start`` on with
    another outcome."""
    for index in range(start, len(events)):
        previous = events[index - 1] if index else None
        forged = replace(events[index].event, outcome="success")
        events[index] = seal(KEY, previous, forged, chain=chain)


def test_a_tenant_chain_rewritten_with_the_key_fails_at_its_anchor() -> None:
    store = _store()
    _reseal(_chain(store, B), 1, B)
    assert verify_chain(KEY, store.audit_log(B)) == 4  # the chain alone holds
    with pytest.raises(AuditChainBroken, match="rewritten below its anchor"):
        verify_audit_chains(KEY, store)


def test_rewriting_the_anchors_too_is_seen_below_a_global_checkpoint() -> None:
    store = _store()
    sink = _Sink()
    take_checkpoint(store, sink, SIGNER, FixedClock(NOW))
    _reseal(_chain(store, B), 1, B)
    glob = _chain(store, GLOBAL)
    head = _chain(store, B)[-1]
    glob[2] = seal(KEY, glob[1], anchor_event(NOW, B, head.sequence, head.mac))
    verify_audit_chains(KEY, store)  # consistent again, for whoever has no checkpoint
    with pytest.raises(AuditChainBroken, match="rewritten"):
        verify_audit_chains(KEY, store, checkpoints=sink.points, public_key=PUBLIC)


def test_a_whole_tenant_chain_dropped_is_seen_by_its_anchor() -> None:
    store = _store()
    store._chains.pop(B)
    with pytest.raises(AuditChainBroken, match="'222222' ends at event 0"):
        verify_audit_chains(KEY, store)


def test_an_old_anchor_replayed_with_the_key_is_refused() -> None:
    store = _store()
    store.commit([], [_event(6, f"{B}:01")])
    store.anchor(NOW)  # B anchored at 4, then 5
    glob = _chain(store, GLOBAL)
    old = next(s for s in glob if dict(s.event.details).get("sequence") == "4")
    glob.append(seal(KEY, glob[-1], old.event))
    with pytest.raises(AuditChainBroken, match="backwards"):
        verify_audit_chains(KEY, store)


def test_a_chain_moved_to_another_tenant_does_not_verify() -> None:
    """The MACs of a tenant chain cover its name: swapping two chains' names breaks both."""
    store = _store()
    a, b = _chain(store, A), _chain(store, B)
    store._chains[A] = [replace(s, chain=A) for s in b]
    store._chains[B] = [replace(s, chain=B) for s in a]
    with pytest.raises(AuditChainBroken, match="does not match its MAC"):
        verify_chain(KEY, store.audit_log(A))


def test_an_event_of_another_chain_is_refused() -> None:
    store = _store()
    mixed = [*store.audit_log(A)][:1] + [*store.audit_log(B)][1:2]
    with pytest.raises(AuditChainBroken, match="not of chain"):
        verify_chain(KEY, mixed)
    with pytest.raises(MalformedInput):
        seal(KEY, mixed[0], _event(1, "x"), chain=B)


def test_a_tenant_checkpoint_names_its_chain() -> None:
    point = make_checkpoint(SIGNER, 3, "ab" * 32, NOW, chain=A)
    assert Checkpoint.from_line(point.to_line()) == point
    with pytest.raises(AuditChainBroken, match="signature"):
        replace(point, chain=B).verify(PUBLIC)
    with pytest.raises(AuditChainBroken, match="signature"):
        replace(point, chain=GLOBAL).verify(PUBLIC)
    with pytest.raises(MalformedInput):
        replace(point, chain="lower")
