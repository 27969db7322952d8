"""An assertion is never weaker than the policy engine for the same operation.

``AssertionRequirement.for_operation`` hands the decision to ``decide_operation`` on the
session the assertion describes. The property test draws policies (accepted methods,
``min_categories``, ``max_age``, single use, linking, unlisted operations), sessions (proofs
of any methods at any times, grants bound or not to the request's data) and verification
times, and checks that the assertion is accepted exactly when the engine, deciding on the
session itself, allows the operation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.factors.methods import METHODS, categories_of
from securebox_auth.identity import Principal
from securebox_auth.policy.engine import decide_operation
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.model import (
    PSD2_DEFAULT,
    Linking,
    OperationRule,
    Policy,
    SessionRules,
    Unlisted,
)
from securebox_auth.policy.session import Grant, Proof, Session, open_session
from securebox_auth.tokens.assertions import (
    AssertionRequirement,
    InsufficientAuthentication,
    TokenDenied,
    TokenError,
    TokenKeys,
    issue_assertion,
    verify_assertion,
)
from tests.support import NOW

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
ISS = "https://auth.bank.example"
AUD = "payments-api"
KEYS = TokenKeys.generate("t1")
PAYMENT = Payment(Money(15000, "EUR"), "FR7630006000011234567890189")
NAMES = sorted(METHODS)


def _verify(token: str, requirement: AssertionRequirement, at: timedelta = timedelta(0)) -> None:
    verify_assertion(
        token, keys=KEYS, audience=AUD, issuer=ISS, now=NOW + at, requirement=requirement
    )


def _issue(session: Session, lifetime: timedelta = timedelta(minutes=5)) -> str:
    return issue_assertion(session, keys=KEYS, issuer=ISS, audience=AUD, now=NOW, lifetime=lifetime)


def test_a_cap_session_does_not_pass_where_a_certificate_is_required() -> None:
    """The reported defect: the requirement ignored the rule's methods."""
    rule = OperationRule(name="sign_contract", methods=("certificate",), min_categories=2)
    policy = PSD2_DEFAULT.with_operations([rule])
    request = OperationRequest("sign_contract")
    cap = open_session(P, "web", ["cap_identify"], NOW)
    assert not decide_operation(policy, cap, request, now=NOW).decision.allowed
    requirement = AssertionRequirement.for_operation(policy, request)
    with pytest.raises(InsufficientAuthentication) as caught:
        _verify(_issue(cap), requirement)
    assert caught.value.reason == "not_strong"
    assert "certificate" in caught.value.decision.methods  # type: ignore[union-attr]
    cert = open_session(P, "web", ["certificate"], NOW)
    _verify(_issue(cert), requirement)


def test_min_categories_is_the_rules() -> None:
    """A rule asking for three categories is not satisfied by a two-category session, and a
    one-category rule accepts a simple login (the old requirement asked for acr sca)."""
    three = OperationRule(
        name="treasury_mandate",
        methods=("passkey_uv", "confidential_code"),
        min_categories=3,
    )
    one = OperationRule(name="read_statements", methods=("confidential_code",), min_categories=1)
    policy = PSD2_DEFAULT.with_operations([three, one])
    passkey = _issue(open_session(P, "web", ["passkey_uv"], NOW))
    with pytest.raises(InsufficientAuthentication):
        _verify(passkey, AssertionRequirement.for_operation(policy, OperationRequest(three.name)))
    both = _issue(open_session(P, "web", ["passkey_uv", "confidential_code"], NOW))
    _verify(both, AssertionRequirement.for_operation(policy, OperationRequest(three.name)))
    simple = _issue(open_session(P, "web", ["confidential_code"], NOW))
    _verify(simple, AssertionRequirement.for_operation(policy, OperationRequest(one.name)))


def test_an_unlisted_operation_is_denied_when_the_policy_denies_it() -> None:
    strong = _issue(open_session(P, "web", ["cap_identify"], NOW))
    unlisted = OperationRequest("close_all_accounts")
    with pytest.raises(TokenDenied):
        _verify(strong, AssertionRequirement.for_operation(PSD2_DEFAULT, unlisted))
    lenient = replace(PSD2_DEFAULT, unlisted_operations=Unlisted.ALLOW)
    _verify(strong, AssertionRequirement.for_operation(lenient, unlisted))


