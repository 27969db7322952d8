"""stores/memory.py: compare-and-swap commits with the audit chain."""

from __future__ import annotations

import threading

import pytest

from securebox_auth.audit import AuditEvent, verify_chain
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import (
    AuthStore,
    Expect,
    PutAccount,
    PutCode,
    PutLockout,
    Versioned,
)
from tests.support import NOW

ALICE = Principal.parse("123456789", "01")
BOB = Principal.parse("123456789", "02")


def _event(name: str) -> AuditEvent:
    return AuditEvent.make(NOW, name, actor="test", subject=ALICE.key, outcome="success")


def _account(principal: Principal = ALICE, status: AccountStatus = AccountStatus.ACTIVE) -> Account:
    return Account(principal=principal, role=Role.USER, created_at=NOW, status=status)


def test_memory_store_satisfies_the_protocol() -> None:
    store: AuthStore = MemoryStore()
    assert store.get_account(ALICE) is None


def test_empty_store() -> None:
    store = MemoryStore()
    assert store.get_account(ALICE) is None
    assert store.get_code(ALICE) is None
    assert store.get_lockout(ALICE) == Versioned(LockoutState(), 0)
    assert list(store.audit_log()) == []


def test_insert_expects_version_zero_and_then_versions_grow() -> None:
    store = MemoryStore()
    store.commit([PutAccount(ALICE, 0, _account())], [])
    assert store.get_account(ALICE) == Versioned(_account(), 1)
    disabled = _account(status=AccountStatus.DISABLED)
    store.commit([PutAccount(ALICE, 1, disabled)], [])
    assert store.get_account(ALICE) == Versioned(disabled, 2)


def test_a_second_insert_conflicts_and_changes_nothing() -> None:
    store = MemoryStore()
    store.commit([PutAccount(ALICE, 0, _account())], [_event("first")])
    with pytest.raises(ConcurrentUpdate):
        store.commit(
            [PutAccount(ALICE, 0, _account(status=AccountStatus.DISABLED))], [_event("second")]
        )
    assert store.get_account(ALICE) == Versioned(_account(), 1)
    assert [s.event.action for s in store.audit_log()] == ["first"]


def test_a_stale_version_conflicts() -> None:
    store = MemoryStore()
    store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [])
    store.commit([PutLockout(ALICE, 1, LockoutState(failures=2))], [])
    with pytest.raises(ConcurrentUpdate):
        store.commit([PutLockout(ALICE, 1, LockoutState(failures=2))], [])
    with pytest.raises(ConcurrentUpdate):
        store.commit([PutLockout(ALICE, 3, LockoutState(failures=3))], [])
    assert store.get_lockout(ALICE) == Versioned(LockoutState(failures=2), 2)


def test_a_multi_change_commit_is_all_or_nothing() -> None:
    store = MemoryStore()
    cred = CodeCredential(hash="sbx1$k1$$argon2id$x", set_at=NOW)
    store.commit([PutLockout(BOB, 0, LockoutState(failures=1))], [])
    # the first two changes are valid, the last one is stale: nothing may be written
    with pytest.raises(ConcurrentUpdate):
        store.commit(
            [
                PutAccount(ALICE, 0, _account()),
                PutCode(ALICE, 0, cred),
                PutLockout(BOB, 0, LockoutState(failures=9)),
            ],
            [_event("create"), _event("issue")],
        )
    assert store.get_account(ALICE) is None
    assert store.get_code(ALICE) is None
    assert store.get_lockout(BOB) == Versioned(LockoutState(failures=1), 1)
    assert list(store.audit_log()) == []
    # the same commit with the right version applies every change and seals every event
    store.commit(
        [
            PutAccount(ALICE, 0, _account()),
            PutCode(ALICE, 0, cred),
            PutLockout(BOB, 1, LockoutState(failures=9)),
        ],
        [_event("create"), _event("issue")],
    )
    assert store.get_code(ALICE) == Versioned(cred, 1)
    assert store.get_lockout(BOB) == Versioned(LockoutState(failures=9), 2)
    assert [s.event.action for s in store.audit_log()] == ["create", "issue"]


