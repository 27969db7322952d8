"""lockout.py: pure failure counting, temporary and permanent blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from securebox_auth.errors import ConfigurationError
from securebox_auth.lockout import (
    BlockStatus,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    block_status,
    record_failure,
    record_success,
    unblock,
)
from tests.support import NOW

RULES = LockoutRules()  # 5 failures, 15-minute blocks, 3 temporary blocks
TICK = timedelta(seconds=1)


def _fail_times(
    state: LockoutState, times: int, now: datetime, rules: LockoutRules = RULES
) -> tuple[LockoutState, list[LockoutAlert]]:
    alerts = []
    for _ in range(times):
        state, alert = record_failure(state, now, rules)
        alerts.append(alert)
    return state, alerts


def test_defaults_follow_psd2() -> None:
    assert RULES.max_failures == 5
    assert RULES.temporary_block == timedelta(minutes=15)
    assert RULES.max_temporary_blocks == 3
    assert RULES.failure_window is None


def test_failures_are_counted_exactly() -> None:
    state = LockoutState()
    for expected in range(1, 5):
        state, alert = record_failure(state, NOW, RULES)
        assert state.failures == expected
        assert alert is LockoutAlert.NONE
        assert block_status(state, NOW) is BlockStatus.OPEN
        assert state.last_failure_at == NOW


def test_fifth_failure_blocks_temporarily() -> None:
    state, alerts = _fail_times(LockoutState(), 5, NOW)
    assert alerts == [LockoutAlert.NONE] * 4 + [LockoutAlert.TEMPORARILY_BLOCKED]
    assert block_status(state, NOW) is BlockStatus.TEMPORARY
    assert state.blocked_until == NOW + timedelta(minutes=15)
    assert state.temporary_blocks == 1
    assert state.failures == 0
    assert not state.permanent


def test_a_blocked_state_refuses_further_counting() -> None:
    blocked, _ = _fail_times(LockoutState(), 5, NOW)
    again, alert = record_failure(blocked, NOW + timedelta(minutes=5), RULES)
    assert again is blocked
    assert alert is LockoutAlert.NONE


def test_temporary_block_expires_exactly_at_its_end() -> None:
    blocked, _ = _fail_times(LockoutState(), 5, NOW)
    end = NOW + timedelta(minutes=15)
    assert block_status(blocked, end - timedelta(microseconds=1)) is BlockStatus.TEMPORARY
    assert block_status(blocked, end) is BlockStatus.OPEN
    state, alert = record_failure(blocked, end, RULES)
    assert state.failures == 1
    assert alert is LockoutAlert.NONE
    assert block_status(state, end) is BlockStatus.OPEN


def test_final_warning_then_permanent() -> None:
    state = LockoutState()
    now = NOW
    block_alerts = []
    for _ in range(3):
        state, alerts = _fail_times(state, 5, now)
        block_alerts.append(alerts[-1])
        assert alerts[:-1] == [LockoutAlert.NONE] * 4
        assert block_status(state, now) is BlockStatus.TEMPORARY
        now = now + timedelta(minutes=15)
    assert block_alerts == [
        LockoutAlert.TEMPORARILY_BLOCKED,
        LockoutAlert.TEMPORARILY_BLOCKED,
        LockoutAlert.FINAL_WARNING,
    ]
    assert state.temporary_blocks == 3
    state, alerts = _fail_times(state, 5, now)
    assert alerts == [LockoutAlert.NONE] * 4 + [LockoutAlert.PERMANENTLY_BLOCKED]
    assert state.permanent
    assert state.blocked_until is None
    assert block_status(state, now + timedelta(days=3650)) is BlockStatus.PERMANENT
    assert record_failure(state, now + timedelta(days=1), RULES) == (state, LockoutAlert.NONE)


def test_no_temporary_block_means_permanent_at_once() -> None:
    rules = LockoutRules(temporary_block=None)
    state, alerts = _fail_times(LockoutState(), 5, NOW, rules)
    assert alerts[-1] is LockoutAlert.PERMANENTLY_BLOCKED
    assert block_status(state, NOW + timedelta(days=365)) is BlockStatus.PERMANENT


def test_zero_temporary_blocks_means_permanent_at_once() -> None:
    rules = LockoutRules(max_temporary_blocks=0)
    state, alerts = _fail_times(LockoutState(), 5, NOW, rules)
    assert alerts[-1] is LockoutAlert.PERMANENTLY_BLOCKED
    assert state.permanent


def test_one_temporary_block_is_the_final_warning() -> None:
    rules = LockoutRules(max_temporary_blocks=1)
    state, alerts = _fail_times(LockoutState(), 5, NOW, rules)
    assert alerts[-1] is LockoutAlert.FINAL_WARNING
    state, alerts = _fail_times(state, 5, NOW + timedelta(minutes=15), rules)
    assert alerts[-1] is LockoutAlert.PERMANENTLY_BLOCKED


def test_unlimited_temporary_blocks_never_become_permanent() -> None:
    rules = LockoutRules(max_temporary_blocks=None, max_failures=2)
    state, now = LockoutState(), NOW
    for block in range(1, 11):
        state, alerts = _fail_times(state, 2, now, rules)
        assert alerts[-1] is LockoutAlert.TEMPORARILY_BLOCKED
        assert state.temporary_blocks == block
        now = now + timedelta(minutes=15)
    assert not state.permanent


def test_failure_window_forgets_old_failures() -> None:
    rules = LockoutRules(failure_window=timedelta(hours=1))
    state, _ = _fail_times(LockoutState(), 4, NOW, rules)
    # just inside the window: the fifth failure blocks
    inside, alert = record_failure(state, NOW + timedelta(hours=1) - TICK, rules)
    assert alert is LockoutAlert.TEMPORARILY_BLOCKED
    assert block_status(inside, NOW + timedelta(hours=1) - TICK) is BlockStatus.TEMPORARY
    # at the end of the window: counting starts again
    after, alert = record_failure(state, NOW + timedelta(hours=1), rules)
    assert alert is LockoutAlert.NONE
    assert after.failures == 1


def test_failure_window_is_measured_from_the_first_failure_of_the_series() -> None:
    rules = LockoutRules(failure_window=timedelta(hours=1))
    state = LockoutState()
    # failures 50 minutes apart: the third is more than an hour after the first
    for minutes, expected in ((0, 1), (50, 2), (100, 1), (150, 2), (200, 1)):
        state, alert = record_failure(state, NOW + timedelta(minutes=minutes), rules)
        assert (state.failures, alert) == (expected, LockoutAlert.NONE)


def test_without_a_window_failures_count_until_a_success() -> None:
    state, _ = _fail_times(LockoutState(), 4, NOW)
    state, alert = record_failure(state, NOW + timedelta(days=400), RULES)
    assert alert is LockoutAlert.TEMPORARILY_BLOCKED


def test_success_resets_everything() -> None:
    state, _ = _fail_times(LockoutState(), 5, NOW)  # one temporary block
    state, _ = _fail_times(state, 3, NOW + timedelta(minutes=15))
    assert (state.failures, state.temporary_blocks) == (3, 1)
    assert record_success(state) == LockoutState()
    # after a success, a full series of temporary blocks is available again
    fresh, alerts = _fail_times(record_success(state), 5, NOW)
    assert alerts[-1] is LockoutAlert.TEMPORARILY_BLOCKED
    assert fresh.temporary_blocks == 1


def test_unblock_lifts_a_permanent_block() -> None:
    state, _ = _fail_times(LockoutState(), 5, NOW, LockoutRules(temporary_block=None))
    assert state.permanent
    lifted = unblock(state)
    assert lifted == LockoutState()
    assert block_status(lifted, NOW) is BlockStatus.OPEN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_failures": 0},
        {"max_failures": 101},
        {"failure_window": timedelta(0)},
        {"failure_window": timedelta(seconds=-1)},
        {"temporary_block": timedelta(0)},
        {"max_temporary_blocks": -1},
    ],
)
def test_invalid_rules(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        LockoutRules(**kwargs)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------------


@dataclass
class _Model:
    """An independent model of the rules, written from their documentation: at most
    ``max_failures`` failures in a series lasting less than ``failure_window`` from its first
    failure; blocks as in RTS 4(4)-(5)."""

    rules: LockoutRules
    failures: int = 0
    blocks: int = 0
    blocked_until: datetime | None = None
    permanent: bool = False
    series_start: datetime | None = None

    def blocked(self, now: datetime) -> bool:
        return self.permanent or (self.blocked_until is not None and now < self.blocked_until)

    def fail(self, now: datetime) -> LockoutAlert:
        if self.blocked(now):
            return LockoutAlert.NONE
        window = self.rules.failure_window
        expired = (
            window is not None
            and self.series_start is not None
            and now - self.series_start >= window
        )
        if self.failures == 0 or expired:  # a new series of failures starts now
            self.failures, self.series_start = 0, now
        self.failures += 1
        if self.failures < self.rules.max_failures:
            return LockoutAlert.NONE
        self.failures, self.series_start = 0, None
        limit = self.rules.max_temporary_blocks
        if self.rules.temporary_block is None or (limit is not None and self.blocks >= limit):
            self.permanent = True
            self.blocked_until = None
            return LockoutAlert.PERMANENTLY_BLOCKED
        self.blocks += 1
        self.blocked_until = now + self.rules.temporary_block
        if self.blocks == limit:
            return LockoutAlert.FINAL_WARNING
        return LockoutAlert.TEMPORARILY_BLOCKED

    def reset(self) -> None:
        self.failures, self.blocks, self.blocked_until = 0, 0, None
        self.permanent, self.series_start = False, None


lockout_rules = st.builds(
    LockoutRules,
    max_failures=st.integers(1, 6),
    failure_window=st.none() | st.sampled_from([timedelta(minutes=10), timedelta(hours=1)]),
    temporary_block=st.none() | st.sampled_from([timedelta(minutes=1), timedelta(minutes=15)]),
    max_temporary_blocks=st.none() | st.integers(0, 3),
)


class LockoutMachine(RuleBasedStateMachine):
    """Random sequences of failures, successes, unblocks and clock moves."""

    def __init__(self) -> None:
        super().__init__()
        self.lockout_rules = RULES
        self.state = LockoutState()
        self.now = NOW
        self.model = _Model(RULES)

    @initialize(rules=lockout_rules)
    def choose_rules(self, rules: LockoutRules) -> None:
        self.lockout_rules = rules
        self.model = _Model(rules)

    @rule(seconds=st.integers(0, 3600))
    def wait(self, seconds: int) -> None:
        self.now = self.now + timedelta(seconds=seconds)

    @rule()
    def fail(self) -> None:
        before = self.state
        was_blocked = block_status(before, self.now) is not BlockStatus.OPEN
        self.state, alert = record_failure(before, self.now, self.lockout_rules)
        assert alert is self.model.fail(self.now)
        if was_blocked:
            assert self.state is before
            assert alert is LockoutAlert.NONE

    @precondition(lambda self: block_status(self.state, self.now) is BlockStatus.OPEN)
    @rule()
    def succeed(self) -> None:
        self.state = record_success(self.state)
        self.model.reset()

    @rule()
    def administrator_unblocks(self) -> None:
        self.state = unblock(self.state)
        self.model.reset()

    @invariant()
    def failures_never_reach_the_maximum(self) -> None:
        assert 0 <= self.state.failures < self.lockout_rules.max_failures

    @invariant()
    def matches_the_model(self) -> None:
        assert self.state.failures == self.model.failures
        assert self.state.temporary_blocks == self.model.blocks
        assert self.state.permanent == self.model.permanent
        status = block_status(self.state, self.now)
        assert (status is not BlockStatus.OPEN) == self.model.blocked(self.now)

    @invariant()
    def blocks_are_consistent(self) -> None:
        if self.state.permanent:
            assert self.state.blocked_until is None
        limit = self.lockout_rules.max_temporary_blocks
        if limit is not None:
            assert self.state.temporary_blocks <= limit


LockoutMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestLockoutSequences = LockoutMachine.TestCase