# -- the property ------------------------------------------------------------------------------

_OFFSETS = st.integers(min_value=-4000, max_value=0)


@st.composite
def _rules(draw: st.DrawFn) -> OperationRule:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    proven = len(categories_of(tuple(METHODS[n] for n in names)))
    if proven == 0:
        names = [*names, "cap_identify"]
        proven = 2
    linked = any(METHODS[n].dynamic_linking for n in names)
    single_use = draw(st.booleans())
    linking = Linking.NONE
    if single_use and linked:
        linking = draw(st.sampled_from([Linking.NONE, Linking.AMOUNT_PAYEE, Linking.PAYEE]))
    return OperationRule(
        name="op",
        methods=tuple(names),
        min_categories=draw(st.integers(min_value=1, max_value=proven)),
        max_age=timedelta(seconds=draw(st.integers(min_value=1, max_value=3600))),
        single_use=single_use,
        linking=linking,
    )


@st.composite
def _sessions(draw: st.DrawFn, rule: OperationRule) -> Session:
    login = draw(st.integers(min_value=-50_000, max_value=-4000))
    proofs = [
        Proof(name, NOW + timedelta(seconds=draw(_OFFSETS)))
        for name in draw(st.lists(st.sampled_from(NAMES), max_size=4, unique=True))
    ]
    grants = []
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        issued = NOW + timedelta(seconds=draw(_OFFSETS))
        other = OperationRequest("op", payment=Payment(Money(1, "EUR"), PAYMENT.payee))
        data = draw(st.sampled_from([OperationRequest("op", payment=PAYMENT), other]))
        grants.append(
            Grant(
                operation=draw(st.sampled_from(["op", "other"])),
                principal=draw(st.sampled_from([P, P, OTHER])),
                digest=data.digest_for(rule.linking),
                issued_at=issued,
                expires_at=issued + timedelta(seconds=draw(st.integers(0, 4000))),
                methods=("cap_sign",),
            )
        )
    proofs.sort(key=lambda p: p.at)
    return Session(P, "web", NOW + timedelta(seconds=login), NOW, tuple(proofs), tuple(grants))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Policy, Session, OperationRequest, timedelta, timedelta]:
    rule = draw(_rules())
    policy = Policy(
        operations=(rule,),
        unlisted_operations=draw(st.sampled_from(list(Unlisted))),
        session=SessionRules(
            idle_timeout=timedelta(seconds=draw(st.integers(min_value=1, max_value=3600))),
            absolute_lifetime=timedelta(hours=draw(st.integers(min_value=1, max_value=24))),
        ),
    )
    request = OperationRequest(draw(st.sampled_from(["op", "op", "op", "unlisted"])), PAYMENT)
    lifetime = timedelta(seconds=draw(st.integers(min_value=10, max_value=3600)))
    at = timedelta(seconds=draw(st.integers(min_value=0, max_value=3599)))
    return (
        policy,
        draw(_sessions(rule)),
        request,
        min(at, lifetime - timedelta(seconds=1)),
        lifetime,
    )


@settings(max_examples=400, deadline=None)
@given(case=_cases())
def test_property_the_assertion_decides_as_the_engine(
    case: tuple[Policy, Session, OperationRequest, timedelta, timedelta],
) -> None:
    policy, session, request, at, lifetime = case
    token = _issue(session, lifetime)
    decision = decide_operation(policy, session, request, now=NOW + at).decision
    requirement = AssertionRequirement.for_operation(policy, request)
    if decision.allowed:
        _verify(token, requirement, at)
        return
    with pytest.raises(TokenError) as caught:
        _verify(token, requirement, at)
    if decision.kind == "step_up":
        # the same challenge (the reason may differ: an expired grant is not carried)
        assert isinstance(caught.value, InsufficientAuthentication)
        assert caught.value.decision is not None
        ours, theirs = caught.value.decision.challenge, decision.challenge
        assert (ours.acr_values, ours.max_age, ours.digest) == (
            theirs.acr_values,
            theirs.max_age,
            theirs.digest,
        )
