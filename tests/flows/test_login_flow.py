"""The pure login flow: a hypothesis state machine drives random events (in and out of order,
with random clocks, renewal clocks and enrolments) and checks after each one that:

* an event the state does not take raises :class:`FlowOutOfOrder` and changes nothing;
* past the expiry every event raises :class:`FlowExpired`;
* the flow reaches ``done`` only with the engine's ``Allow`` on exactly what was proven;
* what is offered before a first factor depends on the policy alone.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from securebox_auth.errors import FlowExpired, FlowOutOfOrder, InvalidTime
from securebox_auth.factors.methods import METHODS
from securebox_auth.flows.login import (
    FIRST_FACTORS,
    MAX_FAILURES,
    AskCodeChange,
    CodeChanged,
    FactorFailed,
    FactorVerified,
    Finished,
    LoginEvent,
    LoginState,
    Offer,
    OpenLoginSession,
    advance,
    first_factors,
    start_login,
)
from securebox_auth.identity import Principal
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.decision import Allow
from securebox_auth.policy.engine import decide_login
from tests.support import NOW

POLICY = PSD2_DEFAULT
WHO = Principal.parse("123456789", "01")
NAMES = sorted(METHODS)

events = st.one_of(
    st.builds(FactorVerified, st.sampled_from(NAMES), st.booleans()),
    st.builds(FactorFailed, st.sampled_from(NAMES), st.booleans()),
    st.just(CodeChanged()),
)


def _takes(state: LoginState, offered: tuple[str, ...], event: LoginEvent) -> bool:
    """The model: which events a state accepts."""
    if state in (LoginState.DONE, LoginState.FAILED):
        return False
    if isinstance(event, CodeChanged):
        return state is LoginState.CODE_CHANGE
    if state is LoginState.CODE_CHANGE or event.method not in offered:
        return False
    if isinstance(event, FactorVerified) and event.change_required:
        return event.method == "confidential_code" and state is LoginState.FIRST_FACTOR
    return True


class LoginMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.flow = start_login(POLICY, WHO, channel="web", now=NOW).flow

    @rule(
        event=events,
        wait=st.integers(0, 700),
        last_sca_days=st.none() | st.integers(-2, 200),
        enrolled=st.frozensets(st.sampled_from(NAMES)),
    )
    def step(
        self, event: LoginEvent, wait: int, last_sca_days: int | None, enrolled: frozenset[str]
    ) -> None:
        self.now += timedelta(seconds=wait)
        last_sca = None if last_sca_days is None else self.now - timedelta(days=last_sca_days)
        before = self.flow
        if before.finished:
            with pytest.raises(FlowOutOfOrder):
                advance(POLICY, before, event, now=self.now)
            return
        if self.now >= before.expires_at:
            with pytest.raises(FlowExpired):
                advance(POLICY, before, event, now=self.now)
            return
        if not _takes(before.state, before.offered, event):
            with pytest.raises(FlowOutOfOrder):
                advance(POLICY, before, event, now=self.now)
            return
        step = advance(POLICY, before, event, now=self.now, last_sca=last_sca, enrolled=enrolled)
        after, action = step.flow, step.action
        assert after.id == before.id
        assert after.expires_at == before.expires_at
        if isinstance(action, OpenLoginSession):
            assert after.state is LoginState.DONE
            again = decide_login(
                POLICY,
                principal=WHO,
                channel="web",
                methods=after.proven,
                last_sca=last_sca,
                now=self.now,
                enrolled=enrolled,
            )
            assert isinstance(again.decision, Allow)  # done only with the policy's allow
            assert action.session.principal == WHO
            assert set(action.session.methods) == set(after.proven)
        elif isinstance(action, AskCodeChange):
            assert after.state is LoginState.CODE_CHANGE
        elif isinstance(action, Offer):
            assert after.state in (LoginState.FIRST_FACTOR, LoginState.SECOND_FACTOR)
            assert action.methods == after.offered
            assert action.methods
        else:
            assert isinstance(action, Finished)
            assert after.state is LoginState.FAILED
        if isinstance(event, FactorFailed):
            assert after.proven == before.proven
            assert after.failures == before.failures + 1
        self.flow = after

    @precondition(lambda self: not self.flow.finished)
    @rule()
    def expire(self) -> None:
        self.now = self.flow.expires_at
        with pytest.raises(FlowExpired):
            advance(POLICY, self.flow, CodeChanged(), now=self.now)

    @invariant()
    def proven_only_verified_methods(self) -> None:
        assert all(m in METHODS for m in self.flow.proven)
        assert self.flow.failures <= MAX_FAILURES
        if self.flow.state is LoginState.FIRST_FACTOR:
            assert self.flow.offered == first_factors(POLICY)
            assert not self.flow.proven


TestLoginMachine = LoginMachine.TestCase
TestLoginMachine.settings = settings(max_examples=150, stateful_step_count=20, deadline=None)


@given(
    client=st.from_regex(r"[0-9]{9}", fullmatch=True),
    user=st.from_regex(r"[0-9]{2}", fullmatch=True),
)
def test_the_first_offer_depends_on_the_policy_alone(client: str, user: str) -> None:
    step = start_login(POLICY, Principal.parse(client, user), channel="web", now=NOW)
    assert step.flow.offered == first_factors(POLICY)
    assert isinstance(step.action, Offer)
    assert step.action.methods == first_factors(POLICY)
    assert set(step.flow.offered) <= FIRST_FACTORS
    assert "totp" not in step.flow.offered
    assert "sms_otp" not in step.flow.offered


def test_a_code_alone_at_first_access_asks_for_an_enrolled_second_factor() -> None:
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    step = advance(POLICY, flow, FactorVerified("confidential_code"), now=NOW, enrolled={"totp"})
    assert step.flow.state is LoginState.SECOND_FACTOR
    assert step.flow.offered == ("totp",)
    assert "first_access" in step.flow.explain()
    with pytest.raises(FlowOutOfOrder):
        advance(POLICY, step.flow, FactorVerified("passkey_uv"), now=NOW)
    done = advance(POLICY, step.flow, FactorVerified("totp"), now=NOW, enrolled={"totp"})
    assert isinstance(done.action, OpenLoginSession)
    assert done.action.renewed
    assert done.action.last_sca == NOW


def test_a_flow_begun_before_every_session_was_ended_cannot_move_on() -> None:
    """What ends every session of an account (log out everywhere, recovery, removal) also
    ends the logins under way: one that verified the old code cannot open a session."""
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    second = advance(POLICY, flow, FactorVerified("confidential_code"), now=NOW, enrolled={"totp"})
    later = NOW + timedelta(seconds=20)
    for ended_at in (NOW, NOW + timedelta(seconds=10)):  # the same instant counts as before
        with pytest.raises(FlowExpired, match="ended meanwhile"):
            advance(
                POLICY, second.flow, FactorVerified("totp"), now=later, enrolled={"totp"},
                sessions_ended_at=ended_at,
            )  # fmt: skip
    after = advance(
        POLICY, second.flow, FactorVerified("totp"), now=later, enrolled={"totp"},
        sessions_ended_at=NOW - timedelta(seconds=1),
    )  # fmt: skip
    assert isinstance(after.action, OpenLoginSession)
    naive = NOW.replace(tzinfo=None)
    for times in ({"sessions_ended_at": naive}, {"code_set_at": naive}):
        with pytest.raises(InvalidTime):
            advance(POLICY, second.flow, FactorVerified("totp"), now=later, **times)  # type: ignore[arg-type]


def test_a_flow_moves_on_only_while_its_verified_code_is_the_principal_s_code() -> None:
    """A code changed, reset or replaced after the flow verified it ends the flow: a login
    that proved the old code cannot open a session (ADR 0067)."""
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    set_at = NOW - timedelta(days=3)
    second = advance(
        POLICY, flow, FactorVerified("confidential_code"), now=NOW, enrolled={"totp"},
        code_set_at=set_at,
    )  # fmt: skip
    assert second.flow.code_set_at == set_at
    later = NOW + timedelta(seconds=20)
    with pytest.raises(FlowExpired, match="code was changed"):
        advance(
            POLICY, second.flow, FactorVerified("totp"), now=later, enrolled={"totp"},
            code_set_at=NOW + timedelta(seconds=10),
        )  # fmt: skip
    same = advance(
        POLICY, second.flow, FactorVerified("totp"), now=later, enrolled={"totp"},
        code_set_at=set_at,
    )  # fmt: skip
    assert isinstance(same.action, OpenLoginSession)


def test_the_forced_code_change_moves_the_flow_to_the_new_code() -> None:
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    one_time = NOW - timedelta(days=1)
    asked = advance(
        POLICY, flow, FactorVerified("confidential_code", change_required=True), now=NOW,
        code_set_at=one_time,
    )  # fmt: skip
    assert asked.flow.code_set_at == one_time
    changed = advance(
        POLICY, asked.flow, CodeChanged(), now=NOW, enrolled={"totp"}, code_set_at=NOW
    )
    assert changed.flow.code_set_at == NOW
    done = advance(
        POLICY, changed.flow, FactorVerified("totp"), now=NOW, enrolled={"totp"}, code_set_at=NOW
    )
    assert isinstance(done.action, OpenLoginSession)


def test_a_recent_strong_login_lets_the_code_alone_in_without_renewing() -> None:
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    step = advance(
        POLICY,
        flow,
        FactorVerified("confidential_code"),
        now=NOW,
        last_sca=NOW - timedelta(days=10),
    )
    assert isinstance(step.action, OpenLoginSession)
    assert not step.action.renewed


def test_a_one_time_code_must_be_changed_before_anything_else() -> None:
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    step = advance(POLICY, flow, FactorVerified("confidential_code", change_required=True), now=NOW)
    assert isinstance(step.action, AskCodeChange)
    with pytest.raises(FlowOutOfOrder):
        advance(POLICY, step.flow, FactorVerified("confidential_code"), now=NOW)
    changed = advance(POLICY, step.flow, CodeChanged(), now=NOW, enrolled={"totp"})
    assert changed.flow.state is LoginState.SECOND_FACTOR


def test_a_blocked_factor_ends_the_flow() -> None:
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    step = advance(POLICY, flow, FactorFailed("confidential_code", blocked=True), now=NOW)
    assert isinstance(step.action, Finished)
    assert step.action.reason == "blocked"
    with pytest.raises(FlowOutOfOrder):
        advance(POLICY, step.flow, FactorVerified("confidential_code"), now=NOW)
