"""factors/cap.py (with cap_card.py and cap_request.py): enrolment and pure verification.

Codes come from the software card run by the reader emulator, in-process; the issuer is the
software key provider, counting the cryptograms each verification computes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebox_auth.emv.profiles import CapMode, TerminalInput
from securebox_auth.errors import ConfigurationError, InvalidCode, InvalidTime, MalformedInput
from securebox_auth.factors.cap import (
    CapCard,
    CapChallenge,
    CapOutcome,
    CapRequest,
    CapRules,
    CapVerdict,
    FailureReason,
    enrol_card,
    issue_challenge,
    new_challenge_value,
    pan_digest,
    payee_reference,
    verify_cap,
)
from securebox_auth.factors.methods import CAP_IDENTIFY, CAP_RESPOND, CAP_SIGN
from securebox_auth.lockout.rules import BlockStatus, LockoutRules, LockoutState, block_status
from securebox_auth.policy.linking import Money, Payment
from tests.cards.capworld import NOW, PIN, SUBJECT, CapWorld, make_world, parameters_of

RULES = LockoutRules()
IBAN = "FR7630006000011234567890189"
PAYMENT = Payment(Money.parse("1250.50", "EUR"), IBAN)


def check(
    world: CapWorld,
    request: CapRequest,
    code: str,
    *,
    card: CapCard | None = None,
    lockout: LockoutState | None = None,
    rules: CapRules | None = None,
    now: object = NOW,
) -> CapVerdict:
    return verify_cap(
        card or world.record,
        request,
        code,
        lockout=lockout or LockoutState(),
        now=now,  # type: ignore[arg-type]
        issuer=world.issuer,
        lockout_rules=RULES,
        rules=rules or CapRules(),
    )


def challenge_for(card: CapCard, value: str = "12345678", **changes: object) -> CapChallenge:
    challenge, _ = issue_challenge(card, challenge_id="ch-1", value=value, purpose="login", now=NOW)
    return replace(challenge, **changes) if changes else challenge  # type: ignore[arg-type]


# -- enrolment and the record -----------------------------------------------------------------


def test_enrolment_keeps_no_pan_and_no_key() -> None:
    world = make_world()
    record = world.record
    assert record.pan_last4 == world.pan[-4:]
    assert record.subject == SUBJECT
    assert record.pan_digest == pan_digest(world.app_keys, world.pan)
    assert record.pan_digest.startswith("app:")
    stored = json.dumps(record.to_dict())
    assert world.pan not in stored
    assert world.pan[:-4] not in stored
    master = world.card.state.master_key.hex()
    assert master not in stored.lower()
    assert master not in repr(record).lower()
    assert record.last_atc is None


def test_record_serialises_to_json_and_back() -> None:
    record = make_world("be").record
    again = CapCard.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record
    used = replace(record, last_atc=7, last_used_at=NOW)
    assert CapCard.from_dict(json.loads(json.dumps(used.to_dict()))) == used
    with pytest.raises(MalformedInput):
        CapCard.from_dict({"card_id": "x"})
    for bad in ({"pan_last4": "12a4"}, {"aip": b"\x00"}, {"last_atc": 0x10000}, {"subject": ""}):
        with pytest.raises(MalformedInput):
            replace(record, **bad)
    with pytest.raises(InvalidTime):
        replace(record, enrolled_at=NOW.replace(tzinfo=None))


def test_enrolment_checks_the_pan_and_the_reader() -> None:
    world = make_world()
    state = world.card.state
    kwargs = {
        "card_id": "c",
        "subject": SUBJECT,
        "psn": "01",
        "issuer": world.issuer,
        "pan_keys": world.app_keys,
        "now": NOW,
    }
    bad_luhn = world.pan[:-1] + str((int(world.pan[-1]) + 1) % 10)
    with pytest.raises(MalformedInput):
        enrol_card(pan=bad_luhn, parameters=parameters_of(state, "pinsentry_uk"), **kwargs)  # type: ignore[arg-type]
    no_ipb = replace(state, ipb=None)
    with pytest.raises(ConfigurationError):  # a PinSentry reader has no Belgian mix
        enrol_card(pan=world.pan, parameters=parameters_of(no_ipb, "pinsentry_uk"), **kwargs)  # type: ignore[arg-type]
    card, event = enrol_card(pan=world.pan, parameters=parameters_of(state, "vasco_cap"), **kwargs)  # type: ignore[arg-type]
    assert event.action == "cap.enrol"
    assert dict(event.details)["last4"] == world.pan[-4:]
    assert card.profile == "vasco_cap"


# -- the four modes ---------------------------------------------------------------------------


def test_identify_then_replay() -> None:
    world = make_world()
    code = world.code(TerminalInput.identify())
    verdict = check(world, CapRequest.identify(), code)
    assert verdict.ok
    assert verdict.atc == 1
    assert verdict.card.last_atc == 1
    assert verdict.method is CAP_IDENTIFY
    assert verdict.card.last_used_at == NOW
    assert verdict.events[0].action == "cap.identify"
    assert verdict.events[0].outcome == "success"
    assert "code" not in json.dumps([list(e.details) for e in verdict.events])
    again = check(world, CapRequest.identify(), code, card=verdict.card)
    assert again.outcome is CapOutcome.REJECTED
    assert again.reason is FailureReason.REPLAY
    assert again.card == verdict.card
    assert again.lockout.failures == 1


def test_codes_are_compared_as_integers() -> None:
    world = make_world()
    code = int(world.code(TerminalInput.identify()))
    assert check(world, CapRequest.identify(), f"{code:08d}").ok
    assert check(world, CapRequest.identify(), str(code)).ok
    assert check(world, CapRequest.identify(), f"{code:010d}").ok


def test_respond_challenges_are_single_use_bound_and_short_lived() -> None:
    world = make_world()
    challenge = challenge_for(world.record)
    code = world.code(TerminalInput.respond(challenge.value))
    verdict = check(world, CapRequest.respond(challenge), code)
    assert verdict.ok
    assert verdict.method is CAP_RESPOND
    assert verdict.challenge is not None
    assert verdict.challenge.used_at == NOW
    # the spent challenge, even with a fresh code, is refused without cryptography
    fresh = world.code(TerminalInput.respond(challenge.value))
    world.issuer.computed = 0
    reused = check(world, CapRequest.respond(verdict.challenge), fresh, card=verdict.card)
    assert reused.reason is FailureReason.CHALLENGE_USED
    assert world.issuer.computed == 0
    expired = challenge_for(verdict.card, expires_at=NOW)
    assert check(world, CapRequest.respond(expired), fresh, card=verdict.card).reason is (
        FailureReason.CHALLENGE_EXPIRED
    )
    foreign = challenge_for(verdict.card, card_id="another-card")
    assert check(world, CapRequest.respond(foreign), fresh, card=verdict.card).reason is (
        FailureReason.CHALLENGE_MISMATCH
    )
    # a code for another challenge is a wrong code, and it spends the challenge
    other = challenge_for(verdict.card, value="87654321")
    wrong = check(world, CapRequest.respond(other), fresh, card=verdict.card)
    assert wrong.reason is FailureReason.WRONG_CODE
    assert wrong.challenge is not None
    assert wrong.challenge.used_at == NOW


def test_sign_proves_the_payment_amount_and_payee() -> None:
    world = make_world()
    request = CapRequest.sign(PAYMENT, known_payees=())
    assert request.terminal.amount == 125050
    assert request.terminal.un == bytes.fromhex("67890189")
    code = world.code(request.terminal)
    verdict = check(world, request, code)
    assert verdict.ok
    assert verdict.method is CAP_SIGN
    assert verdict.digest == PAYMENT.digest
    # the same code for another amount or another payee is rejected
    other_amount = Payment(Money.parse("1250.51", "EUR"), IBAN)
    refused = check(world, CapRequest.sign(other_amount, known_payees=()), code)
    assert refused.reason is FailureReason.WRONG_CODE
    other_payee = Payment(PAYMENT.amount, "DE89370400440532013000")
    refused = check(world, CapRequest.sign(other_payee, known_payees=()), code)
    assert refused.reason is FailureReason.WRONG_CODE


def test_tds_signs_with_a_belgian_style_card() -> None:
    world = make_world("be")
    request = CapRequest.tds(PAYMENT, known_payees=())
    assert request.terminal.tds == ("67890189", "125050")
    code = world.code(request.terminal)
    verdict = check(world, request, code)
    assert verdict.ok
    assert verdict.method is CAP_SIGN
    assert verdict.digest == PAYMENT.digest
    changed = Payment(Money.parse("125.05", "EUR"), IBAN)
    assert not check(world, CapRequest.tds(changed, known_payees=()), code).ok
    # the same card's Identify code is not a TDS code
    assert not check(world, request, world.code(TerminalInput.identify()), card=verdict.card).ok


@pytest.mark.parametrize(
    ("kind", "profile", "changes"),
    [
        ("be", "vasco_cap", {}),
        ("be", "vasco_dpa", {}),
        ("be", "vasco_cap", {"ipb": None}),  # Belgian mix
        ("be", "vasco_be_payment", {"ipb": None}),
        ("uk", "pinsentry_uk", {"iaf": 0xE0, "ipb": bytes.fromhex("07001F00000000000FFFFF")}),
        ("uk", "pinsentry_uk", {"recipe": "visa_cvn18"}),
        ("be", "vasco_cap", {"recipe": "mastercard_cvn20"}),
    ],
    ids=["mchip16", "dpa-date", "no-ipb", "be-payment", "psn-in-code", "cvn18", "cvn20"],
)
def test_card_families(kind: str, profile: str, changes: dict[str, object]) -> None:
    world = make_world(kind, profile=profile, changes=changes)
    code = world.code(TerminalInput.respond("4711"))
    challenge = challenge_for(world.record, "4711")
    assert check(world, CapRequest.respond(challenge), code).ok


# -- the counter window -----------------------------------------------------------------------


def test_gaps_inside_the_window_are_accepted_beyond_it_rejected() -> None:
    world = make_world()
    for _ in range(5):  # aborted runs: a wrong PIN still moved the ATC at GPO
        world.abort()
    code = world.code(TerminalInput.identify())
    assert check(world, CapRequest.identify(), code).atc == 6
    for _ in range(25):
        world.code(TerminalInput.identify())
    far = world.code(TerminalInput.identify())  # ATC 32 while last_atc is None
    assert check(world, CapRequest.identify(), far).reason is FailureReason.WRONG_CODE
    assert check(world, CapRequest.identify(), far, rules=CapRules(window=40)).atc == 32


def test_an_exhausted_counter_accepts_nothing() -> None:
    world = make_world()
    code = world.code(TerminalInput.identify())
    spent = replace(world.record, last_atc=0xFFFF)
    world.issuer.computed = 0
    assert check(world, CapRequest.identify(), code, card=spent).reason is (
        FailureReason.COUNTER_EXHAUSTED
    )
    assert world.issuer.computed == 0


def test_revealed_atc_bits_are_checked_before_any_cryptogram() -> None:
    world = make_world()  # NatWest-style: 5 ATC bits, 20 AC bits, one IAD bit
    code = int(world.code(TerminalInput.identify()))
    world.issuer.computed = 0
    assert check(world, CapRequest.identify(), str(code)).ok
    assert world.issuer.computed == 1  # window 20 < 32: one candidate
    world.issuer.computed = 0
    shifted = code ^ (0b11110 << 21)  # ATC bits 31: outside the window [0, 19]
    verdict = check(world, CapRequest.identify(), str(shifted))
    assert verdict.reason is FailureReason.WRONG_CODE
    assert world.issuer.computed == 0
    world.issuer.computed = 0
    assert not check(world, CapRequest.identify(), str(code ^ 1)).ok  # the IAD bit
    assert world.issuer.computed == 0
    assert not check(world, CapRequest.identify(), str(1 << 26)).ok  # more bits than the IPB
    assert world.issuer.computed == 0


# -- lockout ----------------------------------------------------------------------------------


def test_failures_feed_the_shared_lockout_and_a_block_costs_nothing() -> None:
    world = make_world()
    lockout = LockoutState()
    verdict = None
    for attempt in range(RULES.max_failures):
        verdict = check(world, CapRequest.identify(), str(10_000 + attempt), lockout=lockout)
        lockout = verdict.lockout
    assert verdict is not None
    assert verdict.outcome is CapOutcome.BLOCKED
    assert block_status(lockout, NOW) is BlockStatus.TEMPORARY
    assert [e.action for e in verdict.events] == ["cap.identify", "lockout.blocked"]
    good = world.code(TerminalInput.identify())
    world.issuer.computed = 0
    refused = check(world, CapRequest.identify(), good, lockout=lockout)
    assert refused.outcome is CapOutcome.BLOCKED
    assert refused.lockout == lockout
    assert world.issuer.computed == 0
    assert refused.events[0].outcome == "refused"
    later = check(world, CapRequest.identify(), good, lockout=lockout, now=NOW + timedelta(hours=1))
    assert later.ok
    assert later.lockout == LockoutState()


def test_misuse_raises_without_counting() -> None:
    world = make_world()
    for bad in ("", "12 34", "12a4", "1" * 17, "٣٤"):
        with pytest.raises(InvalidCode):
            check(world, CapRequest.identify(), bad)
    with pytest.raises(InvalidTime):
        check(world, CapRequest.identify(), "1234", now=NOW.replace(tzinfo=None))
    with pytest.raises(MalformedInput):  # a PinSentry reader has no TDS mode
        check(world, CapRequest.tds(PAYMENT, known_payees=()), "1234")
    with pytest.raises(ConfigurationError):
        CapRules(window=0)


# -- challenges and references ---------------------------------------------------------------


def test_challenges_and_references() -> None:
    world = make_world()
    value = new_challenge_value()
    assert len(value) == 8
    assert value.isdigit()
    assert len(new_challenge_value(6)) == 6
    with pytest.raises(ConfigurationError):
        new_challenge_value(9)
    challenge, event = issue_challenge(
        world.record, challenge_id="c1", value="00001234", purpose="payment", now=NOW,
        digest=PAYMENT.digest,
    )  # fmt: skip
    assert challenge.expires_at == NOW + timedelta(minutes=5)
    assert challenge.used_at is None
    assert event.action == "cap.challenge"
    assert "00001234" not in repr(event.details)
    assert CapRequest.respond(challenge).digest == PAYMENT.digest
    assert CapRequest.respond(challenge).mode is CapMode.RESPOND
    for bad_value in ("123456789", "12a4"):
        with pytest.raises(MalformedInput):
            issue_challenge(world.record, challenge_id="c", value=bad_value, purpose="x", now=NOW)
    with pytest.raises(ConfigurationError):
        issue_challenge(
            world.record, challenge_id="c", value="1234", purpose="x", now=NOW,
            lifetime=timedelta(hours=2),
        )  # fmt: skip
    with pytest.raises(MalformedInput):  # a Respond request without its server challenge
        CapRequest(TerminalInput.respond("1234"))
    with pytest.raises(MalformedInput):  # or with another number than the challenge
        CapRequest(TerminalInput.respond("4321"), challenge)
    with pytest.raises(MalformedInput):
        CapRequest(TerminalInput.identify(), challenge)
    assert payee_reference(IBAN) == "67890189"
    assert payee_reference("GB29 NWBK 6016 1331 9268 19") == "31926819"
    assert payee_reference("ID:ACME-42", digits=4) == "42"
    with pytest.raises(MalformedInput):
        payee_reference("ID:ACME")


# -- properties -------------------------------------------------------------------------------

_UK = make_world()
_UK_CODE = int(_UK.code(TerminalInput.identify()))
_BE = make_world("be")
_BE_CODE = int(_BE.code(TerminalInput.identify()))


@given(st.sampled_from(["uk", "be"]), st.integers(0, 33))
def test_any_single_bit_flipped_in_a_code_is_rejected(kind: str, bit: int) -> None:
    world, code = (_UK, _UK_CODE) if kind == "uk" else (_BE, _BE_CODE)
    assert check(world, CapRequest.identify(), str(code)).ok
    assert not check(world, CapRequest.identify(), str(code ^ (1 << bit))).ok


_actions = st.lists(
    st.one_of(
        st.just(("code", 0)),
        st.just(("abort", 0)),
        st.tuples(st.just("verify"), st.integers(0, 30)),
    ),
    max_size=14,
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(_actions)
def test_no_atc_is_ever_accepted_twice(actions: list[tuple[str, int]]) -> None:
    world = make_world()
    codes: list[str] = []
    card, accepted = world.record, []
    for action, index in actions:
        if action == "code":
            codes.append(world.code(TerminalInput.identify()))
        elif action == "abort":
            world.abort()
        elif codes:
            verdict = check(world, CapRequest.identify(), codes[index % len(codes)], card=card)
            if verdict.ok:
                assert verdict.atc is not None
                assert card.last_atc is None or verdict.atc > card.last_atc
                accepted.append(verdict.atc)
            card = verdict.card
    assert len(accepted) == len(set(accepted))
    assert accepted == sorted(accepted)
    assert PIN  # the world's PIN was used for every real code
