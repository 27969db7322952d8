"""The entry point on each store (memory, SQLite, PostgreSQL): the login and step-up flows
through the real services, the renewal clock kept by the flow, sessions, assertions, audit,
and the policy's rules reaching every service."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from securebox_auth import (
    Channel,
    CodeAnswer,
    FixedClock,
    FlowExpired,
    FlowOutOfOrder,
    LoginState,
    OobAnswer,
    OperationRequest,
    Securebox,
    StepUpState,
    TokenRevoked,
    TotpAnswer,
)
from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.errors import KeyReuse, NotAuthenticated
from securebox_auth.factors.cap import CapRules
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.factors.oob import OobRules
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.totp import TotpRules
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.shell.keys import PURPOSES, DerivedKeys, MappedKeys
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore, Change, OpenSession
from tests.cards.capworld import make_world
from tests.shell.portal import (
    CLIENT,
    CODE,
    MASTER,
    T0,
    Phone,
    enrol_users,
    make_box,
    portal_policy,
    strong_login,
    totp_now,
    user,
)

IBAN = "FR7630006000011234567890189"
OTHER = "DE89370400440532013000"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def phone() -> Phone:
    return Phone()


@pytest.fixture
def box(contract_store: AuthStore, clock: FixedClock, phone: Phone) -> Securebox:
    return make_box(contract_store, clock, phone)


@pytest.fixture
def seed(box: Securebox, clock: FixedClock) -> str:
    seeds = enrol_users(box, 1)
    clock.advance(timedelta(seconds=30))
    return seeds[user(1)]


def _actions(box: Securebox) -> list[str]:
    return [e.event.action for e in box.audit_log()]


def _payee_grant(box: Securebox, phone: Phone, session_id: str, payee: str) -> tuple[str, str]:
    """A step-up for ``payee`` up to its grant: (new session id, handle)."""
    up = box.start_step_up(session_id, OperationRequest("payee_management", payee=payee))
    assert up.state is StepUpState.CHALLENGED
    sms = box.send_step_up_code(
        session_id, up.handle, channel=Channel.SMS, destination="+33600000001"
    )
    assert payee[-6:] in phone.bodies[-1]  # the SMS shows the payee
    up = box.prove_step_up(session_id, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(session_id, up.handle, CodeAnswer(CODE))
    assert up.ready
    return up.session_id, up.handle


def test_login_first_access_session_step_up_grant_consumed_once(
    box: Securebox, seed: str, clock: FixedClock, phone: Phone
) -> None:
    who = user(1)
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.state is LoginState.SECOND_FACTOR
    assert page.offered == ("totp", "sms_otp") or "totp" in page.offered
    assert box.factors.last_sca(who, "web") is None
    page = box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
    assert page.session_id is not None
    assert box.factors.last_sca(who, "web") == clock.now()  # kept by the flow itself
    with pytest.raises(FlowExpired):  # a finished login cannot be continued
        box.answer_login(page.handle, TotpAnswer("123456"))
    first_id = page.session_id
    session_id, handle = _payee_grant(box, phone, first_id, IBAN)
    assert session_id != first_id
    with pytest.raises(NotAuthenticated):
        box.touch(first_id)  # rotated away
    done = box.execute(session_id, handle)
    assert done.executed
    with pytest.raises(FlowExpired):
        box.execute(session_id, handle)
    again = box.start_step_up(session_id, OperationRequest("payee_management", payee=IBAN))
    assert again.state is StepUpState.CHALLENGED  # the grant was single-use
    actions = _actions(box)
    for expected in (
        "login.decision",
        "session.open",
        "step_up.decision",
        "session.rotate",
        "grant.issue",
        "operation.decision",
        "grant.consume",
    ):
        assert expected in actions
    assert actions.count("grant.consume") == 1
    assert box.verify_audit() == len(actions)
    # one chain per subscription (ADR 0021): the portal's users are all of CLIENT's
    assert box.audit_tenants() == [CLIENT]
    tenant = [s.event.action for s in box.audit_log(CLIENT)]
    assert "grant.consume" in tenant
    assert box.audit_head(CLIENT)[0] == len(tenant)
    anchors = box.anchor_audit()
    assert [dict(a.event.details)["chain"] for a in anchors] == [CLIENT]
    assert box.anchor_audit() == []
    assert box.verify_audit(CLIENT) == len(tenant) + box.audit_head()[0]


def test_a_code_proved_for_another_payee_does_not_serve(
    box: Securebox, seed: str, clock: FixedClock, phone: Phone
) -> None:
    session_id = strong_login(box, user(1), seed, clock)
    mine = box.start_step_up(session_id, OperationRequest("payee_management", payee=IBAN))
    other = box.start_step_up(session_id, OperationRequest("payee_management", payee=OTHER))
    sms = box.send_step_up_code(
        session_id, other.handle, channel=Channel.SMS, destination="+33600000001"
    )
    page = box.prove_step_up(session_id, mine.handle, OobAnswer(sms, phone.code))
    assert page.rejected
    assert page.state is StepUpState.CHALLENGED


def test_an_unknown_user_gets_the_same_pages(box: Securebox, seed: str) -> None:
    known = box.start_login(CLIENT, "01")
    unknown = box.start_login(CLIENT, "77")
    assert known.offered == unknown.offered
    assert known.action == unknown.action
    a = box.answer_login(known.handle, CodeAnswer("11223344"))
    b = box.answer_login(unknown.handle, CodeAnswer("11223344"))
    assert (a.state, a.offered, a.rejected) == (b.state, b.offered, b.rejected)
    with pytest.raises(FlowOutOfOrder):  # no SMS before a first factor is verified
        box.send_login_code(unknown.handle, channel=Channel.SMS, destination="+33600000009")


def test_events_out_of_order_and_expired_flows_are_refused(
    box: Securebox, seed: str, clock: FixedClock
) -> None:
    page = box.start_login(CLIENT, "01")
    with pytest.raises(FlowOutOfOrder):
        box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
    with pytest.raises(FlowOutOfOrder):
        box.change_login_code(page.handle, CODE, "58203947")
    with pytest.raises(FlowExpired):
        box.answer_login("L:123456789:01:nothing-here", CodeAnswer(CODE))
    clock.advance(timedelta(minutes=11))
    with pytest.raises(FlowExpired):
        box.answer_login(page.handle, CodeAnswer(CODE))
    with pytest.raises(FlowExpired):  # and it stays dead
        box.login_flow(page.handle)


def test_a_recent_strong_login_lets_the_code_alone_in(
    box: Securebox, seed: str, clock: FixedClock
) -> None:
    strong_login(box, user(1), seed, clock)
    clock.advance(timedelta(days=10))
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.session_id is not None
    clock.advance(timedelta(days=81))
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.state is LoginState.SECOND_FACTOR  # renewal expired
    assert "renewal_expired" in page.explain()


def test_sessions_touch_rotate_end_and_end_all(
    box: Securebox, seed: str, clock: FixedClock
) -> None:
    who = user(1)
    one = strong_login(box, who, seed, clock)
    clock.advance(timedelta(minutes=4))
    box.touch(one)
    clock.advance(timedelta(minutes=4))
    box.touch(one)  # the idle timeout restarted at each touch
    two = box.rotate(one)
    with pytest.raises(NotAuthenticated):
        box.touch(one)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(NotAuthenticated):  # idle for more than 5 minutes
        box.touch(two)
    clock.advance(timedelta(seconds=30))
    three = strong_login(box, who, seed, clock)
    box.end(three)
    with pytest.raises(NotAuthenticated):
        box.touch(three)
    clock.advance(timedelta(seconds=30))
    four = strong_login(box, who, seed, clock)
    clock.advance(timedelta(seconds=1))
    box.end_all(who)
    with pytest.raises(NotAuthenticated):
        box.assertion(four, audience="api")
    clock.advance(timedelta(seconds=30))
    five = strong_login(box, who, seed, clock)
    token = box.assertion(five, audience="api")
    # a recent strong login: the code alone was enough, and the assertion says so
    assert (
        box.assertion_verifier("api").verify(token, subject=who).acr == "urn:securebox:acr:simple"
    )


def test_a_login_under_way_when_every_session_ends_cannot_finish(
    box: Securebox, seed: str, clock: FixedClock
) -> None:
    """A login that verified the code before "log out everywhere" (or a recovery) cannot
    open a session with its second factor after it: the flow ends there (with the factor's
    verification committed), and a login begun afterwards opens one."""
    who = user(1)
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.state is LoginState.SECOND_FACTOR
    clock.advance(timedelta(seconds=5))
    box.end_all(who)
    clock.advance(timedelta(seconds=30))
    with pytest.raises(FlowExpired, match="ended meanwhile"):
        box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
    assert box.sessions_of(who) == []
    assert "login.superseded" in _actions(box)
    with pytest.raises(FlowExpired, match="no such flow"):  # and it is gone
        box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
    clock.advance(timedelta(seconds=30))
    assert strong_login(box, who, seed, clock)
    assert len(box.sessions_of(who)) == 1


@pytest.mark.parametrize("how", ["changed", "regenerated"])
def test_a_login_under_way_cannot_finish_on_a_code_replaced_since(
    box: Securebox, seed: str, clock: FixedClock, how: str
) -> None:
    """A login that verified the code cannot finish once the code is no longer the user's
    (changed on the profile, or a new one sent by the back office): the flow ends there,
    and a login on the current code opens a session."""
    who = user(1)
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.state is LoginState.SECOND_FACTOR
    clock.advance(timedelta(seconds=5))
    if how == "changed":
        assert box.codes.change_code(CLIENT, "01", CODE, "58301926").changed
    else:
        box.codes.regenerate_code(Operator("back-office"), who)
    clock.advance(timedelta(seconds=30))
    # a reissued code also ends every session (ADR 0070): the watermark answers first
    expired = "code was changed" if how == "changed" else "ended meanwhile"
    with pytest.raises(FlowExpired, match=expired):
        box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
    assert box.sessions_of(who) == []
    assert "login.superseded" in _actions(box)
    if how == "changed":
        clock.advance(timedelta(seconds=30))
        page = box.start_login(CLIENT, "01")
        page = box.answer_login(page.handle, CodeAnswer("58301926"))
        page = box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
        assert page.session_id is not None


def test_a_code_change_racing_with_the_last_step_is_not_missed(
    box: Securebox, seed: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code changes after the last step read it and before its commit: the commit's
    guard on the code refuses it, the step is decided again and the flow ends."""
    who = user(1)
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    clock.advance(timedelta(seconds=30))
    store = box.store
    commit = store.commit
    raced: list[bool] = []

    def racing(changes: list[Change], events: list[AuditEvent]) -> None:
        if not raced and any(isinstance(c, OpenSession) for c in changes):
            raced.append(True)
            assert box.codes.change_code(CLIENT, "01", CODE, "58301926").changed
        commit(changes, events)

    monkeypatch.setattr(store, "commit", racing)
    with pytest.raises(FlowExpired, match="code was changed"):
        box.answer_login(page.handle, TotpAnswer(totp_now(seed, clock)))
    assert raced
    assert box.sessions_of(who) == []


