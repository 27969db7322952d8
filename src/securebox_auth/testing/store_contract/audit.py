"""The contract on the audit chains."""

from __future__ import annotations

import pytest

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditEvent,
    anchor_event,
    seal,
    verify_chain,
)
from securebox_auth.errors import MalformedInput
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.stores.protocols import (
    AuthStore,
    PutLockout,
)
from securebox_auth.testing.store_contract.world import (
    ALICE,
    CONTRACT_AUDIT_KEY,
    NOW,
    OTHER,
    PARIS,
    _event,
)

__all__ = ["AuditContract"]


class AuditContract:
    """Events sealed into the chains every store computes alike (ADR 0021)."""

    # -- the audit chain ------------------------------------------------------------------------

    def test_events_are_sealed_in_order_into_one_chain(self, contract_store: AuthStore) -> None:
        contract_store.commit([], [_event("a"), _event("b")])
        contract_store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [_event("c")])
        sealed = list(contract_store.audit_log())
        assert [s.sequence for s in sealed] == [1, 2, 3]
        assert [s.event.action for s in sealed] == ["a", "b", "c"]
        assert sealed[0].event == _event("a")
        assert verify_chain(CONTRACT_AUDIT_KEY, sealed, expected_head=sealed[-1].mac) == 3

    def test_the_audit_log_is_a_snapshot(self, contract_store: AuthStore) -> None:
        contract_store.commit([], [_event("a")])
        log = contract_store.audit_log()
        contract_store.commit([], [_event("b")])
        assert [s.event.action for s in log] == ["a"]

    def test_the_chains_are_the_same_in_every_store(self, contract_store: AuthStore) -> None:
        """Same key, same events: exactly the chains ``audit.seal`` builds, whatever the store:
        an event of no subscription in the global chain, an event of Alice's subscription in
        its chain, an event of two subscriptions in both (ADR 0021)."""
        tenant, other = ALICE.client_id.value, OTHER.client_id.value
        first = AuditEvent.make(NOW.astimezone(PARIS), "x", actor="a", subject="s", outcome="ok")
        both = AuditEvent.make(
            NOW, "invitation.accept", actor=OTHER.key, subject=tenant, outcome="ok"
        )
        contract_store.commit([], [first])
        contract_store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [_event("y")])
        contract_store.commit([], [both])
        g1 = seal(CONTRACT_AUDIT_KEY, None, first)
        t1 = seal(CONTRACT_AUDIT_KEY, None, _event("y"), chain=tenant)
        t2 = seal(CONTRACT_AUDIT_KEY, t1, both, chain=tenant)
        o1 = seal(CONTRACT_AUDIT_KEY, None, both, chain=other)
        assert list(contract_store.audit_log(GLOBAL)) == [g1]
        assert list(contract_store.audit_log(tenant)) == [t1, t2]
        assert list(contract_store.audit_log(other)) == [o1]
        assert list(contract_store.audit_log()) == [g1, t1, t2, o1]
        assert contract_store.audit_tenants() == [tenant, other]
        assert contract_store.audit_head(tenant) == (2, t2.mac)
        assert contract_store.audit_head("555") == (0, GENESIS)
        for wrong in ("lower", "A:B", "x" * 65):
            with pytest.raises(MalformedInput):
                contract_store.audit_log(wrong)
            with pytest.raises(MalformedInput):
                contract_store.audit_head(wrong)

        anchors = contract_store.anchor(NOW)
        expected = [
            seal(CONTRACT_AUDIT_KEY, g1, anchor_event(NOW, tenant, 2, t2.mac)),
            seal(CONTRACT_AUDIT_KEY, None, anchor_event(NOW, other, 1, o1.mac)),
        ]
        expected[1] = seal(CONTRACT_AUDIT_KEY, expected[0], expected[1].event)
        assert anchors == expected
        assert list(contract_store.audit_log(GLOBAL)) == [g1, *expected]
        assert contract_store.anchor(NOW) == []  # nothing moved since
        assert verify_audit_chains(CONTRACT_AUDIT_KEY, contract_store).events == {
            GLOBAL: 3,
            tenant: 2,
            other: 1,
        }

    def test_a_long_chain_is_read_page_by_page(self, contract_store: AuthStore) -> None:
        events = [_event(f"e{i}") for i in range(2_345)]
        contract_store.commit([], events)
        sealed = list(contract_store.audit_log())
        assert [s.sequence for s in sealed] == list(range(1, 2_346))
        assert verify_chain(CONTRACT_AUDIT_KEY, sealed) == 2_345
