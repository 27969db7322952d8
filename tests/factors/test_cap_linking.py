"""What a CAP Sign/TDS code binds: the payee's reader reference (last 8 digits) and its
collisions with the user's other payees, and digest linking (a challenge derived from the
full operation digest), in the pure verifier and through the factor service.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.clock import FixedClock
from securebox_auth.emv.profiles import CapMode, TerminalInput
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.errors import AmbiguousPayeeReference, MalformedInput, SecureboxError
from securebox_auth.factors.cap import (
    CapCard,
    CapChallenge,
    CapRequest,
    CapRules,
    CapVerdict,
    FailureReason,
    checked_reference,
    issue_linked_challenge,
    linked_challenge_value,
    linked_request,
    new_link_nonce,
    payee_reference,
    reference_collisions,
    verify_cap,
)
from securebox_auth.factors.methods import CAP_RESPOND, CAP_SIGN
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Money, Payment, normalise_payee
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import PutAccount
from tests.cards.capworld import NOW, CapWorld, make_world

IBAN: Final = "FR7630006000011234567890189"
EVIL: Final = "ID:EVIL/67890189"  # the same last 8 digits
AMOUNT: Final = Money.parse("1250.50", "EUR")
PAYMENT: Final = Payment(AMOUNT, IBAN)
EVIL_PAYMENT: Final = Payment(AMOUNT, EVIL)
P: Final = Principal.parse("123456789", "01")


def check(
    world: CapWorld, request: CapRequest, code: str, card: CapCard | None = None
) -> CapVerdict:
    return verify_cap(
        card or world.record,
        request,
        code,
        lockout=LockoutState(),
        now=NOW + timedelta(seconds=1),
        issuer=world.issuer,
        lockout_rules=LockoutRules(),
        rules=CapRules(),
    )


# -- the reader reference and its collisions ---------------------------------------------------


def test_the_reference_alone_cannot_tell_two_payees_apart() -> None:
    """The limit being guarded against: a code over the last 8 digits proves both payments."""
    world = make_world()
    code = world.code(CapRequest.sign(PAYMENT, known_payees=()).terminal)
    assert check(world, CapRequest.sign(EVIL_PAYMENT, known_payees=()), code).ok


@pytest.mark.parametrize("mode", ["sign", "tds"])
def test_a_payee_whose_reference_collides_with_a_known_payee_is_refused(mode: str) -> None:
    known = ["FR76 3000 6000 0112 3456 7890 189", "DE89370400440532013000", "ID:ACME"]
    build = CapRequest.sign if mode == "sign" else CapRequest.tds
    with pytest.raises(AmbiguousPayeeReference) as raised:
        build(EVIL_PAYMENT, known_payees=known)
    assert raised.value.others == (normalise_payee(IBAN),)
    assert raised.value.reference == "67890189"
    assert raised.value.code == "cap_reference_ambiguous"
    assert isinstance(raised.value, SecureboxError)
    # the other way round too, and the payee itself in the list is no collision
    with pytest.raises(AmbiguousPayeeReference):
        build(PAYMENT, known_payees=[EVIL])
    assert build(PAYMENT, known_payees=known).digest == PAYMENT.digest


_signable = st.one_of(
    st.sampled_from([IBAN, EVIL, "GB29NWBK60161331926819", "ID:X/31926819", "ID:42"]),
    st.from_regex(r"ID:[A-Z]{0,3}/[0-9]{1,10}", fullmatch=True),
)
_payees = st.one_of(_signable, st.just("ID:ACME"))


@given(_signable, st.lists(_payees, max_size=6))
def test_collisions_are_exactly_the_other_payees_with_the_same_digits(
    payee: str, known: list[str]
) -> None:
    mine = payee_reference(payee)
    expected = set()
    for other in known:
        canonical = normalise_payee(other)
        if canonical == normalise_payee(payee):
            continue
        try:
            if payee_reference(other) == mine:
                expected.add(canonical)
        except MalformedInput:
            pass
    assert set(reference_collisions(payee, known)) == expected
    if expected:
        with pytest.raises(AmbiguousPayeeReference):
            checked_reference(payee, known)
    else:
        assert checked_reference(payee, known) == mine


# -- digest linking --------------------------------------------------------------------------


def linked(world: CapWorld, payment: Payment, challenge_id: str = "c1") -> CapChallenge:
    challenge, event = issue_linked_challenge(
        world.record,
        challenge_id=challenge_id,
        nonce=new_link_nonce(),
        digest=payment.digest,
        purpose="payment",
        now=NOW,
    )
    assert event.action == "cap.challenge"
    return challenge


@pytest.mark.parametrize(
    ("kind", "mode"), [("uk", CapMode.RESPOND), ("uk", CapMode.SIGN), ("be", CapMode.TDS)]
)
def test_a_digest_linked_code_proves_only_its_own_operation(kind: str, mode: CapMode) -> None:
    world = make_world(kind)
    challenge = linked(world, PAYMENT)
    request = linked_request(mode, challenge, PAYMENT)
    code = world.code(request.terminal)
    # the same code presented for the payee with the same last 8 digits: refused, counted
    evil = check(world, linked_request(mode, challenge, EVIL_PAYMENT), code)
    assert not evil.ok
    assert evil.reason is FailureReason.CHALLENGE_MISMATCH
    assert evil.lockout.failures == 1
    # for the payment it was issued for: accepted once
    verdict = check(world, request, code)
    assert verdict.ok, verdict.reason
    assert verdict.digest == PAYMENT.digest
    assert verdict.method is (CAP_RESPOND if mode is CapMode.RESPOND else CAP_SIGN)
    assert verdict.challenge is not None
    replay = check(world, linked_request(mode, verdict.challenge, PAYMENT), code, verdict.card)
    assert replay.reason is FailureReason.CHALLENGE_USED


def test_linked_requests_carry_what_the_user_types() -> None:
    world = make_world()
    challenge = linked(world, PAYMENT)
    sign = linked_request(CapMode.SIGN, challenge, PAYMENT).terminal
    assert (sign.un.hex(), sign.amount) == (challenge.value, 125050)
    tds = linked_request(CapMode.TDS, challenge, PAYMENT).terminal
    assert tds.tds == ("67890189", "125050", challenge.value)
    assert linked_request(CapMode.RESPOND, challenge).digest == PAYMENT.digest
    with pytest.raises(MalformedInput):
        linked_request(CapMode.SIGN, challenge)
    with pytest.raises(MalformedInput):
        linked_request(CapMode.IDENTIFY, challenge, PAYMENT)
    with pytest.raises(MalformedInput):  # a Sign request whose reference is not the challenge
        CapRequest(TerminalInput.sign("67890189", 125050), challenge, PAYMENT.digest)


@given(st.binary(min_size=16, max_size=32), st.binary(min_size=32, max_size=32))
def test_challenge_digits_are_a_function_of_nonce_and_full_digest(
    nonce: bytes, digest: bytes
) -> None:
    value = linked_challenge_value(digest.hex(), nonce)
    assert len(value) == 8
    assert value.isdigit()
    assert value == linked_challenge_value(digest.hex().upper(), nonce)


def test_challenge_digits_refuse_bad_input() -> None:
    for digest, nonce in (("ab" * 31, bytes(16)), ("zz" * 32, bytes(16)), ("ab" * 32, b"x")):
        with pytest.raises(MalformedInput):
            linked_challenge_value(digest, nonce)
    # another payee (same last digits) gives other digits for the same nonce, almost surely
    nonce = new_link_nonce()
    assert linked_challenge_value(PAYMENT.digest, nonce) != linked_challenge_value(
        EVIL_PAYMENT.digest, nonce
    )


def test_the_factor_service_verifies_a_linked_sign_code_once() -> None:
    world = make_world()
    store = MemoryStore()
    store.commit([PutAccount(P, 0, Account(P, Role.USER, NOW))], [])
    service = FactorService(
        store, clock=FixedClock(NOW + timedelta(seconds=5)), issuer=world.issuer
    )
    card = world.record
    service.put_state(P, fc.CAP_CARD, card.card_id, fc.cap_card_to_dict(card))
    for challenge_id in ("c1", "c2"):
        challenge = linked(world, PAYMENT, challenge_id)
        service.put_state(P, fc.CAP_CHALLENGE, challenge_id, fc.cap_challenge_to_dict(challenge))
    first = store.get_factor_state(P, fc.CAP_CHALLENGE, "c1")
    assert first is not None
    c1 = fc.cap_challenge_from_dict(first.value)
    code = world.code(linked_request(CapMode.SIGN, c1, PAYMENT).terminal)
    evil = service.verify_cap(
        P, card.card_id, code, challenge_id="c1", linked=(CapMode.SIGN, EVIL_PAYMENT)
    )
    assert evil.reason == "challenge_mismatch"
    code = world.code(linked_request(CapMode.SIGN, c1, PAYMENT).terminal)
    # c1 was spent by the mismatch: a fresh challenge is needed
    assert (
        service.verify_cap(
            P, card.card_id, code, challenge_id="c1", linked=(CapMode.SIGN, PAYMENT)
        ).reason
        == "challenge_used"
    )
    second = store.get_factor_state(P, fc.CAP_CHALLENGE, "c2")
    assert second is not None
    c2 = fc.cap_challenge_from_dict(second.value)
    code = world.code(linked_request(CapMode.SIGN, c2, PAYMENT).terminal)
    result = service.verify_cap(
        P, card.card_id, code, challenge_id="c2", linked=(CapMode.SIGN, PAYMENT)
    )
    assert result.ok, result.reason
    assert result.digest == PAYMENT.digest
