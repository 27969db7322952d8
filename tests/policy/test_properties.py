"""Hypothesis properties of the engine: what must hold whatever the sequence of events."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from securebox_auth.factors.methods import METHODS
from securebox_auth.policy import (
    PSD2_DEFAULT,
    Allow,
    Linking,
    LoginRules,
    Money,
    OperationRequest,
    Payment,
    Policy,
    StepUpRequired,
    complete_step_up,
    decide_login,
    decide_operation,
)
from securebox_auth.policy.session import Session, open_session, with_proofs

from .support import ALICE, BOB, IBAN_A, IBAN_B, IBAN_C, T0

#: Every method may be used at login, so that no login is refused for its method.
OPEN_POLICY: Policy = dataclasses.replace(PSD2_DEFAULT, login=LoginRules(methods=tuple(METHODS)))
SENSITIVE = [r for r in PSD2_DEFAULT.operations if r.sensitive]
KNOWLEDGE_ONLY = ["confidential_code", "recovery_code"]
POSSESSION_ONLY = ["totp", "passkey_no_uv", "sms_otp", "email_otp", "recovery_code"]

simple_sets = st.sampled_from([KNOWLEDGE_ONLY, POSSESSION_ONLY]).flatmap(
    lambda group: st.lists(st.sampled_from(group), min_size=1, max_size=3, unique=True)
)
seconds = st.integers(min_value=0, max_value=400 * 86_400)


@settings(max_examples=60)
@given(
    logins=st.lists(
        st.tuples(st.integers(0, 200 * 86_400), simple_sets, st.sampled_from(["web", "mobile"])),
        min_size=1,
        max_size=12,
    ),
    last_sca=st.none() | st.integers(0, 100 * 86_400),
)
def test_simple_logins_never_make_a_strong_session(
    logins: list[tuple[int, list[str], str]], last_sca: int | None
) -> None:
    clocks: dict[str, datetime | None] = {
        "web": None if last_sca is None else T0 - timedelta(seconds=last_sca),
        "mobile": None,
    }
    at = T0
    for gap, methods, channel in logins:
        at += timedelta(seconds=gap)
        before = clocks[channel]
        decision, session, clock = decide_login(
            OPEN_POLICY,
            principal=ALICE,
            channel=channel,
            methods=methods,
            last_sca=before,
            now=at,
        )
        assert clock == before  # a simple login never restarts the renewal clock
        if session is None:
            assert isinstance(decision, StepUpRequired)
            continue
        assert isinstance(decision, Allow)
        assert not session.strong
        assert decision.acr == OPEN_POLICY.acr.simple
        assert "mfa" not in decision.amr
        for rule in SENSITIVE:
            request = OperationRequest(rule.name, payment=Payment(Money(100, "EUR"), IBAN_A))
            if rule.linking is Linking.BATCH:
                continue  # needs a batch; covered by the grant property
            assert not decide_operation(OPEN_POLICY, session, request, now=at).decision.allowed


requests = st.builds(
    lambda op, minor, payee: (op, minor, payee),
    st.sampled_from(["sepa_instant_transfer", "payee_management"]),
    st.sampled_from([100, 101, 15_000, 9_999_999]),
    st.sampled_from([IBAN_A, IBAN_B, IBAN_C]),
)


def _request(op: str, minor: int, payee: str) -> OperationRequest:
    if op == "payee_management":
        return OperationRequest(op, payee=payee)
    return OperationRequest(op, payment=Payment(Money(minor, "EUR"), payee))


@settings(max_examples=80)
@given(granted_for=requests, asked=requests, delay=st.integers(0, 299), user=st.booleans())
def test_a_grant_serves_only_its_operation_data_and_user(
    granted_for: tuple[str, int, str], asked: tuple[str, int, str], delay: int, user: bool
) -> None:
    session = open_session(ALICE, "web", ["confidential_code"], T0)
    first = decide_operation(PSD2_DEFAULT, session, _request(*granted_for), now=T0)
    assert isinstance(first.decision, StepUpRequired)
    done = complete_step_up(
        PSD2_DEFAULT,
        first.session,
        first.decision.challenge,
        principal=ALICE,
        methods=["cap_sign"],
        now=T0,
    )
    assert done.decision.allowed
    assert len(done.session.grants) == 1
    holder: Session = done.session
    if user:  # the same grant, planted in another user's session
        holder = dataclasses.replace(done.session, principal=BOB)
    asked_request = _request(*asked)
    decision, _ = decide_operation(
        PSD2_DEFAULT, holder, asked_request, now=T0 + timedelta(seconds=delay)
    )
    same_data = (
        granted_for[0] == asked[0]
        and granted_for[2] == asked[2]
        and (asked[0] == "payee_management" or granted_for[1] == asked[1])
    )
    if decision.allowed:
        assert isinstance(decision, Allow)
        assert decision.consumed is not None
        assert not user
        assert same_data
        assert decision.consumed.operation == asked[0]
        assert decision.consumed.principal == holder.principal
    else:
        assert user or not same_data
    # and a step-up by another user never produces a grant for this session
    stolen = complete_step_up(
        PSD2_DEFAULT,
        first.session,
        first.decision.challenge,
        principal=BOB,
        methods=["cap_sign"],
        now=T0,
    )
    assert not stolen.decision.allowed
    assert not stolen.session.grants


@settings(max_examples=80)
@given(last=seconds, t1=seconds, t2=seconds, methods=simple_sets)
def test_renewal_is_monotonic_in_time(last: int, t1: int, t2: int, methods: list[str]) -> None:
    assume(t1 <= t2)
    last_sca = T0
    decide = [
        decide_login(
            OPEN_POLICY,
            principal=ALICE,
            channel="web",
            methods=methods,
            last_sca=last_sca,
            now=T0 + timedelta(seconds=last + t),
        ).decision.allowed
        for t in (t1, t2)
    ]
    assert decide[1] <= decide[0]  # allowed later => allowed earlier: old proofs never renew


@settings(max_examples=80)
@given(
    proofs=st.lists(
        st.tuples(st.sampled_from(sorted(METHODS)), st.integers(0, 600)), min_size=1, max_size=5
    ),
    t1=st.integers(0, 900),
    t2=st.integers(0, 900),
    operation=st.sampled_from(["entitlements_management", "cheque_book_order"]),
)
def test_freshness_is_monotonic_in_time(
    proofs: list[tuple[str, int]], t1: int, t2: int, operation: str
) -> None:
    proofs.sort(key=lambda p: p[1])
    session = open_session(ALICE, "web", [proofs[0][0]], T0 + timedelta(seconds=proofs[0][1]))
    for name, at in proofs[1:]:
        session = with_proofs(session, [name], T0 + timedelta(seconds=at))
    assume(session.last_activity <= T0 + timedelta(seconds=min(t1, t2)))
    request = OperationRequest(operation)
    allowed = [
        decide_operation(
            PSD2_DEFAULT, session, request, now=T0 + timedelta(seconds=t)
        ).decision.allowed
        for t in sorted((t1, t2))
    ]
    assert allowed[1] <= allowed[0]


@settings(max_examples=60)
@given(extra=st.sampled_from(sorted(METHODS)), methods=simple_sets, days=st.integers(0, 200))
def test_an_extra_method_never_weakens_a_login(extra: str, methods: list[str], days: int) -> None:
    def allowed(names: list[str]) -> bool:
        return decide_login(
            OPEN_POLICY,
            principal=ALICE,
            channel="web",
            methods=names,
            last_sca=T0,
            now=T0 + timedelta(days=days),
        ).decision.allowed

    assert allowed(methods) <= allowed([*methods, extra])


@settings(max_examples=80)
@given(
    methods=st.lists(st.sampled_from(sorted(METHODS)), max_size=3, unique=True),
    last_sca=st.none() | seconds,
    proved=st.integers(0, 900),
    later=st.integers(0, 90_000),
    operation=st.sampled_from(
        [*(r.name for r in PSD2_DEFAULT.operations if r.linking is Linking.NONE), "not_listed"]
    ),
)
def test_a_headline_is_the_first_line_of_the_explanation(
    methods: list[str], last_sca: int | None, proved: int, later: int, operation: str
) -> None:
    # Flows keep the headline in their notes without formatting every rule's facts.
    login = decide_login(
        PSD2_DEFAULT,
        principal=ALICE,
        channel="web",
        methods=methods or ["confidential_code"],
        last_sca=None if last_sca is None else T0 - timedelta(seconds=last_sca),
        now=T0,
    ).decision
    session = open_session(ALICE, "web", ["confidential_code", "totp"], T0)
    if methods:
        session = with_proofs(session, methods, T0 + timedelta(seconds=proved))
    decided = decide_operation(
        PSD2_DEFAULT, session, OperationRequest(operation), now=T0 + timedelta(seconds=later)
    ).decision
    for decision in (login, decided):
        assert decision.headline() == decision.explain().splitlines()[0]
