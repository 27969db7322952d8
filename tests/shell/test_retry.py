"""shell/retry.py: the one compare-and-swap retry loop (bounded, exponential, jittered)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.errors import ConcurrentUpdate, ConfigurationError
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.shell.retry import Attempt, Backoff, commit_retrying
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change, PutAccount, PutLockout
from tests.support import NOW

P = Principal.parse("123456789", "01")


def _lost_races(store: MemoryStore, losses: int) -> tuple[list[int], Attempt[int]]:
    """An attempt that reads the lockout version and, the first ``losses`` times, lets
    another writer move it before committing: a real lost compare-and-swap."""
    seen: list[int] = []

    def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], int]:
        found = store.get_lockout(P)
        seen.append(found.version)
        if len(seen) <= losses:
            store.commit([PutLockout(P, found.version, LockoutState(failures=len(seen)))], [])
        return [PutLockout(P, found.version, LockoutState())], [], len(seen)

    return seen, attempt


def test_a_lost_race_is_tried_again_after_a_jittered_pause() -> None:
    store = MemoryStore()
    seen, attempt = _lost_races(store, 3)
    pauses: list[float] = []
    backoff = Backoff(attempts=5, base=0.01, cap=0.025)
    result = commit_retrying(
        store, FixedClock(NOW), attempt, backoff=backoff, sleep=pauses.append, draw=lambda: 0.5
    )
    assert result == 4
    assert seen == [0, 1, 2, 3]  # each attempt read afresh
    assert pauses == [0.005, 0.01, 0.0125]  # half of min(cap, base * 2 ** (n - 1))
    assert store.get_lockout(P).value == LockoutState()


def test_the_bound_is_kept_and_then_the_conflict_is_raised() -> None:
    store = MemoryStore()
    seen, attempt = _lost_races(store, 100)
    pauses: list[float] = []
    with pytest.raises(ConcurrentUpdate, match="contention on this record"):
        commit_retrying(
            store, FixedClock(NOW), attempt, backoff=Backoff(attempts=4), sleep=pauses.append
        )
    assert len(seen) == 4
    assert len(pauses) == 3  # no pause before the first attempt, none after the last


def test_a_conflict_raised_by_the_attempt_starts_it_again() -> None:
    """An attempt may commit an audit record of its own (a refusal, a counted failure)."""
    store = MemoryStore()
    calls: list[datetime] = []
    clock = FixedClock(NOW)

    def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], str]:
        calls.append(now)
        clock.advance(timedelta(seconds=1))
        if len(calls) == 1:
            store.commit([PutAccount(P, 0, Account(P, Role.USER, now))], [])
            store.commit([PutAccount(P, 0, Account(P, Role.USER, now))], [])  # lost
        return [], [], "done"

    assert commit_retrying(store, clock, attempt, sleep=lambda _: None) == "done"
    assert calls == [NOW, NOW + timedelta(seconds=1)]  # a fresh ``now`` for each attempt


def test_nothing_is_committed_for_an_attempt_with_nothing_to_say() -> None:
    store = MemoryStore()
    head = store.audit_head()
    assert commit_retrying(store, FixedClock(NOW), lambda now: ([], [], 7)) == 7
    assert store.audit_head() == head


@given(
    st.integers(1, 60),
    st.floats(0, 1),
    st.floats(0, 0.5),
    st.floats(0, 0.5),
)
def test_a_pause_never_exceeds_the_cap(retry: int, draw: float, base: float, extra: float) -> None:
    backoff = Backoff(base=base, cap=base + extra)
    assert 0 <= draw * backoff.ceiling(retry) <= backoff.cap
    if retry > 1:
        assert backoff.ceiling(retry) >= backoff.ceiling(retry - 1)


@pytest.mark.parametrize(
    "bad", [{"attempts": 0}, {"base": -1.0}, {"base": 0.5, "cap": 0.1}, {"cap": 11.0}]
)
def test_a_backoff_out_of_range_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Backoff(**bad)  # type: ignore[arg-type]
