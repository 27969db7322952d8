"""Enrolment through the entry point, on memory and SQLite: each factor's enrolment is a
method of ``Securebox`` for the principal of a live session that proved strong
authentication recently, refused (and audited) otherwise, and for a method the policy
accepts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth import PROFILE_TESTING, CodeAnswer, FixedClock, Operator, Principal, Securebox
from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.errors import NotAuthenticated, NotPermitted, SecureboxError, StepUpNeeded
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.totp import code_at
from securebox_auth.policy.model import LoginRules, OperationRule
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import TestPki
from tests.cards.capworld import CapWorld, make_world, parameters_of
from tests.shell.portal import (
    CLIENT,
    CODE,
    MASTER,
    T0,
    Phone,
    enrol_users,
    portal_policy,
    strong_login,
    user,
)
from tests.shell.test_enrolment import _trust

RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
PHONE = "+33612345678"


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki(T0)


@pytest.fixture
def world() -> CapWorld:
    return make_world()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def phone() -> Phone:
    return Phone()


@pytest.fixture
def box(
    shell_store: AuthStore, clock: FixedClock, phone: Phone, pki: TestPki, world: CapWorld
) -> Securebox:
    trust, revocation = _trust(pki)
    return Securebox.from_policy(
        portal_policy(),
        store=shell_store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": phone},
        argon2=PROFILE_TESTING,
        relying_party=RP,
        cap_issuer=world.issuer,
        certificates=CertificateSettings(trust, revocation),
    )


@pytest.fixture
def seed(box: Securebox, clock: FixedClock) -> str:
    seeds = enrol_users(box, 1)
    clock.advance(timedelta(seconds=30))
    return seeds[user(1)]


@pytest.fixture
def session(box: Securebox, seed: str, clock: FixedClock) -> str:
    return strong_login(box, user(1), seed, clock)


def _actions(box: Securebox) -> list[tuple[str, str]]:
    return [(s.event.action, s.event.outcome) for s in box.audit_log()]


def _simple_session(box: Securebox, seed: str, clock: FixedClock) -> str:
    """A live session proved by the code alone (a recent strong login lets it in)."""
    strong_login(box, user(1), seed, clock)
    clock.advance(timedelta(seconds=30))
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.session_id is not None
    return page.session_id


def test_totp_replaced_through_a_strong_session(
    box: Securebox, session: str, clock: FixedClock
) -> None:
    who = user(1)
    with pytest.raises(NotPermitted):  # a confirmed seed is replaced only explicitly
        box.enrol_totp(session)
    totp = box.enrol_totp(session, replace=True)
    assert box.confirm_totp(who, code_at(totp.credential, clock.now()))
    with pytest.raises(NotPermitted):  # the back office cannot replace it either
        box.enrol_first_totp(Operator("back-office"), who)
    enrolled = [s.event for s in box.audit_log() if s.event.action == "totp.enrol"]
    assert [e.actor for e in enrolled] == ["operator:back-office", who.key]


@pytest.mark.parametrize("how", ["unknown", "ended", "simple", "stale"])
def test_every_enrolment_is_refused_without_a_live_recent_strong_session(
    box: Securebox, seed: str, clock: FixedClock, world: CapWorld, how: str
) -> None:
    params = parameters_of(world.card.state, world.profile.name)
    error: type[SecureboxError]
    if how == "unknown":
        sid, error = "no-such-session", NotAuthenticated
    elif how == "ended":
        sid, error = strong_login(box, user(1), seed, clock), NotAuthenticated
        box.end_all(user(1))
    elif how == "simple":
        sid, error = _simple_session(box, seed, clock), StepUpNeeded
    else:  # strong 16 minutes ago, kept alive since
        sid, error = strong_login(box, user(1), seed, clock), StepUpNeeded
        for _ in range(4):
            clock.advance(timedelta(minutes=4))
            box.touch(sid)
    before = box.store.get_factor_state(user(1), fc.TOTP, "default")
    calls: list[Callable[[], object]] = [
        lambda: box.enrol_totp(sid, replace=True),
        lambda: box.begin_passkey_registration(sid, user_name="u", display_name="U"),
        lambda: box.finish_passkey_registration(sid, "ceremony", "{}"),
        lambda: box.certificate_enrolment_challenge(sid),
        lambda: box.enrol_certificate(sid, "challenge", b"", b""),
        lambda: box.bind_cap_card(
            sid,
            card_id="c",
            pan=world.pan,
            psn=world.card.state.psn,
            parameters=params,
            pan_keys=world.app_keys,
            code="00000000",
        ),
        lambda: box.begin_destination(sid, channel=Channel.SMS, destination=PHONE),
        lambda: box.confirm_destination(sid, "x", "1", channel=Channel.SMS, destination=PHONE),
        lambda: box.generate_recovery_codes(sid),
    ]
    for call in calls:
        with pytest.raises(error):
            call()
    assert box.store.get_factor_state(user(1), fc.TOTP, "default") == before
    assert box.store.get_factor_state(user(1), fc.RECOVERY, "default") is None
    refused = _actions(box).count(("enrolment.refused", "failure"))
    assert refused == (len(calls) if error is StepUpNeeded else 0)


def test_a_method_the_policy_never_accepts_is_not_enrolled(
    shell_store: AuthStore, clock: FixedClock, phone: Phone
) -> None:
    policy = portal_policy()
    policy = dataclasses.replace(
        policy, login=LoginRules(methods=("confidential_code", "totp", "cap_identify"))
    )
    box = Securebox.from_policy(
        policy.with_operations(
            [OperationRule(name="payee_management", methods=("cap_sign",), single_use=True)]
        ),
        store=shell_store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": phone},
        relying_party=RP,
        argon2=PROFILE_TESTING,
    )
    seed = enrol_users(box, 1)[user(1)]
    clock.advance(timedelta(seconds=30))
    sid = strong_login(box, user(1), seed, clock)
    with pytest.raises(NotPermitted):  # no operation accepts sms_otp any more
        box.begin_destination(sid, channel=Channel.SMS, destination=PHONE)
    box.begin_passkey_registration(sid, user_name="u", display_name="U")  # passkey_uv: listed
    assert ("enrolment.refused", "failure") in _actions(box)


def test_a_passkey_is_registered_through_the_entry_point(box: Securebox, session: str) -> None:
    auth = SoftAuthenticator()
    options, ceremony = box.begin_passkey_registration(
        session, user_name="jeanne", display_name="Jeanne Martin"
    )
    assert box.finish_passkey_registration(session, ceremony, auth.create(options)).ok
    assert "passkey_uv" in box.enrolled(user(1))
    options, ceremony = box.begin_passkey_registration(
        session, user_name="jeanne", display_name="Jeanne Martin"
    )
    clone = SoftAuthenticator(credential_id=auth.credential_id)
    again = box.finish_passkey_registration(session, ceremony, clone.create(options))
    assert again.reason == "duplicate_credential"
    assert ("passkey.register", "success") in _actions(box)


def test_a_certificate_is_enrolled_through_the_entry_point(
    box: Securebox, session: str, pki: TestPki, clock: FixedClock
) -> None:
    issued = pki.issue("alice")
    assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
    clock.advance(timedelta(seconds=5))
    challenge = box.certificate_enrolment_challenge(session)
    signature = issued.key.sign(challenge.payload(), ec.ECDSA(hashes.SHA256()))
    result = box.enrol_certificate(
        session, challenge.challenge_id, issued.pem, signature, intermediates=[pki.intermediate.pem]
    )
    assert result.ok, result.reason
    assert "certificate" in box.enrolled(user(1))
    assert ("certificate.enrol", "success") in _actions(box)


def test_a_cap_card_is_bound_through_the_entry_point(
    box: Securebox, session: str, world: CapWorld
) -> None:
    result = box.bind_cap_card(
        session, card_id="card-1", pan=world.pan, psn=world.card.state.psn,
        parameters=parameters_of(world.card.state, world.profile.name),
        pan_keys=world.app_keys, code=world.code(TerminalInput.identify()),
    )  # fmt: skip
    assert result.outcome is Outcome.ACCEPTED
    assert "cap_sign" in box.enrolled(user(1))
    assert ("cap.enrol", "success") in _actions(box)


def test_an_sms_number_is_enrolled_through_the_entry_point(
    box: Securebox, session: str, phone: Phone
) -> None:
    challenge = box.begin_destination(session, channel=Channel.SMS, destination=PHONE)
    confirmed = box.confirm_destination(
        session, challenge, phone.code, channel=Channel.SMS, destination=PHONE
    )
    assert confirmed.ok
    kept = box.factors.oob.destinations(user(1))
    assert PHONE in [d.destination for d in kept]  # with the one enrol_users verified
    assert ("oob.destination.enrol", "success") in _actions(box)


def test_recovery_codes_are_generated_through_the_entry_point(box: Securebox, session: str) -> None:
    codes = box.generate_recovery_codes(session).reveal()
    who: Principal = user(1)
    assert box.factors.recovery.verify(who, codes[0]).ok
    assert ("recovery.generate", "success") in _actions(box)


@pytest.mark.parametrize(
    ("rule", "wait", "allowed"),
    [
        (OperationRule(name="factor_enrolment", max_age=timedelta(minutes=1)), 0, False),
        (
            OperationRule(
                name="factor_enrolment",
                methods=("confidential_code", "totp"),
                max_age=timedelta(minutes=1),
            ),
            0,
            True,
        ),
        (
            OperationRule(
                name="factor_enrolment",
                methods=("confidential_code", "totp"),
                max_age=timedelta(minutes=1),
            ),
            2,
            False,
        ),
    ],
)
def test_a_listed_factor_enrolment_rule_replaces_the_default(
    shell_store: AuthStore, clock: FixedClock, phone: Phone, rule: OperationRule, wait: int,
    allowed: bool,
) -> None:  # fmt: skip
    box = Securebox.from_policy(
        portal_policy().with_operations([rule]),
        store=shell_store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": phone},
        argon2=PROFILE_TESTING,
    )
    seed = enrol_users(box, 1)[user(1)]
    clock.advance(timedelta(seconds=30))
    sid = strong_login(box, user(1), seed, clock)  # code + TOTP
    clock.advance(timedelta(minutes=wait))
    if allowed:
        assert box.generate_recovery_codes(sid).reveal()
    else:  # the default rule (strong methods only) or too old for a 1-minute max_age
        with pytest.raises(StepUpNeeded):
            box.generate_recovery_codes(sid)


def test_the_bank_registers_a_destination_without_a_session(box: Securebox) -> None:
    """The registration channel (a back office, an administrator adding the user): stored
    verified, no code sent, audited with the registering actor; a blank one refused."""
    new = user(7)
    box.register_destination(Operator("back-office"), new, channel=Channel.SMS, destination=PHONE)
    box.register_destination(user(1), new, channel=Channel.EMAIL, destination=" c@bank.example")
    kept = {(d.channel, d.destination) for d in box.factors.oob.destinations(new)}
    assert kept == {(Channel.SMS, PHONE), (Channel.EMAIL, "c@bank.example")}
    registered = [
        (s.event.actor, s.event.subject)
        for s in box.audit_log()
        if s.event.action == "oob.destination.register"
    ]
    assert registered == [("operator:back-office", new.key), (user(1).key, new.key)]
    assert PHONE not in str([s.event.details for s in box.audit_log()])  # keyed, not the number
    with pytest.raises(SecureboxError):
        box.register_destination(user(1), new, channel=Channel.SMS, destination="  ")
