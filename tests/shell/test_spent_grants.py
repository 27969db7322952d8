"""A single-use step-up grant is spent once across the two paths that can spend it: the
portal's ``execute`` and a downstream verification of an assertion issued while the grant
was live (every assertion of the session carries the session's grants). Each store; the
race of the two paths in several processes is in ``test_concurrency.py``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest

from securebox_auth import (
    AssertionRequirement,
    Channel,
    CodeAnswer,
    FixedClock,
    OobAnswer,
    OperationRequest,
    Securebox,
    StepUpRequired,
    TokenReplayed,
)
from securebox_auth.shell.spent_grants import ASSERTION_GRANT, decide_unspent, grant_key
from securebox_auth.stores.protocols import AuthStore, PutFactorState
from securebox_auth.tokens.requirement import VerifiedAssertion
from tests.shell.portal import CODE, PHONE, T0, Phone, enrol_users, make_box, strong_login, user

PAYEE = OperationRequest("payee_management", payee="FR7630006000011234567890189")
AUDIENCE = "payments-api"
WHO = user(1)


@dataclass(frozen=True)
class Portal:
    box: Securebox
    clock: FixedClock
    phone: Phone


@pytest.fixture
def portal(contract_store: AuthStore) -> Portal:
    clock, phone = FixedClock(T0), Phone()
    return Portal(make_box(contract_store, clock, phone), clock, phone)


def _granted(portal: Portal) -> tuple[str, str, str]:
    """A strong login, a payee step-up proved by SMS and code (its grant in the session),
    and an assertion issued then: (session id, flow handle, token)."""
    box, clock, phone = portal.box, portal.clock, portal.phone
    seed = enrol_users(box, 1)[WHO]
    clock.advance(timedelta(minutes=1))
    session_id = strong_login(box, WHO, seed, clock)
    up = box.start_step_up(session_id, PAYEE)
    sms = box.send_step_up_code(session_id, up.handle, channel=Channel.SMS, destination=PHONE)
    up = box.prove_step_up(session_id, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(session_id, up.handle, CodeAnswer(CODE))
    assert up.ready
    return up.session_id, up.handle, box.assertion(up.session_id, audience=AUDIENCE)


def _verify(box: Securebox, token: str) -> VerifiedAssertion:
    requirement = AssertionRequirement.for_operation(box.policy, PAYEE)
    return box.assertion_verifier(AUDIENCE).verify(token, subject=WHO, requirement=requirement)


def _actions(box: Securebox) -> Counter[tuple[str, str]]:
    return Counter((e.event.action, e.event.outcome) for e in box.audit_log())


def test_an_executed_grant_is_refused_to_an_assertion_issued_before(portal: Portal) -> None:
    box = portal.box
    session_id, handle, token = _granted(portal)
    assert box.execute(session_id, handle).executed
    with pytest.raises(TokenReplayed, match="grant"):
        _verify(box, token)
    actions = _actions(box)
    assert actions[("grant.consume", "success")] == 1
    assert actions[("assertion.consume", "refused")] == 1
    assert actions[("assertion.consume", "success")] == 0
    spent = box.store.factor_states(WHO, ASSERTION_GRANT)
    assert len(spent) == 1
    assert spent[0][1].value["by"] == "execute"


def test_a_grant_spent_by_an_assertion_is_not_executed(portal: Portal) -> None:
    box, clock, phone = portal.box, portal.clock, portal.phone
    session_id, handle, token = _granted(portal)
    assert _verify(box, token).spent is not None
    page = box.execute(session_id, handle)
    assert not page.executed
    assert isinstance(page.decision, StepUpRequired)  # the approval is gone: step up again
    found = box.store.get_session(session_id)
    assert found is not None
    assert not found.value.grants
    actions = _actions(box)
    assert actions[("assertion.consume", "success")] == 1
    assert not any(action == "grant.consume" for action, _ in actions)
    # a new step-up for the same payee gives a new grant, which executes
    clock.advance(timedelta(minutes=1))  # the SMS throttle
    up = box.start_step_up(session_id, PAYEE)
    sms = box.send_step_up_code(session_id, up.handle, channel=Channel.SMS, destination=PHONE)
    up = box.prove_step_up(session_id, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(up.session_id, up.handle, CodeAnswer(CODE))
    assert up.ready
    assert box.execute(up.session_id, up.handle).executed


def test_the_unspent_decision_leaves_out_only_the_spent_grant(portal: Portal) -> None:
    box, clock = portal.box, portal.clock
    session_id, _, token = _granted(portal)
    found = box.store.get_session(session_id)
    assert found is not None
    session = found.value
    (grant,) = session.grants
    lockout = box.store.get_lockout(WHO).value
    now = clock.now()
    outcome, spent = decide_unspent(
        box.store, box.policy, session, PAYEE, now=now, lockout=lockout, path="test"
    )
    assert outcome.decision.allowed
    assert [(c.kind, c.item) for c in spent if isinstance(c, PutFactorState)] == [
        (ASSERTION_GRANT, grant_key(grant))
    ]
    assert len(spent) == 1
    _verify(box, token)  # the assertion spends it
    outcome, spent = decide_unspent(
        box.store, box.policy, session, PAYEE, now=now, lockout=lockout, path="test"
    )
    assert isinstance(outcome.decision, StepUpRequired)
    assert spent == []
    assert outcome.session.grants == ()
