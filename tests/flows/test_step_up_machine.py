"""The pure step-up flow under random events (hypothesis state machine), with the real
engine recording the step-up and deciding the execution:

* a factor over another digest, a method not offered, an event the state does not take or
  an event past the expiry is refused and changes nothing;
* the step-up is recorded only once the proofs satisfy the rule, every linked proof over the
  challenge's digest;
* the flow reaches ``consumed`` only with the engine's ``Allow`` consuming a grant of the
  flow's digest, and at most once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from securebox_auth.errors import FlowExpired, FlowOutOfOrder
from securebox_auth.factors.methods import METHODS, categories_from_mask, category_mask
from securebox_auth.flows.step_up import (
    FactorProved,
    GrantRecorded,
    OperationDone,
    RecordStepUp,
    StepUpState,
    advance_step_up,
    start_step_up,
)
from securebox_auth.identity import Principal
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.decision import Allow
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.session import Session, open_session
from tests.support import NOW

POLICY = PSD2_DEFAULT
WHO = Principal.parse("123456789", "01")
REQUESTS = (
    OperationRequest(
        "sepa_instant_transfer",
        payment=Payment(Money(125050, "EUR"), "FR7630006000011234567890189"),
    ),
    OperationRequest("payee_management", payee="DE89370400440532013000"),
    OperationRequest("cheque_book_order"),
)
NAMES = sorted(METHODS)


class StepUpMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.session: Session = open_session(WHO, "web", ["confidential_code"], NOW)
        self.request = REQUESTS[0]
        step = start_step_up(POLICY, self.session, self.request, session_ref="s", now=NOW)
        self.flow = step.flow
        self.consumed = 0

    @rule(which=st.integers(0, len(REQUESTS) - 1))
    def restart(self, which: int) -> None:
        self.request = REQUESTS[which]
        step = start_step_up(POLICY, self.session, self.request, session_ref="s", now=self.now)
        self.flow = step.flow

    @rule(
        method=st.sampled_from(NAMES),
        right_digest=st.booleans(),
        wait=st.integers(0, 200),
    )
    def prove(self, method: str, right_digest: bool, wait: int) -> None:
        self.now += timedelta(seconds=wait)
        flow = self.flow
        digest = flow.digest if right_digest else "0" * 64
        event = FactorProved(method, digest)
        linked = flow.digest is not None and METHODS[method].dynamic_linking
        challenge = flow.challenge
        refused = (
            flow.finished
            or flow.state is not StepUpState.CHALLENGED
            or challenge is None
            or method not in challenge.methods
            or (linked and not right_digest)
        )
        if not flow.finished and flow.expired(self.now):
            with pytest.raises(FlowExpired):
                advance_step_up(POLICY, flow, event, now=self.now)
            return
        if refused:
            with pytest.raises(FlowOutOfOrder):
                advance_step_up(POLICY, flow, event, now=self.now)
            return
        step = advance_step_up(POLICY, flow, event, now=self.now)
        if isinstance(step.action, RecordStepUp):
            proven = step.action.methods
            rule_ = POLICY.operation(self.request.operation)
            assert rule_ is not None
            assert len(categories_from_mask(category_mask(proven))) >= rule_.min_categories
            outcome = complete_step_up(
                POLICY,
                self.session,
                step.action.challenge,
                principal=WHO,
                methods=proven,
                now=self.now,
            )
            recorded = advance_step_up(
                POLICY, step.flow, GrantRecorded(outcome.decision), now=self.now
            )
            if isinstance(outcome.decision, Allow):
                assert recorded.flow.state is StepUpState.READY
                self.session = outcome.session
            else:
                assert recorded.flow.state is StepUpState.FAILED
            self.flow = recorded.flow
        else:
            assert step.flow.state is StepUpState.CHALLENGED
            self.flow = step.flow

    @rule(wait=st.integers(0, 200))
    def execute(self, wait: int) -> None:
        self.now += timedelta(seconds=wait)
        flow = self.flow
        outcome = decide_operation(POLICY, self.session, self.request, now=self.now)
        event = OperationDone(outcome.decision)
        if flow.finished or flow.state is not StepUpState.READY:
            with pytest.raises(FlowOutOfOrder):
                advance_step_up(POLICY, flow, event, now=self.now)
            return
        decision = outcome.decision
        mismatched = flow.digest is not None and (
            not isinstance(decision, Allow)
            or decision.consumed is None
            or decision.consumed.digest != flow.digest
        )
        if isinstance(decision, Allow) and mismatched:
            with pytest.raises(FlowOutOfOrder):
                advance_step_up(POLICY, flow, event, now=self.now)
            return
        step = advance_step_up(POLICY, flow, event, now=self.now)
        self.session = outcome.session
        if step.flow.state is StepUpState.CONSUMED:
            assert isinstance(decision, Allow)
            self.consumed += 1
        else:
            assert step.flow.state is StepUpState.FAILED
            assert not isinstance(decision, Allow)
        self.flow = step.flow

    @invariant()
    def a_consumed_flow_used_the_engine(self) -> None:
        if self.flow.state is StepUpState.CONSUMED:
            assert self.consumed >= 1
        assert all(m in METHODS for m in self.flow.proven)


TestStepUpMachine = StepUpMachine.TestCase
TestStepUpMachine.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
