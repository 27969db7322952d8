"""End to end through a real PC/SC stack: software card → vpcd → pcscd → pyscard → reader
emulator → code → verifier. The stack is the session fixture of ``conftest.py``.

Each test enrols the card afresh (synced to the card's current ATC, as an enrolment is), so
the tests do not depend on each other's order even though they share one card.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from securebox_auth.cards.pcsc import PcscTransport, list_readers, open_cap_reader
from securebox_auth.cards.reader import CapReader, PinBlocked, WrongPin
from securebox_auth.cli import main
from securebox_auth.emv import commands
from securebox_auth.emv.apdu import ResponseApdu
from securebox_auth.emv.profiles import VASCO_CAP, TerminalInput
from securebox_auth.factors.cap import (
    CapCard,
    CapRequest,
    CapRules,
    CapVerdict,
    FailureReason,
    issue_challenge,
    verify_cap,
)
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Money, Payment
from tests.cards.capworld import NOW, PIN
from tests.cards.conftest import PcscStack

PAYMENT = Payment(Money.parse("1250.50", "EUR"), "FR7630006000011234567890189")


@pytest.fixture
def stack(pcsc_stack: PcscStack) -> Iterator[PcscStack]:
    yield pcsc_stack
    pcsc_stack.world.card.unblock_pin()


def read(stack: PcscStack, typed: TerminalInput, pin: str = PIN, *, vasco: bool = False) -> str:
    with PcscTransport(stack.reader) as transport:
        profile = VASCO_CAP if vasco else stack.world.profile
        return str(CapReader(transport, profile).run(typed, pin).code)


def verify(
    stack: PcscStack, card: CapCard, request: CapRequest, code: str, **rules: int
) -> CapVerdict:
    return verify_cap(
        card,
        request,
        code,
        lockout=LockoutState(),
        now=NOW,
        issuer=stack.world.issuer,
        lockout_rules=LockoutRules(),
        rules=CapRules(**rules),
    )


def test_both_slots_are_readers_and_the_cap_card_is_found(stack: PcscStack) -> None:
    assert {stack.reader, stack.blank_reader} <= set(list_readers())
    with PcscTransport(stack.blank_reader) as blank:
        answer = ResponseApdu.decode(blank.transmit(commands.select(commands.PSE).encode()))
        assert answer.sw == 0x6A82
        assert blank.atr.startswith(b"\x3b")
    with open_cap_reader() as transport:
        assert transport.reader == stack.reader
    with open_cap_reader("00 00") as transport:
        assert transport.reader == stack.reader


def test_identify_and_replay(stack: PcscStack) -> None:
    card = stack.world.enrol()
    code = read(stack, TerminalInput.identify())
    accepted = verify(stack, card, CapRequest.identify(), code)
    assert accepted.ok
    assert accepted.atc == stack.world.card.state.atc
    replayed = verify(stack, accepted.card, CapRequest.identify(), code)
    assert replayed.reason is FailureReason.REPLAY


def test_respond(stack: PcscStack) -> None:
    card = stack.world.enrol()
    challenge, _ = issue_challenge(
        card, challenge_id="e2e", value="20260302", purpose="login", now=NOW
    )
    code = read(stack, TerminalInput.respond(challenge.value))
    assert verify(stack, card, CapRequest.respond(challenge), code).ok


def test_sign_binds_amount_and_payee(stack: PcscStack) -> None:
    card = stack.world.enrol()
    request = CapRequest.sign(PAYMENT, known_payees=())
    code = read(stack, request.terminal)
    verdict = verify(stack, card, request, code)
    assert verdict.ok
    assert verdict.digest == PAYMENT.digest
    other = Payment(Money.parse("1250.05", "EUR"), PAYMENT.payee)  # amount A'
    refused = verify(stack, card, CapRequest.sign(other, known_payees=()), code)
    assert refused.reason is FailureReason.WRONG_CODE


def test_tds_with_a_vasco_reader(stack: PcscStack) -> None:
    card = stack.world.enrol("vasco_cap")
    request = CapRequest.tds(PAYMENT, known_payees=())
    code = read(stack, request.terminal, vasco=True)
    assert verify(stack, card, request, code).ok
    other = Payment(Money.parse("1.00", "EUR"), PAYMENT.payee)
    assert not verify(stack, card, CapRequest.tds(other, known_payees=()), code).ok


def test_wrong_pin_then_the_right_one(stack: PcscStack) -> None:
    card = stack.world.enrol()
    with pytest.raises(WrongPin) as wrong:
        read(stack, TerminalInput.identify(), "0000")
    assert wrong.value.tries_left == 2
    code = read(stack, TerminalInput.identify())  # the aborted run left an ATC gap
    verdict = verify(stack, card, CapRequest.identify(), code)
    assert verdict.ok
    assert verdict.atc == stack.world.card.state.atc
    assert stack.world.card.state.pin_tries == 3


def test_blocked_card(stack: PcscStack) -> None:
    for left in (2, 1, 0):
        with pytest.raises(WrongPin) as wrong:
            read(stack, TerminalInput.identify(), "0000")
        assert wrong.value.tries_left == left
    with pytest.raises(PinBlocked):
        read(stack, TerminalInput.identify())
    with PcscTransport(stack.reader) as transport:
        transport.transmit(commands.select(bytes.fromhex("A0000000048002")).encode())
        transport.transmit(commands.get_processing_options().encode())
        answer = ResponseApdu.decode(transport.transmit(commands.verify_pin(PIN).encode()))
        assert answer.sw == 0x6983


def test_a_skipped_window_is_rejected(stack: PcscStack) -> None:
    card = stack.world.enrol()
    for _ in range(20):
        read(stack, TerminalInput.identify())  # codes never submitted
    code = read(stack, TerminalInput.identify())  # last_atc + 21
    assert verify(stack, card, CapRequest.identify(), code).reason is FailureReason.WRONG_CODE
    assert verify(stack, card, CapRequest.identify(), code, window=30).ok


def test_the_command_line_reader(stack: PcscStack, capsys: pytest.CaptureFixture[str]) -> None:
    card = stack.world.enrol()
    challenge, _ = issue_challenge(card, challenge_id="cli", value="1234", purpose="login", now=NOW)
    argv = ["card", "cap", "--mode", "respond", "--challenge", "1234", "--pin", PIN]
    assert main([*argv, "--reader", stack.reader]) == 0
    displayed = capsys.readouterr().out.strip()
    assert len(displayed) == 8
    assert displayed.isdigit()
    assert verify(stack, card, CapRequest.respond(challenge), displayed).ok