def test_an_assertion_of_a_session_ended_since_is_revoked(
    box: Securebox, seed: str, clock: FixedClock
) -> None:
    """After "log out everywhere" (or a recovery, or the user's removal) the verifier on
    the portal's store refuses the assertions issued before, although their ``exp`` has not
    passed; one from a login after it is accepted (ADR 0067)."""
    who = user(1)
    verifier = box.assertion_verifier("api")
    session_id = strong_login(box, who, seed, clock)
    before = box.assertion(session_id, audience="api")
    assert verifier.verify(before, subject=who).subject == who
    clock.advance(timedelta(seconds=5))
    box.end_all(who)
    with pytest.raises(TokenRevoked):
        verifier.verify(before, subject=who)
    with pytest.raises(TokenRevoked):  # before anything is consumed
        verifier.verify(before, subject=who, consume=True)
    assert not any(e.event.action == "assertion.consume" for e in box.audit_log())
    clock.advance(timedelta(seconds=30))
    after = box.assertion(strong_login(box, who, seed, clock), audience="api")
    assert verifier.verify(after, subject=who, consume=True).subject == who


def test_the_policy_rules_reach_every_service() -> None:
    """Every service the entry point builds uses the policy's rules, none its own default:
    the policy below differs from the defaults in each section a service reads."""
    policy = dataclasses.replace(
        portal_policy(),
        lockout=LockoutRules(max_failures=4),
        code=CodeRules(length=10),
        totp=TotpRules(digits=8, window=0),
        oob=OobRules(digits=8, lifetime=timedelta(minutes=3), per_user=3, issuer="Bank"),
        cap=CapRules(window=8),
    )
    assert (policy.oob, policy.cap) != (OobRules(), CapRules())
    box = Securebox.from_policy(
        policy,
        store=MemoryStore(),
        keys=DerivedKeys.from_hex(MASTER),
        clock=FixedClock(T0),
        cap_issuer=make_world().issuer,
        relying_party=RelyingParty(
            id="bank.example", name="Bank", origins=frozenset({"https://bank.example"})
        ),
    )
    assert box.codes.rules == policy.code
    assert box.sessions.policies.default == policy
    assert box.entitlements.code_rules == policy.code
    factors = box.factors
    assert factors.totp_rules == factors.totp.rules == policy.totp
    assert factors.oob_rules == factors.oob.rules == factors.oob_codes.rules == policy.oob
    assert factors.cap_rules == factors.cap.rules == policy.cap
    for service in (
        box.codes,
        box.entitlements,
        factors,
        factors.totp,
        factors.oob,
        factors.oob_codes,
        factors.cap,
        factors.recovery,
        factors.passkeys,
        factors.certificates,
        factors.renewal,
    ):
        assert service.lockout_rules == policy.lockout, service


def test_purpose_keys_are_distinct_and_stable() -> None:
    keys = DerivedKeys.from_hex("m1:" + "11" * 32)
    same = DerivedKeys.from_hex("m1:" + "11" * 32)
    rings = [keys.for_purpose(p).keys["m1"] for p in PURPOSES]
    assert len(set(rings)) == len(PURPOSES)
    assert keys.audit_key() not in rings
    assert [same.for_purpose(p).keys["m1"] for p in PURPOSES] == rings
    shared = StaticKeyring.generate()
    mapped = MappedKeys(dict.fromkeys(PURPOSES, shared))
    with pytest.raises(KeyReuse):
        Securebox.from_policy(portal_policy(), store=MemoryStore(), keys=mapped)