def test_tables_have_separate_versions() -> None:
    store = MemoryStore()
    store.commit([PutAccount(ALICE, 0, _account())], [])
    # ALICE's lockout is still absent, whatever the account version
    store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [])
    with pytest.raises(ConcurrentUpdate):
        store.commit([PutAccount(BOB, 1, _account(BOB))], [])


def test_events_are_sealed_in_order_into_one_chain() -> None:
    key = b"\x07" * 32
    store = MemoryStore(audit_key=key)
    store.commit([], [_event("a"), _event("b")])
    store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [_event("c")])
    sealed = list(store.audit_log())
    assert [s.sequence for s in sealed] == [1, 2, 3]
    assert [s.event.action for s in sealed] == ["a", "b", "c"]
    assert verify_chain(key, sealed, expected_head=sealed[-1].mac) == 3


def test_audit_log_is_a_snapshot() -> None:
    store = MemoryStore()
    store.commit([], [_event("a")])
    log = store.audit_log()
    store.commit([], [_event("b")])
    assert [s.event.action for s in log] == ["a"]


def test_each_store_has_its_own_random_audit_key() -> None:
    assert MemoryStore().audit_key != MemoryStore().audit_key
    assert len(MemoryStore().audit_key) == 32


def test_concurrent_increments_are_never_lost() -> None:
    store = MemoryStore()
    threads, rounds = 8, 50
    start = threading.Barrier(threads)
    lost = [0] * threads

    def worker(index: int) -> None:
        start.wait()
        done = 0
        while done < rounds:
            current = store.get_lockout(ALICE)
            new = LockoutState(failures=current.value.failures + 1)
            try:
                store.commit([PutLockout(ALICE, current.version, new)], [_event(f"inc{index}")])
            except ConcurrentUpdate:
                lost[index] += 1
                continue
            done += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
        assert not thread.is_alive()
    final = store.get_lockout(ALICE)
    assert final.value.failures == threads * rounds
    assert final.version == threads * rounds
    sealed = list(store.audit_log())
    assert len(sealed) == threads * rounds
    assert verify_chain(store.audit_key, sealed) == threads * rounds


def test_an_expect_guard_writes_nothing_but_can_refuse_the_commit() -> None:
    store = MemoryStore()
    cred = CodeCredential(hash="sbx1$k1$$argon2id$x", set_at=NOW)
    store.commit([Expect("account", ALICE, 0), Expect("code", ALICE, 0)], [_event("read")])
    assert store.get_code(ALICE) is None
    store.commit([PutCode(ALICE, 0, cred)], [])
    # a login that read "no code" must not commit once a code exists
    with pytest.raises(ConcurrentUpdate):
        store.commit(
            [Expect("code", ALICE, 0), PutLockout(ALICE, 0, LockoutState(failures=1))],
            [_event("stale")],
        )
    assert store.get_lockout(ALICE) == Versioned(LockoutState(), 0)
    assert [s.event.action for s in store.audit_log()] == ["read"]
    store.commit([Expect("code", ALICE, 1), PutLockout(ALICE, 0, LockoutState(failures=1))], [])
    assert store.get_lockout(ALICE).value.failures == 1


def test_a_commit_touches_each_record_once() -> None:
    store = MemoryStore()
    with pytest.raises(MalformedInput):
        store.commit(
            [PutLockout(ALICE, 0, LockoutState(failures=1)), PutLockout(ALICE, 0, LockoutState())],
            [],
        )
    with pytest.raises(MalformedInput):
        store.commit([Expect("account", ALICE, 0), PutAccount(ALICE, 0, _account())], [])
    assert store.get_lockout(ALICE).version == 0
    assert store.get_account(ALICE) is None
    assert list(store.audit_log()) == []
