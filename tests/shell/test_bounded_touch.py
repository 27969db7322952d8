"""The idle timer written at most once per granularity G (ADR 0029), on memory and SQLite:
requests within G of the recorded activity do not commit, the session never outlives the
idle timeout and ends at most G early, and a lost compare-and-swap race never fails the
request that only restarts the timer."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from securebox_auth import FixedClock, Securebox
from securebox_auth.errors import NotAuthenticated
from securebox_auth.policy.session import touch, touch_granularity
from securebox_auth.stores.protocols import AuthStore, PutSession
from tests.shell.counting import CountingStore
from tests.shell.portal import T0, Phone, enrol_users, make_box, strong_login, user


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def counting(shell_store: AuthStore) -> CountingStore:
    return CountingStore(shell_store)


@pytest.fixture
def box(counting: CountingStore, clock: FixedClock) -> Securebox:
    return make_box(counting.as_store(), clock, Phone())


@pytest.fixture
def session_id(box: Securebox, clock: FixedClock) -> str:
    seeds = enrol_users(box, 1)
    clock.advance(timedelta(seconds=30))
    return strong_login(box, user(1), seeds[user(1)], clock)


def _set(clock: FixedClock, when: datetime) -> None:
    clock.advance(when - clock.now())


def test_granularity_is_a_twentieth_of_the_idle_timeout_at_most_a_minute(box: Securebox) -> None:
    rules = box.policy.session
    assert rules.idle_timeout == timedelta(minutes=5)
    assert touch_granularity(rules) == timedelta(seconds=15)
    longer = type(rules)(idle_timeout=timedelta(hours=1), absolute_lifetime=timedelta(hours=2))
    assert touch_granularity(longer) == timedelta(seconds=60)


def test_activity_within_g_is_not_written_and_at_g_is(
    box: Securebox, counting: CountingStore, clock: FixedClock, session_id: str
) -> None:
    opened = box.sessions.get(session_id).value.last_activity
    clock.advance(timedelta(seconds=14))
    session, commits = counting.counted(lambda: box.touch(session_id))
    assert commits == 0
    assert session.last_activity == opened
    clock.advance(timedelta(seconds=1))  # 15 s = G since the recorded activity
    session, commits = counting.counted(lambda: box.touch(session_id))
    assert commits == 1
    assert session.last_activity == clock.now()
    assert box.sessions.get(session_id).value.last_activity == clock.now()


def test_session_never_outlives_the_idle_timeout(
    box: Securebox, clock: FixedClock, session_id: str
) -> None:
    """Requests every 10 s (under G): the session ends by idle_timeout after the last one."""
    idle = box.policy.session.idle_timeout
    for _ in range(40):  # over six minutes of activity: longer than the idle timeout
        clock.advance(timedelta(seconds=10))
        box.touch(session_id)
    clock.advance(idle + timedelta(seconds=1))
    with pytest.raises(NotAuthenticated):
        box.touch(session_id)


def test_session_ends_at_most_g_early(box: Securebox, clock: FixedClock, session_id: str) -> None:
    rules = box.policy.session
    g = touch_granularity(rules)
    recorded = box.sessions.get(session_id).value.last_activity
    _set(clock, recorded + g - timedelta(seconds=1))
    box.touch(session_id)  # not written: the recorded activity lags by G - 1 s
    last_request = clock.now()
    # A per-request write would keep it alive until last_request + idle_timeout; it ends
    # when the recorded activity is idle_timeout old: G - 1 s earlier, no more.
    _set(clock, recorded + rules.idle_timeout)
    box.touch(session_id)  # alive: exactly idle_timeout since the recorded activity (written)
    assert box.sessions.get(session_id).value.last_activity == clock.now()
    assert clock.now() - last_request < rules.idle_timeout


def test_unwritten_activity_ends_the_session_early_never_late(
    box: Securebox, clock: FixedClock, session_id: str
) -> None:
    rules = box.policy.session
    g = touch_granularity(rules)
    recorded = box.sessions.get(session_id).value.last_activity
    _set(clock, recorded + g - timedelta(seconds=1))
    box.touch(session_id)  # not written
    last_request = clock.now()
    _set(clock, recorded + rules.idle_timeout + timedelta(seconds=1))
    # Per-request writes would still be alive (idle for idle_timeout - G + 2 s); it is not,
    # and the gap to the per-request end is under G.
    assert clock.now() - last_request <= rules.idle_timeout
    assert last_request + rules.idle_timeout - clock.now() < g
    with pytest.raises(NotAuthenticated):
        box.touch(session_id)


def test_lost_race_is_not_an_error_and_is_not_retried_after_the_winner(
    box: Securebox, counting: CountingStore, clock: FixedClock, session_id: str
) -> None:
    clock.advance(timedelta(seconds=20))
    other = make_box(counting.inner, clock, Phone())  # another worker on the same database

    def winner() -> None:
        other.touch(session_id)

    counting.before_next_commit(winner)
    session, commits = counting.counted(lambda: box.touch(session_id))
    assert commits == 1  # ours, lost; the winner's is on the inner store; no second round
    assert session.last_activity == clock.now()


def test_losing_every_round_serves_the_session_unwritten(
    box: Securebox, counting: CountingStore, clock: FixedClock, session_id: str
) -> None:
    """Another writer commits (without advancing the activity) before each of our commits."""
    before = box.sessions.get(session_id).value.last_activity
    clock.advance(timedelta(seconds=20))

    def rival() -> None:
        found = counting.inner.get_session(session_id)
        assert found is not None
        same = touch(found.value, found.value.last_activity, grants=found.value.grants)
        counting.inner.commit([PutSession(session_id, found.version, same)], [])
        counting.before_next_commit(rival)

    counting.before_next_commit(rival)
    session = box.touch(session_id)  # no ConcurrentUpdate (the 409 of a read-only page)
    counting.before_next_commit(lambda: None)
    assert session.last_activity == before  # not recorded: ends earlier, never later
