"""A passkey through the flows: a first factor that is strong on its own at login, and a
step-up for a payment whose WebAuthn challenge is bound to the amount and payee."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth import (
    FixedClock,
    Money,
    OperationRequest,
    PasskeyAnswer,
    Payment,
    Securebox,
    StepUpState,
)
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.shell.portal import CLIENT, T0, Phone, enrol_users, make_box, user

RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
IBAN = "FR7630006000011234567890189"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def box(clock: FixedClock) -> Securebox:
    return make_box(MemoryStore(), clock, Phone(), RP)


@pytest.fixture
def auth(box: Securebox, clock: FixedClock) -> SoftAuthenticator:
    enrol_users(box, 1)
    who = user(1)
    authenticator = SoftAuthenticator()
    options, ceremony, owned = begin_registration(
        RP, who, None, now=clock.now(), user_name="123456789-01", display_name="Jeanne"
    )
    done = finish_registration(
        RP, ceremony, owned, who, authenticator.create(options), now=clock.now()
    )
    assert done.passkeys is not None
    box.factors.put_state(who, fc.PASSKEYS, "default", fc.passkeys_to_dict(done.passkeys))
    clock.advance(timedelta(seconds=30))
    return authenticator


def _login(box: Securebox, auth: SoftAuthenticator) -> str:
    page = box.start_login(CLIENT, "01")
    options, ceremony_id = box.login_passkey_options(page.handle)
    page = box.answer_login(page.handle, PasskeyAnswer(ceremony_id, auth.get(options)))
    assert page.session_id is not None, page.explain()
    return page.session_id


def _payment(minor: int) -> OperationRequest:
    return OperationRequest("sepa_instant_transfer", payment=Payment(Money(minor, "EUR"), IBAN))


def test_a_passkey_login_and_a_linked_payment(box: Securebox, auth: SoftAuthenticator) -> None:
    session_id = _login(box, auth)
    up = box.start_step_up(session_id, _payment(125050))
    assert up.state is StepUpState.CHALLENGED
    options, ceremony_id = box.step_up_passkey_options(session_id, up.handle)
    up = box.prove_step_up(session_id, up.handle, PasskeyAnswer(ceremony_id, auth.get(options)))
    assert up.ready
    assert box.execute(up.session_id, up.handle).executed


def test_a_passkey_ceremony_of_another_amount_is_refused(
    box: Securebox, auth: SoftAuthenticator
) -> None:
    session_id = _login(box, auth)
    mine = box.start_step_up(session_id, _payment(125050))
    other = box.start_step_up(session_id, _payment(999999))
    options, ceremony_id = box.step_up_passkey_options(session_id, other.handle)
    page = box.prove_step_up(session_id, mine.handle, PasskeyAnswer(ceremony_id, auth.get(options)))
    assert page.rejected
    assert page.state is StepUpState.CHALLENGED


def test_a_passkey_without_user_verification_does_not_open_a_login(
    box: Securebox, auth: SoftAuthenticator
) -> None:
    page = box.start_login(CLIENT, "01")
    options, ceremony_id = box.login_passkey_options(page.handle)
    page = box.answer_login(page.handle, PasskeyAnswer(ceremony_id, auth.get(options, uv=False)))
    assert page.rejected
    assert page.session_id is None
    assert page.flow.failures == 1
