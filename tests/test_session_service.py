"""shell/sessions.py: identifiers drawn by the library, rotated on every step-up, ended for
good; and the fixation attack of issue 11 (a planted identifier that became a stepped-up
session) end to end through the entitlement service."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import NotAuthenticated, StepUpNeeded
from securebox_auth.identity import Principal
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.decision import Challenge, StepUpRequired
from securebox_auth.policy.engine import OperationRequest, decide_operation
from securebox_auth.policy.session import open_session
from securebox_auth.policy.session_ids import is_session_id, session_ref
from securebox_auth.shell.sessions import SessionService
from securebox_auth.stores.memory import MemoryStore
from tests.support import NOW

BOSS = Principal.parse("123456789", "01")


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.store = MemoryStore()
        self.sessions = SessionService(self.store, clock=self.clock)
        hasher = Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING)
        self.entitlements = EntitlementService(
            self.store,
            hasher,
            company_proofs=KeyedCompanyProofs(StaticKeyring.generate()),
            clock=self.clock,
        )
        self.entitlements.open_subscription(Operator("back-office"), BOSS)

    def login(self, *methods: str) -> str:
        return self.sessions.open(open_session(BOSS, "web", methods, self.clock.now()))

    def challenge(self, session_id: str) -> Challenge:
        found = self.sessions.get(session_id)
        decision = decide_operation(
            PSD2_DEFAULT,
            found.value,
            OperationRequest("entitlements_management"),
            now=self.clock.now(),
        ).decision
        assert isinstance(decision, StepUpRequired)
        return decision.challenge


@pytest.fixture
def world() -> World:
    return World()


def test_open_draws_the_identifier_and_audits_only_a_reference(world: World) -> None:
    session_id = world.login("confidential_code")
    assert is_session_id(session_id)
    assert world.sessions.get(session_id).value.methods == ("confidential_code",)
    [opened] = [s.event for s in world.store.audit_log() if s.event.action == "session.open"]
    assert dict(opened.details) == {"session": session_ref(session_id)}
    assert all(session_id not in repr(s) for s in world.store.audit_log())


def test_a_step_up_moves_the_session_to_a_new_identifier(world: World) -> None:
    weak = world.login("confidential_code")
    world.clock.advance(timedelta(seconds=30))
    result = world.sessions.step_up(weak, world.challenge(weak), methods=["cap_identify"])
    assert result.decision.allowed
    assert result.rotated
    assert result.session_id != weak
    assert result.session.strong
    assert world.sessions.get(result.session_id).value == result.session
    with pytest.raises(NotAuthenticated):
        world.sessions.get(weak)
    rotated = [s.event for s in world.store.audit_log() if s.event.action == "session.rotate"]
    assert [dict(e.details)["reason"] for e in rotated] == ["step_up"]
    assert dict(rotated[0].details)["from"] == session_ref(weak)
    assert dict(rotated[0].details)["to"] == session_ref(result.session_id)


def test_a_refused_step_up_that_proved_nothing_keeps_the_identifier(world: World) -> None:
    weak = world.login("confidential_code")
    challenge = world.challenge(weak)
    world.clock.advance(timedelta(hours=1))  # the challenge (and the session) expired
    result = world.sessions.step_up(weak, challenge, methods=["cap_identify"])
    assert not result.decision.allowed
    assert (result.rotated, result.session_id) == (False, weak)


def test_a_planted_identifier_never_becomes_a_stepped_up_session(world: World) -> None:
    """Issue 11: an attacker who knows the victim's identifier (planted before the login, or
    read before the step-up) must not hold the stronger session afterwards."""
    planted = "attacker-chosen-session-id"
    with pytest.raises(NotAuthenticated):
        world.sessions.get(planted)
    with pytest.raises(NotAuthenticated):
        world.entitlements.add_theme(planted, Theme("tax"))
    victim = world.login("confidential_code")  # known to the attacker from now on
    with pytest.raises(StepUpNeeded):
        world.entitlements.add_theme(victim, Theme("tax"))
    stepped = world.sessions.step_up(victim, world.challenge(victim), methods=["cap_identify"])
    world.entitlements.add_theme(stepped.session_id, Theme("tax"))  # the victim goes on
    with pytest.raises(NotAuthenticated):
        world.entitlements.add_theme(victim, Theme("hr"))  # the attacker's copy is dead


def test_rotate_and_end(world: World) -> None:
    first = world.login("confidential_code", "cap_identify")
    second = world.sessions.rotate(first)
    assert world.sessions.get(second).value == open_session(
        BOSS, "web", ("confidential_code", "cap_identify"), NOW
    )
    with pytest.raises(NotAuthenticated):
        world.sessions.rotate(first)
    world.sessions.end(second)
    for dead in (first, second):
        with pytest.raises(NotAuthenticated):
            world.sessions.get(dead)
    with pytest.raises(NotAuthenticated):
        world.sessions.end(second)
    actions = [s.event.action for s in world.store.audit_log()]
    assert actions[-3:] == ["session.open", "session.rotate", "session.end"]
