"""The pure step-up flow: the digest a factor proved must be the challenge's, a grant is
recorded only after enough proofs, the operation runs only on the engine's Allow with the
grant of this digest, events out of order and past the expiry are refused; the stored form
round-trips and refuses damaged documents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import FlowExpired, FlowOutOfOrder, MalformedInput
from securebox_auth.flows import codec
from securebox_auth.flows.login import FactorVerified, advance, start_login
from securebox_auth.flows.step_up import (
    AskFactor,
    Execute,
    FactorProved,
    GrantRecorded,
    OperationDone,
    RecordStepUp,
    StepUpFlow,
    StepUpState,
    advance_step_up,
    start_step_up,
)
from securebox_auth.identity import Principal
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment
from securebox_auth.policy.session import Session, open_session
from tests.support import NOW

POLICY = PSD2_DEFAULT
WHO = Principal.parse("123456789", "01")
IBAN = "FR7630006000011234567890189"
OTHER = "DE89370400440532013000"


def _session() -> Session:
    return open_session(WHO, "web", ["confidential_code"], NOW)


def _payment(minor: int = 125050, payee: str = IBAN) -> OperationRequest:
    return OperationRequest("sepa_instant_transfer", payment=Payment(Money(minor, "EUR"), payee))


def _challenged(request: OperationRequest) -> StepUpFlow:
    step = start_step_up(POLICY, _session(), request, session_ref="s1", now=NOW)
    assert step.flow.state is StepUpState.CHALLENGED
    assert isinstance(step.action, AskFactor)
    return step.flow


def test_a_factor_over_another_amount_or_payee_is_refused() -> None:
    flow = _challenged(_payment())
    for other in (_payment(125051), _payment(payee=OTHER)):
        digest = other.digest_for(POLICY.operation("sepa_instant_transfer").linking)  # type: ignore[union-attr]
        with pytest.raises(FlowOutOfOrder):
            advance_step_up(POLICY, flow, FactorProved("cap_sign", digest), now=NOW)
    with pytest.raises(FlowOutOfOrder):
        advance_step_up(POLICY, flow, FactorProved("cap_sign", None), now=NOW)


def test_the_whole_step_up_with_the_engine() -> None:
    request = _payment()
    session = _session()
    flow = _challenged(request)
    assert flow.challenge is not None
    assert ("amount", "1250.50 EUR") in flow.challenge.display
    with pytest.raises(FlowOutOfOrder):  # nothing to execute yet
        advance_step_up(
            POLICY,
            flow,
            OperationDone(decide_operation(POLICY, session, request, now=NOW).decision),
            now=NOW,
        )
    proved = advance_step_up(POLICY, flow, FactorProved("cap_sign", flow.digest), now=NOW)
    assert isinstance(proved.action, RecordStepUp)
    assert proved.flow.state is StepUpState.PROVEN
    outcome = complete_step_up(
        POLICY,
        session,
        proved.action.challenge,
        principal=WHO,
        methods=proved.action.methods,
        now=NOW,
    )
    granted = advance_step_up(POLICY, proved.flow, GrantRecorded(outcome.decision), now=NOW)
    assert granted.flow.state is StepUpState.READY
    assert isinstance(granted.action, Execute)
    assert outcome.session.grants[0].digest == flow.digest
    run = decide_operation(POLICY, outcome.session, request, now=NOW)
    done = advance_step_up(POLICY, granted.flow, OperationDone(run.decision), now=NOW)
    assert done.flow.state is StepUpState.CONSUMED
    with pytest.raises(FlowOutOfOrder):  # once
        advance_step_up(POLICY, done.flow, OperationDone(run.decision), now=NOW)
    # the same session cannot run it again: the grant was consumed
    again = decide_operation(POLICY, run.session, request, now=NOW)
    assert again.decision.kind == "step_up"


def test_a_grant_of_another_digest_does_not_execute_this_flow() -> None:
    flow = _challenged(_payment())
    session = _session()
    proved = advance_step_up(POLICY, flow, FactorProved("cap_sign", flow.digest), now=NOW)
    assert isinstance(proved.action, RecordStepUp)
    outcome = complete_step_up(
        POLICY, session, proved.action.challenge, principal=WHO, methods=("cap_sign",), now=NOW
    )
    granted = advance_step_up(POLICY, proved.flow, GrantRecorded(outcome.decision), now=NOW)
    # another payment's grant in another session, consumed: not this flow's digest
    other = _challenged(_payment(999))
    p2 = advance_step_up(POLICY, other, FactorProved("cap_sign", other.digest), now=NOW)
    assert isinstance(p2.action, RecordStepUp)
    o2 = complete_step_up(
        POLICY, session, p2.action.challenge, principal=WHO, methods=("cap_sign",), now=NOW
    )
    run = decide_operation(POLICY, o2.session, _payment(999), now=NOW)
    with pytest.raises(FlowOutOfOrder):
        advance_step_up(POLICY, granted.flow, OperationDone(run.decision), now=NOW)


def test_two_categories_are_collected_before_the_grant() -> None:
    request = OperationRequest("cheque_book_order")
    flow = _challenged(request)
    assert flow.challenge is not None
    if "totp" in flow.challenge.methods and "confidential_code" in flow.challenge.methods:
        one = advance_step_up(POLICY, flow, FactorProved("totp", None), now=NOW)
        assert isinstance(one.action, AskFactor)
        assert "totp" not in one.action.methods
        two = advance_step_up(POLICY, one.flow, FactorProved("confidential_code", None), now=NOW)
        assert isinstance(two.action, RecordStepUp)


def test_an_expired_step_up_is_refused() -> None:
    flow = _challenged(_payment())
    with pytest.raises(FlowExpired):
        advance_step_up(POLICY, flow, FactorProved("cap_sign", flow.digest), now=flow.expires_at)
    with pytest.raises(FlowOutOfOrder):
        advance_step_up(POLICY, flow, FactorProved("totp", None), now=NOW)  # not accepted


payments = st.builds(
    Payment,
    st.builds(Money, st.integers(1, 10**9), st.sampled_from(["EUR", "USD"])),
    st.sampled_from([IBAN, OTHER, "ACME-42"]),
)


@given(
    kind=st.sampled_from(["sepa_instant_transfer", "payee_management", "payment_batch_signing"]),
    payments=st.lists(payments, min_size=1, max_size=4),
)
def test_stored_step_up_flows_round_trip(kind: str, payments: list[Payment]) -> None:
    if len({p.amount.currency for p in payments}) > 1:
        payments = [p for p in payments if p.amount.currency == payments[0].amount.currency]
    request = OperationRequest(
        kind,
        payment=payments[0] if kind == "sepa_instant_transfer" else None,
        payee=payments[0].payee if kind == "payee_management" else None,
        batch=Batch(tuple(payments)) if kind == "payment_batch_signing" else None,
    )
    flow = _challenged(request)
    document = codec.step_up_flow_to_dict(flow)
    back = codec.step_up_flow_from_dict(document, WHO)
    assert back == flow
    assert back.digest == flow.digest


def test_stored_login_flows_round_trip_and_damage_is_malformed() -> None:
    flow = start_login(POLICY, WHO, channel="web", now=NOW).flow
    flow = advance(
        POLICY, flow, FactorVerified("confidential_code"), now=NOW, enrolled={"totp"}
    ).flow
    document = codec.login_flow_to_dict(flow)
    assert codec.login_flow_from_dict(document, WHO) == flow
    for damage in ({"v": 2}, {"state": "nowhere"}, {"expires_at": "yesterday"}, {"failures": -1}):
        with pytest.raises(MalformedInput):
            codec.login_flow_from_dict({**document, **damage}, WHO)
    stored = codec.step_up_flow_to_dict(_challenged(_payment()))
    tampered = {**stored, "request": codec.request_to_dict(_payment(1))}
    with pytest.raises(MalformedInput):  # the challenge's digest is not this operation's
        codec.step_up_flow_from_dict(tampered, WHO)


def test_a_flow_that_needs_no_step_up_is_ready_at_once() -> None:
    session = open_session(WHO, "web", ["cap_identify"], NOW)
    step = start_step_up(
        POLICY,
        session,
        OperationRequest("account_access"),
        session_ref="s",
        now=NOW + timedelta(seconds=1),
    )
    assert step.flow.state is StepUpState.READY
    assert isinstance(step.action, Execute)
