"""lockout/rules.py: pure failure counting, temporary and permanent blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from securebox_auth.errors import ConfigurationError
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    ElementSeries,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    block_status,
    record_failure,
    unblock,
)
from securebox_auth.lockout.rules import record_success as lockout_record_success
from tests.support import NOW

RULES = LockoutRules()  # 5 failures, 15-minute blocks, 3 temporary blocks
TICK = timedelta(seconds=1)
CODE, TOTP = Element.CODE, Element.TOTP


def _fail_times(
    state: LockoutState,
    times: int,
    now: datetime,
    rules: LockoutRules = RULES,
    element: Element = CODE,
) -> tuple[LockoutState, list[LockoutAlert]]:
    alerts = []
    for _ in range(times):
        state, alert = record_failure(state, now, rules, element=element)
        alerts.append(alert)
    return state, alerts


def record_success(state: LockoutState, element: Element = CODE) -> LockoutState:
    return lockout_record_success(state, element=element)


def test_defaults_follow_psd2() -> None:
    assert RULES.max_failures == 5
    assert RULES.temporary_block == timedelta(minutes=15)
    assert RULES.max_temporary_blocks == 3
    assert RULES.failure_window is None


def test_failures_are_counted_exactly() -> None:
    state = LockoutState()
    for expected in range(1, 5):
        state, alert = record_failure(state, NOW, RULES, element=CODE)
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
    again, alert = record_failure(blocked, NOW + timedelta(minutes=5), RULES, element=TOTP)
    assert again is blocked
    assert alert is LockoutAlert.NONE


def test_temporary_block_expires_exactly_at_its_end() -> None:
    blocked, _ = _fail_times(LockoutState(), 5, NOW)
    end = NOW + timedelta(minutes=15)
    assert block_status(blocked, end - timedelta(microseconds=1)) is BlockStatus.TEMPORARY
    assert block_status(blocked, end) is BlockStatus.OPEN
    state, alert = record_failure(blocked, end, RULES, element=CODE)
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
    later = now + timedelta(days=1)
    assert record_failure(state, later, RULES, element=TOTP) == (state, LockoutAlert.NONE)


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


def test_failure_window_ends_a_series_after_a_quiet_period() -> None:
    rules = LockoutRules(failure_window=timedelta(hours=1))
    state, _ = _fail_times(LockoutState(), 4, NOW, rules)
    # just inside the window after the last failure: the fifth failure blocks
    inside, alert = record_failure(state, NOW + timedelta(hours=1) - TICK, rules, element=CODE)
    assert alert is LockoutAlert.TEMPORARILY_BLOCKED
    assert block_status(inside, NOW + timedelta(hours=1) - TICK) is BlockStatus.TEMPORARY
    # an hour without a failure: the series is over, counting starts again
    after, alert = record_failure(state, NOW + timedelta(hours=1), rules, element=CODE)
    assert alert is LockoutAlert.NONE
    assert (after.failures, after.series(CODE).failures) == (1, 1)


def test_failure_window_is_measured_from_the_last_failure() -> None:
    """Failures 50 minutes apart with a one-hour window form one series (ADR 0008): the
    window never restarts a series that is still going on. Before, it was measured from the
    first failure and this pace was never blocked."""
    rules = LockoutRules(failure_window=timedelta(hours=1))
    state = LockoutState()
    alerts = []
    for minutes in (0, 50, 100, 150, 200):
        state, alert = record_failure(state, NOW + timedelta(minutes=minutes), rules, element=CODE)
        alerts.append(alert)
    assert alerts == [LockoutAlert.NONE] * 4 + [LockoutAlert.TEMPORARILY_BLOCKED]


def test_failure_window_never_forgets_escalation() -> None:
    rules = LockoutRules(failure_window=timedelta(minutes=30), max_temporary_blocks=1)
    state, alerts = _fail_times(LockoutState(), 5, NOW, rules)
    assert alerts[-1] is LockoutAlert.FINAL_WARNING
    # a year later, far beyond the window: the next full series blocks for good
    state, alerts = _fail_times(state, 5, NOW + timedelta(days=365), rules)
    assert alerts[-1] is LockoutAlert.PERMANENTLY_BLOCKED


def test_without_a_window_failures_count_until_a_success() -> None:
    state, _ = _fail_times(LockoutState(), 4, NOW)
    state, alert = record_failure(state, NOW + timedelta(days=400), RULES, element=CODE)
    assert alert is LockoutAlert.TEMPORARILY_BLOCKED


def test_success_resets_its_own_element_and_the_combined_series() -> None:
    state, _ = _fail_times(LockoutState(), 5, NOW)  # one temporary block
    state, _ = _fail_times(state, 3, NOW + timedelta(minutes=15))
    assert (state.failures, state.temporary_blocks) == (3, 1)
    assert record_success(state) == LockoutState()
    # after a success, a full series of temporary blocks is available again
    fresh, alerts = _fail_times(record_success(state), 5, NOW)
    assert alerts[-1] is LockoutAlert.TEMPORARILY_BLOCKED
    assert fresh.temporary_blocks == 1


def test_success_of_one_element_keeps_another_elements_series() -> None:
    """The attack of issue 11: 4 wrong TOTP codes, then a correct confidential code."""
    state, _ = _fail_times(LockoutState(), 4, NOW, element=TOTP)
    state = record_success(state, CODE)
    assert state.failures == 0  # the combined series ended
    assert state.series(TOTP) == ElementSeries(TOTP, 4, 0, NOW)
    state, alert = record_failure(state, NOW, RULES, element=TOTP)
    assert alert is LockoutAlert.TEMPORARILY_BLOCKED
    assert state.series(TOTP).temporary_blocks == 1


def test_success_of_one_element_keeps_another_elements_escalation() -> None:
    rules = LockoutRules(max_temporary_blocks=1)
    state, alerts = _fail_times(LockoutState(), 5, NOW, rules, element=CODE)
    assert alerts[-1] is LockoutAlert.FINAL_WARNING
    later = NOW + timedelta(minutes=15)
    state = record_success(state, TOTP)
    assert state.temporary_blocks == 0  # the combined escalation ended
    state, alerts = _fail_times(state, 5, later, rules, element=CODE)
    assert alerts[-1] is LockoutAlert.PERMANENTLY_BLOCKED
    assert state.permanent


def test_failures_of_different_elements_block_together() -> None:
    """Without any success, at most ``max_failures`` failures in total (RTS 4(3)(b): failures
    are counted across every path)."""
    state = LockoutState()
    alerts = []
    for element in (CODE, TOTP, Element.OOB, Element.CAP, Element.PASSKEY):
        state, alert = record_failure(state, NOW, RULES, element=element)
        alerts.append(alert)
    assert alerts == [LockoutAlert.NONE] * 4 + [LockoutAlert.TEMPORARILY_BLOCKED]
    # the block counts for the escalation of the element that closed the series
    assert state.series(Element.PASSKEY).temporary_blocks == 1
    assert state.series(CODE) == ElementSeries(CODE, 1, 0, NOW)
    assert state.elements == tuple(
        sorted(state.elements, key=lambda s: list(Element).index(s.element))
    )


def test_fifty_cycles_of_four_wrong_totp_and_a_correct_code_block_for_good() -> None:
    """Issue 11 at the level of the pure rules: before ADR 0008 the 200 TOTP guesses were
    never blocked."""
    state, now = LockoutState(), NOW
    statuses = []
    for _ in range(50):
        for _ in range(4):
            if block_status(state, now) is BlockStatus.OPEN:
                state, _ = record_failure(state, now, RULES, element=TOTP)
            now += TICK
        if block_status(state, now) is BlockStatus.OPEN:
            state = record_success(state, CODE)
        statuses.append(block_status(state, now))
        now += timedelta(minutes=16)
    assert state.permanent
    assert statuses[1] is not BlockStatus.OPEN


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
class _Series:
    failures: int = 0
    blocks: int = 0
    last: datetime | None = None


@dataclass
class _Model:
    """An independent model of the rules, written from ADR 0008: each element's series and
    the combined series hold at most ``max_failures - 1`` failures; a series ends with a
    success (any success for the combined one, its own for an element's), a block it caused,
    or ``failure_window`` without a failure; blocks escalate per element and combined."""

    rules: LockoutRules
    elements: dict[Element, _Series] = field(default_factory=dict)
    combined: _Series = field(default_factory=_Series)
    blocked_until: datetime | None = None
    permanent: bool = False

    def blocked(self, now: datetime) -> bool:
        return self.permanent or (self.blocked_until is not None and now < self.blocked_until)

    def _count(self, series: _Series, now: datetime) -> None:
        window = self.rules.failure_window
        if window is not None and series.last is not None and now - series.last >= window:
            series.failures = 0
        series.failures += 1
        series.last = now

    def fail(self, now: datetime, element: Element) -> LockoutAlert:
        if self.blocked(now):
            return LockoutAlert.NONE
        own = self.elements.setdefault(element, _Series())
        self._count(own, now)
        self._count(self.combined, now)
        if max(own.failures, self.combined.failures) < self.rules.max_failures:
            return LockoutAlert.NONE
        own.failures = self.combined.failures = 0
        limit = self.rules.max_temporary_blocks
        worst = max(own.blocks, self.combined.blocks)
        if self.rules.temporary_block is None or (limit is not None and worst >= limit):
            self.permanent = True
            self.blocked_until = None
            return LockoutAlert.PERMANENTLY_BLOCKED
        own.blocks += 1
        self.combined.blocks += 1
        self.blocked_until = now + self.rules.temporary_block
        if max(own.blocks, self.combined.blocks) == limit:
            return LockoutAlert.FINAL_WARNING
        return LockoutAlert.TEMPORARILY_BLOCKED

    def succeed(self, element: Element) -> None:
        self.elements.pop(element, None)
        self.combined.failures = self.combined.blocks = 0
        self.blocked_until = None

    def reset(self) -> None:
        self.elements, self.combined = {}, _Series()
        self.blocked_until, self.permanent = None, False


lockout_rules = st.builds(
    LockoutRules,
    max_failures=st.integers(1, 6),
    failure_window=st.none() | st.sampled_from([timedelta(minutes=10), timedelta(hours=1)]),
    temporary_block=st.none() | st.sampled_from([timedelta(minutes=1), timedelta(minutes=15)]),
    max_temporary_blocks=st.none() | st.integers(0, 3),
)
elements = st.sampled_from([CODE, TOTP, Element.OOB])


class LockoutMachine(RuleBasedStateMachine):
    """Random sequences of failures and successes of a few elements, unblocks and clock
    moves, against the model."""

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

    @rule(element=elements)
    def fail(self, element: Element) -> None:
        before = self.state
        was_blocked = block_status(before, self.now) is not BlockStatus.OPEN
        self.state, alert = record_failure(before, self.now, self.lockout_rules, element=element)
        assert alert is self.model.fail(self.now, element)
        if was_blocked:
            assert self.state is before
            assert alert is LockoutAlert.NONE

    @precondition(lambda self: block_status(self.state, self.now) is BlockStatus.OPEN)
    @rule(element=elements)
    def succeed(self, element: Element) -> None:
        self.state = record_success(self.state, element)
        self.model.succeed(element)

    @rule()
    def administrator_unblocks(self) -> None:
        self.state = unblock(self.state)
        self.model.reset()

    @invariant()
    def failures_never_reach_the_maximum(self) -> None:
        assert 0 <= self.state.failures < self.lockout_rules.max_failures
        for series in self.state.elements:
            assert 0 <= series.failures < self.lockout_rules.max_failures

    @invariant()
    def matches_the_model(self) -> None:
        assert self.state.failures == self.model.combined.failures
        assert self.state.temporary_blocks == self.model.combined.blocks
        for element in Element:
            series = self.state.series(element)
            expected = self.model.elements.get(element, _Series())
            assert (series.failures, series.temporary_blocks) == (
                expected.failures,
                expected.blocks,
            )
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
            assert all(s.temporary_blocks <= limit for s in self.state.elements)


LockoutMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestLockoutSequences = LockoutMachine.TestCase
