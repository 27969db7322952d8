"""No dead end: across the shipped policies' sensitive operations and sessions opened by
any login, whatever the engine offers, some sequence of the offered proofs completes the
step-up, and the flow reaches :class:`RecordStepUp` exactly when the engine's
:func:`complete_step_up` allows (one rule, the engine's). A code session completes a
non-single-use step-up with one more factor; a linked one still needs its own proofs."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from securebox_auth.flows.step_up import (
    AskFactor,
    FactorProved,
    RecordStepUp,
    StepUpFlow,
    advance_step_up,
    start_step_up,
)
from securebox_auth.identity import Principal
from securebox_auth.policy.decision import Allow
from securebox_auth.policy.engine import complete_step_up
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment
from securebox_auth.policy.model import Linking, OperationRule, Policy
from securebox_auth.policy.session import Session, open_session
from securebox_auth.policy.shipped import SHIPPED_POLICIES, shipped_policy
from tests.support import NOW

WHO = Principal.parse("123456789", "01")
IBAN = "FR7630006000011234567890189"


def _request(rule: OperationRule) -> OperationRequest:
    payment = Payment(Money(125050, "EUR"), IBAN)
    if rule.linking is Linking.BATCH:
        return OperationRequest(rule.name, batch=Batch((payment,)))
    if rule.linking is Linking.PAYEE:
        return OperationRequest(rule.name, payee=IBAN)
    if rule.linking is Linking.NONE:
        return OperationRequest(rule.name)
    return OperationRequest(rule.name, payment=payment)


def _logins(policy: Policy) -> list[tuple[str, ...]]:
    names = policy.login.method_names
    return [(m,) for m in names] + list(itertools.combinations(names, 2))


def _walk(
    policy: Policy, session: Session, flow: StepUpFlow, ask: AskFactor, done: tuple[str, ...]
) -> bool:
    """Try every offered method in turn; check the flow and the engine agree at each
    step; True when some sequence completes."""
    completed = False
    for method in ask.methods:
        step = advance_step_up(
            policy, flow, FactorProved(method, flow.digest), now=NOW, session=session
        )
        proven = (*done, method)
        assert flow.challenge is not None
        engine = complete_step_up(
            policy, session, flow.challenge, principal=WHO, methods=proven, now=NOW
        ).decision
        if isinstance(step.action, RecordStepUp):
            assert isinstance(engine, Allow), (proven, engine.explain())
            completed = True
        else:
            assert isinstance(step.action, AskFactor)
            assert not isinstance(engine, Allow), (proven, "the flow asks for more")
            completed = _walk(policy, session, step.flow, step.action, proven) or completed
    return completed


CASES = [
    (name, rule.name, login)
    for name in SHIPPED_POLICIES
    for rule in shipped_policy(name).operations
    if rule.sensitive
    for login in _logins(shipped_policy(name))
]


@pytest.mark.parametrize(("policy_name", "operation", "login"), CASES)
def test_whatever_the_engine_offers_completes(
    policy_name: str, operation: str, login: tuple[str, ...]
) -> None:
    policy = shipped_policy(policy_name)
    rule = policy.operation(operation)
    assert rule is not None
    for age in (timedelta(0), min(rule.max_age, policy.session.idle_timeout) / 2):
        session = open_session(WHO, "web", login, NOW - age)
        step = start_step_up(policy, session, _request(rule), session_ref="s", now=NOW)
        if not isinstance(step.action, AskFactor):
            continue  # allowed already (fresh strong login) or refused (not a dead end)
        assert step.session is not None
        assert _walk(policy, step.session, step.flow, step.action, ()), (login, age)


def test_a_code_session_completes_a_fresh_proof_operation_with_one_factor() -> None:
    policy = shipped_policy("psd2-default")
    fresh = [r for r in policy.operations if r.sensitive and not r.single_use]
    assert fresh, "the default policy has an operation asking only for fresh proofs"
    session = open_session(WHO, "web", ["confidential_code"], NOW)
    for rule in fresh:
        step = start_step_up(policy, session, _request(rule), session_ref="s", now=NOW)
        assert isinstance(step.action, AskFactor)
        assert "totp" in step.action.methods
        proved = advance_step_up(
            policy, step.flow, FactorProved("totp", None), now=NOW, session=step.session
        )
        assert isinstance(proved.action, RecordStepUp), rule.name


def test_a_linked_operation_counts_only_its_own_proofs() -> None:
    policy = shipped_policy("psd2-default")
    session = open_session(WHO, "web", ["confidential_code", "totp"], NOW)
    for rule in policy.operations:
        if rule.linking is Linking.NONE:
            continue
        step = start_step_up(policy, session, _request(rule), session_ref="s", now=NOW)
        assert isinstance(step.action, AskFactor), rule.name
        for method in step.action.methods:
            event = FactorProved(method, step.flow.digest)
            counted = advance_step_up(policy, step.flow, event, now=NOW, session=session)
            own = advance_step_up(policy, step.flow, event, now=NOW)
            # the fresh strong login does not count: only proofs bound to the digest do
            assert type(counted.action) is type(own.action), (rule.name, method)
