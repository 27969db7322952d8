"""Issue 11: EntitlementService.check reads every role from the store, and a company proof
is checked and counted in one compare-and-swap (threads here; processes on SQLite and
PostgreSQL in tests/stores/sql/test_proof_concurrency.py)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.model import CompanyScope, DocumentScope, Operation, Rights
from securebox_auth.entitlements.resources import UserRef
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import (
    AttemptsBlocked,
    ConcurrentUpdate,
    MalformedInput,
    WrongProof,
)
from securebox_auth.identity import Principal, Siren
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.session import open_session
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change, OpenSession, PutLockout
from tests.entitlements.test_service import BACK_OFFICE, BOSS, CLIENT, World, _session

OTHER = Siren("552100554")
WRONG = "AAAA-BBBB-CCCC-DDDD"
MANAGER = Principal.parse(CLIENT, "03")
LIMITED = Principal.parse(CLIENT, "04")
FULL = Principal.parse(CLIENT, "05")


def test_check_takes_the_target_role_from_the_store_not_from_the_caller() -> None:
    world = World()
    manage = frozenset({Operation.VIEW, Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS})
    world.service.add_user(
        world.boss,
        MANAGER,
        Role.ACCESS_MANAGER,
        Rights(CompanyScope.portfolio(), DocumentScope.all(), manage),
    )
    world.service.add_user(
        world.boss, LIMITED, Role.ADMINISTRATOR, Rights(CompanyScope.portfolio(), operations=manage)
    )
    world.service.add_user(world.boss, FULL, Role.ADMINISTRATOR, Rights.everything())
    # an access manager manages plain users only: a caller cannot call an administrator one
    with pytest.raises(MalformedInput):
        world.service.check(MANAGER, Operation.MANAGE_USERS, UserRef(FULL, Role.USER))  # type: ignore[arg-type]
    assert not world.service.check(MANAGER, Operation.MANAGE_USERS, FULL).allowed
    # a limited administrator may not act on a full one (the rule of the transitions)
    decision = world.service.check(LIMITED, Operation.MANAGE_RIGHTS, FULL)
    assert not decision.allowed
    assert "holds rights the actor lacks" in decision.explain()
    assert world.service.check(BOSS, Operation.MANAGE_RIGHTS, FULL).allowed
    assert not world.service.check(BOSS, Operation.MANAGE_USERS, Principal.parse(CLIENT, "99"))


def _one_try_left(world: World) -> None:
    stored = world.store.get_lockout(BOSS)
    world.store.commit([PutLockout(BOSS, stored.version, LockoutState(failures=2))], [])


def _proof_events(store: MemoryStore) -> Counter[str]:
    return Counter(s.event.outcome for s in store.audit_log() if s.event.action == "company.proof")


def test_a_concurrent_wrong_proof_is_seen_before_this_one_is_counted() -> None:
    """Another wrong proof uses the last try between this attempt's read and its commit:
    this attempt starts again, finds the block, and neither checks nor counts."""
    world = World()  # three failures block
    _one_try_left(world)
    store = world.store
    real_commit = store.commit
    raced: list[bool] = []

    def commit(changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        if not raced and any(e.action == "company.proof" for e in events):
            raced.append(True)
            with pytest.raises(WrongProof):
                world.service.add_company(_session(world, BOSS), OTHER, "Other", WRONG)
        real_commit(changes, events)

    store.commit = commit  # type: ignore[method-assign]
    with pytest.raises(AttemptsBlocked):
        world.service.add_company(world.boss, OTHER, "Other", WRONG)
    assert _proof_events(store) == {"failure": 1, "refused": 1}
    lockout = store.get_lockout(BOSS).value
    assert (lockout.temporary_blocks, lockout.failures) == (1, 0)


def test_a_correct_proof_is_not_applied_over_a_block_it_did_not_see() -> None:
    world = World()
    _one_try_left(world)
    store = world.store
    real_commit = store.commit
    raced: list[bool] = []

    def commit(changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        if not raced and any(e.action == "company.add" for e in events):
            raced.append(True)
            with pytest.raises(WrongProof):
                world.service.add_company(_session(world, BOSS), OTHER, "Other", WRONG)
        real_commit(changes, events)

    store.commit = commit  # type: ignore[method-assign]
    with pytest.raises(AttemptsBlocked):
        world.service.add_company(world.boss, OTHER, "Other", world.proofs.issue(OTHER))
    sub = store.get_subscription(BOSS.client_id)
    assert sub is not None
    assert OTHER not in sub.value.companies
    assert _proof_events(store) == {"failure": 1, "refused": 1}


class _AlwaysLosing(MemoryStore):
    """Once ``losing`` is set, every commit that changes a lockout state loses its race."""

    losing = False

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        if self.losing and any(isinstance(c, PutLockout) for c in changes):
            raise ConcurrentUpdate("lost")
        super().commit(changes, events)


def test_a_failure_that_cannot_be_stored_is_never_dropped_silently() -> None:
    world = World()
    store = _AlwaysLosing()
    service = EntitlementService(
        store,
        world.hasher,
        company_proofs=world.proofs,
        clock=world.clock,
        lockout_rules=LockoutRules(max_failures=3),
    )
    service.open_subscription(BACK_OFFICE, BOSS)
    opening = OpenSession(open_session(BOSS, "web", ["cap_identify"], world.clock.now()))
    store.commit([opening], [])
    session = opening.session_id
    store.losing = True
    with pytest.raises(ConcurrentUpdate):  # no verdict without its count
        service.add_company(session, OTHER, "Other", WRONG)
    assert store.get_lockout(BOSS).value == LockoutState()
    assert not [s for s in store.audit_log() if s.event.action == "company.proof"]


def test_eight_threads_with_one_try_left_get_one_verdict() -> None:
    world = World()
    _one_try_left(world)
    sessions = [_session(world, BOSS) for _ in range(8)]
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(session: str) -> None:
        barrier.wait()
        try:
            world.service.add_company(session, OTHER, "Other", WRONG)
        except WrongProof:
            outcome = "wrong"
        except AttemptsBlocked:
            outcome = "blocked"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Counter(outcomes) == {"wrong": 1, "blocked": 7}
    assert _proof_events(world.store) == {"failure": 1, "refused": 7}
