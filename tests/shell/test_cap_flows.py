"""CAP challenges through the entry point: a Respond login (8 server digits typed into the
reader), and step-ups whose CAP challenge is bound to the operation's digest: linked Sign
for a payment (the user types the digits and the amount), linked Respond for a payee (no
amount to type). A code over another amount or for another payee's challenge is refused
and counted against the CAP element; a code made for a step-up never opens a login."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth import (
    PROFILE_TESTING,
    CapAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    Money,
    OperationRequest,
    Operator,
    Payment,
    Securebox,
    StepUpState,
)
from securebox_auth.emv.profiles import CapMode, TerminalInput, numeric_currency
from securebox_auth.errors import ChallengeNeeded, FlowError, FlowOutOfOrder
from securebox_auth.lockout.rules import Element
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore
from tests.cards.capworld import CapWorld, make_world
from tests.shell.portal import CLIENT, MASTER, T0, Phone, portal_policy, user

IBAN = "FR7630006000011234567890189"
OTHER = "DE89370400440532013000"
EUR = numeric_currency("EUR")


@pytest.fixture
def world() -> CapWorld:
    return make_world("uk")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def box(contract_store: AuthStore, clock: FixedClock, world: CapWorld) -> Securebox:
    return _portal(contract_store, clock, world)


def _portal(store: AuthStore, clock: FixedClock, world: CapWorld) -> Securebox:
    box = Securebox.from_policy(
        portal_policy(),
        store=store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": Phone()},
        argon2=PROFILE_TESTING,
        cap_issuer=world.issuer,
    )
    who = user(1)
    box.codes.create_subscription(Operator("back-office"), who)
    record = world.record
    box.factors.put_state(who, fc.CAP_CARD, record.card_id, fc.cap_card_to_dict(record))
    return box


def _login(box: Securebox, world: CapWorld) -> str:
    page = box.start_login(CLIENT, "01")
    code = world.code(TerminalInput.identify())
    page = box.answer_login(
        page.handle, CapAnswer(world.record.card_id, code, mode=CapMode.IDENTIFY)
    )
    assert page.session_id is not None, page.explain()
    return page.session_id


def _payment(minor: int, payee: str = IBAN) -> OperationRequest:
    return OperationRequest("sepa_instant_transfer", payment=Payment(Money(minor, "EUR"), payee))


def _cap_failures(box: Securebox) -> int:
    return box.store.get_lockout(user(1)).value.series(Element.CAP).failures


def test_a_cap_respond_login_answers_a_server_challenge_once(
    box: Securebox, world: CapWorld, clock: FixedClock
) -> None:
    card_id = world.record.card_id
    page = box.start_login(CLIENT, "01")
    assert "cap_respond" in page.offered
    challenge_id, digits = box.login_cap_challenge(page.handle, card_id)
    assert len(digits) == 8
    assert digits.isdigit()
    code = world.code(TerminalInput.respond(digits))
    page = box.answer_login(page.handle, CapAnswer(card_id, code, challenge_id, CapMode.RESPOND))
    assert page.done, page.explain()
    assert box.factors.last_sca(user(1), "web") == clock.now()
    # the challenge is spent: a fresh code of the card over the same digits opens nothing
    clock.advance(timedelta(seconds=5))
    again = box.start_login(CLIENT, "01")
    fresh = world.code(TerminalInput.respond(digits))
    answer = CapAnswer(card_id, fresh, challenge_id, CapMode.RESPOND)
    assert box.answer_login(again.handle, answer).state is not LoginState.DONE


def test_a_payment_step_up_with_linked_cap_sign_is_consumed_once(
    box: Securebox, world: CapWorld
) -> None:
    card_id = world.record.card_id
    session_id = _login(box, world)
    up = box.start_step_up(session_id, _payment(125050))
    assert up.state is StepUpState.CHALLENGED
    assert "cap_sign" in up.methods
    challenge_id, typed = box.step_up_cap_challenge(session_id, up.handle, card_id)
    digits = typed[0]
    assert typed == (digits, "125050")
    code = world.code(TerminalInput.sign(digits, 125050, EUR))
    up = box.prove_step_up(session_id, up.handle, CapAnswer(card_id, code, challenge_id))
    assert up.ready, up.explain()
    assert up.session_id != session_id  # the level changed: a new session id
    assert box.execute(up.session_id, up.handle).executed
    with pytest.raises(FlowError):
        box.execute(up.session_id, up.handle)


def test_a_sign_code_over_another_amount_is_refused_and_counted(
    box: Securebox, world: CapWorld
) -> None:
    card_id = world.record.card_id
    session_id = _login(box, world)
    up = box.start_step_up(session_id, _payment(125050))
    challenge_id, (digits, _) = box.step_up_cap_challenge(session_id, up.handle, card_id)
    code = world.code(TerminalInput.sign(digits, 999999, EUR))
    page = box.prove_step_up(session_id, up.handle, CapAnswer(card_id, code, challenge_id))
    assert page.rejected
    assert not page.ready
    assert _cap_failures(box) == 1
    # the challenge was spent by that attempt; a new one with the right amount passes
    challenge_id, (digits, _) = box.step_up_cap_challenge(session_id, up.handle, card_id)
    code = world.code(TerminalInput.sign(digits, 125050, EUR))
    assert box.prove_step_up(session_id, up.handle, CapAnswer(card_id, code, challenge_id)).ready


def test_a_code_for_another_payees_challenge_is_refused_and_counted(
    box: Securebox, world: CapWorld
) -> None:
    card_id = world.record.card_id
    session_id = _login(box, world)
    mine = box.start_step_up(session_id, _payment(125050))
    theirs = box.start_step_up(session_id, _payment(125050, OTHER))
    challenge_id, (digits, _) = box.step_up_cap_challenge(session_id, theirs.handle, card_id)
    code = world.code(TerminalInput.sign(digits, 125050, EUR))
    page = box.prove_step_up(session_id, mine.handle, CapAnswer(card_id, code, challenge_id))
    assert page.rejected
    assert not page.ready
    assert _cap_failures(box) == 1


def test_a_sign_code_without_a_challenge_is_refused_with_a_clear_error(
    box: Securebox, world: CapWorld
) -> None:
    card_id = world.record.card_id
    session_id = _login(box, world)
    up = box.start_step_up(session_id, _payment(125050))
    code = world.code(TerminalInput.sign("67890189", 125050, EUR))
    with pytest.raises(ChallengeNeeded, match="step_up_cap_challenge") as raised:
        box.prove_step_up(session_id, up.handle, CapAnswer(card_id, code))
    assert raised.value.code == "challenge_needed"
    assert _cap_failures(box) == 0


def test_a_payee_step_up_with_linked_cap_respond(box: Securebox, world: CapWorld) -> None:
    card_id = world.record.card_id
    session_id = _login(box, world)
    up = box.start_step_up(session_id, OperationRequest("payee_management", payee=IBAN))
    assert up.state is StepUpState.CHALLENGED
    assert up.digest is not None
    with pytest.raises(FlowOutOfOrder, match="Respond"):
        box.step_up_cap_challenge(session_id, up.handle, card_id)  # Sign types an amount
    challenge_id, (digits,) = box.step_up_cap_challenge(
        session_id, up.handle, card_id, CapMode.RESPOND
    )
    code = world.code(TerminalInput.respond(digits))
    answer = CapAnswer(card_id, code, challenge_id, CapMode.RESPOND)
    up = box.prove_step_up(session_id, up.handle, answer)
    assert up.ready, up.explain()
    assert box.execute(up.session_id, up.handle).executed


def test_an_unbound_card_gets_digits_all_the_same_and_its_code_is_refused(
    box: Securebox, world: CapWorld
) -> None:
    page = box.start_login(CLIENT, "01")
    challenge_id, digits = box.login_cap_challenge(page.handle, "no-such-card")
    assert len(digits) == 8
    assert box.store.get_factor_state(user(1), fc.CAP_CHALLENGE, challenge_id) is None
    code = world.code(TerminalInput.respond(digits))
    answer = CapAnswer("no-such-card", code, challenge_id, CapMode.RESPOND)
    assert box.answer_login(page.handle, answer).rejected
    assert _cap_failures(box) == 1


def test_a_payment_step_up_with_linked_tds_on_a_belgian_reader(
    contract_store: AuthStore, clock: FixedClock
) -> None:
    world = make_world("be")
    box = _portal(contract_store, clock, world)
    card_id = world.record.card_id
    session_id = _login(box, world)
    up = box.start_step_up(session_id, _payment(125050))
    challenge_id, typed = box.step_up_cap_challenge(session_id, up.handle, card_id, CapMode.TDS)
    reference, amount, digits = typed
    assert (reference, amount) == ("67890189", "125050")
    code = world.code(TerminalInput.tds_numbers((reference, amount, digits)))
    answer = CapAnswer(card_id, code, challenge_id, CapMode.TDS)
    up = box.prove_step_up(session_id, up.handle, answer)
    assert up.ready, up.explain()
    actions = [sealed.event.action for sealed in box.audit_log()]
    assert "cap.challenge" in actions
    assert box.execute(up.session_id, up.handle).executed


def test_a_step_up_challenge_never_opens_a_login(box: Securebox, world: CapWorld) -> None:
    card_id = world.record.card_id
    session_id = _login(box, world)
    up = box.start_step_up(session_id, OperationRequest("payee_management", payee=IBAN))
    challenge_id, (digits,) = box.step_up_cap_challenge(
        session_id, up.handle, card_id, CapMode.RESPOND
    )
    page = box.start_login(CLIENT, "01")
    code = world.code(TerminalInput.respond(digits))
    page = box.answer_login(page.handle, CapAnswer(card_id, code, challenge_id, CapMode.RESPOND))
    assert page.rejected
    assert page.session_id is None
    assert _cap_failures(box) == 1
