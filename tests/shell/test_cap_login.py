"""A login with a CAP reader through the entry point (the Coop@ccess guide's "se connecter
par lecteur CAP"): the reader's Identify code alone is strong authentication (possession of
the card, knowledge of its PIN), so the flow opens a session and starts the renewal clock;
the same code cannot open a second one, and a wrong code counts against the CAP element."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth import (
    PROFILE_TESTING,
    CapAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    Operator,
    Securebox,
)
from securebox_auth.emv.profiles import CapMode, TerminalInput
from securebox_auth.factors.methods import FactorCategory
from securebox_auth.lockout.rules import Element
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore
from tests.cards.capworld import CapWorld, make_world
from tests.shell.portal import CLIENT, MASTER, T0, Phone, portal_policy, user


@pytest.fixture
def world() -> CapWorld:
    return make_world("uk")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def box(contract_store: AuthStore, clock: FixedClock, world: CapWorld) -> Securebox:
    box = Securebox.from_policy(
        portal_policy(),
        store=contract_store,
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


def _identify(box: Securebox, code: str, card_id: str) -> LoginState:
    page = box.start_login(CLIENT, "01")
    assert "cap_identify" in page.offered
    page = box.answer_login(page.handle, CapAnswer(card_id, code, mode=CapMode.IDENTIFY))
    return page.state


def test_a_cap_identify_code_opens_a_strong_session_once(
    box: Securebox, world: CapWorld, clock: FixedClock
) -> None:
    card_id = world.record.card_id
    code = world.code(TerminalInput.identify())
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CapAnswer(card_id, code, mode=CapMode.IDENTIFY))
    assert page.done, page.explain()
    assert page.session_id is not None
    session = box.live_session(page.session_id).value
    assert session.strong
    assert session.categories() == frozenset({FactorCategory.POSSESSION, FactorCategory.KNOWLEDGE})
    # the flow, not the caller, started the renewal clock of this channel
    assert box.factors.last_sca(user(1), "web") == clock.now()
    # the same reader code is spent: it opens nothing else
    clock.advance(timedelta(seconds=5))
    assert _identify(box, code, card_id) is not LoginState.DONE
    # a fresh code from the card does
    clock.advance(timedelta(seconds=5))
    assert _identify(box, world.code(TerminalInput.identify()), card_id) is LoginState.DONE


def test_a_wrong_cap_code_counts_against_the_cap_element(box: Securebox, world: CapWorld) -> None:
    card_id = world.record.card_id
    good = world.code(TerminalInput.identify())
    wrong = str((int(good) + 1) % 10 ** len(good)).zfill(len(good))
    assert _identify(box, wrong, card_id) is not LoginState.DONE
    lockout = box.store.get_lockout(user(1)).value
    assert lockout.series(Element.CAP).failures == 1
    assert lockout.series(Element.CODE).failures == 0
