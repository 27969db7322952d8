"""Issue 11 / ADR 0008: failures and successes interleaved on every entry path, through the
real services and a real store, never let more than ``max_failures`` consecutive failures of
one element through, and blocks escalate to permanent as the policy says.

The state machine runs on the memory store (fast); a fixed sequence runs on SQLite. Set
``SECUREBOX_LOCKOUT_EXAMPLES`` (for instance 500) for a longer run."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from securebox_auth.lockout.rules import BlockStatus, Element, LockoutRules, block_status
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.testing.pki import TestPki
from tests.factors.lockout_world import PATHS, Checker, LockoutWorld, P, step
from tests.support import BACK_OFFICE, NOW

PKI = TestPki(NOW)
EXAMPLES = int(os.environ.get("SECUREBOX_LOCKOUT_EXAMPLES", "25"))

rules_strategy = st.builds(
    LockoutRules,
    max_failures=st.integers(1, 5),
    temporary_block=st.sampled_from([None, timedelta(minutes=1), timedelta(minutes=3)]),
    max_temporary_blocks=st.sampled_from([None, 0, 1, 2]),
)


class Interleavings(RuleBasedStateMachine):
    world: LockoutWorld
    checker: Checker

    @initialize(rules=rules_strategy)
    def start(self, rules: LockoutRules) -> None:
        self.world = LockoutWorld(MemoryStore(), rules, PKI)
        self.checker = Checker(rules)

    @rule(path=st.sampled_from(sorted(PATHS)), right=st.booleans())
    def attempt(self, path: str, right: bool) -> None:
        step(self.world, self.checker, path, right)

    @rule(minutes=st.integers(1, 5))
    def wait(self, minutes: int) -> None:
        self.world.clock.advance(timedelta(minutes=minutes))

    @rule()
    def back_office_unblocks(self) -> None:
        self.world.codes.unblock(BACK_OFFICE, P)
        assert block_status(self.world.lockout(), self.world.clock.now()) is BlockStatus.OPEN
        self.checker.unblocked()

    @invariant()
    def series_stay_below_the_maximum(self) -> None:
        if not hasattr(self, "world"):
            return
        state = self.world.lockout()
        assert state.failures < self.world.rules.max_failures
        assert all(s.failures < self.world.rules.max_failures for s in state.elements)


Interleavings.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestInterleavings = Interleavings.TestCase


# -- the attack of issue 11, and its fixed sequence on SQLite ---------------------------------


def _world(store: object, rules: LockoutRules) -> tuple[LockoutWorld, Checker]:
    return LockoutWorld(store, rules, PKI), Checker(rules)  # type: ignore[arg-type]


def test_fifty_cycles_of_four_wrong_totp_and_a_right_code_login_block() -> None:
    """Issue 11: with a phished confidential code, 4 wrong TOTP codes then a correct code
    login, 50 times. Before ADR 0008 the 200 TOTP guesses were all checked, never blocked."""
    world, checker = _world(MemoryStore(), LockoutRules())
    evaluated = 0
    for _ in range(50):
        for _ in range(4):
            if step(world, checker, "totp", right=False) is not None:
                evaluated += 1
        step(world, checker, "code_login", right=True)
        world.clock.advance(timedelta(minutes=16))
    state = world.lockout()
    assert state.permanent
    # TOTP guesses checked: 5 per temporary block (3 of them) and 5 for the permanent one
    assert checker.failures_let_through == 20


def test_a_totp_success_does_not_reset_the_escalation_of_the_code() -> None:
    world, checker = _world(MemoryStore(), LockoutRules(max_temporary_blocks=1))
    for _ in range(5):
        step(world, checker, "code_login", right=False)
    assert world.lockout().series(Element.CODE).temporary_blocks == 1  # the final warning
    world.clock.advance(timedelta(minutes=16))
    step(world, checker, "totp", right=True)
    for _ in range(5):
        step(world, checker, "code_change", right=False)
    assert world.lockout().permanent


def test_a_fixed_interleaving_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    migrate.upgrade(engine)
    try:
        rules = LockoutRules(max_failures=3, temporary_block=timedelta(minutes=2),
                             max_temporary_blocks=1)  # fmt: skip
        world, checker = _world(SqlStore(engine, audit_key=b"a" * 32), rules)
        paths = sorted(PATHS)
        for round_ in range(4):
            for index, path in enumerate(paths):
                # two wrong attempts on each path, then a right one on the next path
                step(world, checker, path, right=False)
                step(world, checker, path, right=False)
                step(world, checker, paths[(index + 1 + round_) % len(paths)], right=True)
                world.clock.advance(timedelta(minutes=3))
        assert checker.failures_let_through > 0
        assert world.lockout().permanent
        sessions_left = world.lockout()
        world.codes.unblock(BACK_OFFICE, P)
        assert world.lockout() != sessions_left
        assert step(world, checker, "totp", right=True) is True
    finally:
        engine.dispose()
