"""Interoperability with python-emv (PyPI ``emv``, ``emvtool``), a CAP reader client written
by other people: it talks to our software card through pcscd + vpcd, and our verifier must
accept the codes it computes.

python-emv emulates a UK PinSentry-style reader: GET PROCESSING OPTIONS with an empty PDOL,
one GENERATE AC with date 010101, TVR 8000000000, the challenge or reference in 9F37, the
amount in 9F02 and **no currency** (5F2A ``0000``, whatever the IAF says), everything else
zero. So it emulates the ``pinsentry_uk`` profile (Identify, Respond, Sign), and the Identify
and Respond modes of ``vasco_dpa`` for a card whose CDOL1 asks for none of the tags a Vasco
reader fills besides the date and the TVR. It cannot emulate ``vasco_cap`` (date 000000) nor
``vasco_be_payment`` (TVR 8000000800), and has no TDS mode; none of the Vasco profiles has a
Sign mode.

Without python-emv (the ``dev`` extra) the tests skip with the reason, except in CI
(``CI=true``), where they fail.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
from datetime import timedelta
from typing import Any, Final, NoReturn

import pytest

from securebox_auth.emv.profiles import PROFILES, SHIPPED_PROFILES, CapMode
from securebox_auth.factors.cap import (
    CapCard,
    CapRequest,
    CapVerdict,
    issue_challenge,
    payee_reference,
    verify_cap,
)
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Money, Payment
from tests.cards.capworld import NOW, PIN, CapWorld, make_world
from tests.cards.conftest import PcscStack

PAYMENT: Final = Payment(Money.parse("1250.50", "EUR"), "FR7630006000011234567890189")
#: Card personalisations: the two demo kinds, and UK cards whose IAF asks for the currency
#: (``80``: amount and currency; ``C0``: the same and the PSN in the code).
CARDS: Final = {
    "uk-iaf-a0": ("uk", {}),
    "uk-iaf-80": ("uk", {"iaf": 0x80}),
    "uk-iaf-c0": ("uk", {"iaf": 0xC0}),
    "be": ("be", {}),
}
#: Which shipped profiles python-emv's codes satisfy, per mode, for a card with the standard
#: 29-byte CDOL1 (the UK demo card).
EMULATED: Final = {
    "pinsentry_uk": {CapMode.IDENTIFY, CapMode.RESPOND, CapMode.SIGN},
    "vasco_dpa": {CapMode.IDENTIFY, CapMode.RESPOND},
    "vasco_cap": set(),
    "vasco_be_payment": set(),
}


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"python-emv is required in CI: {reason}", pytrace=False)
    print(f"\npython-emv interoperability tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"python-emv unavailable: {reason}")


@pytest.fixture
def stack(pcsc_stack: PcscStack) -> PcscStack:
    if importlib.util.find_spec("emv") is None:
        _unavailable("python-emv is not installed (pip install emv, the dev extra)")
    # python-emv 1.0.14 reads the protocol constants from the connection object, which
    # pyscard >= 2.1 keeps on CardConnection only (its decorator lost them).
    from smartcard.CardConnection import CardConnection  # noqa: PLC0415
    from smartcard.CardConnectionDecorator import CardConnectionDecorator  # noqa: PLC0415

    for name in ("T0_protocol", "T1_protocol", "RAW_protocol", "T15_protocol"):
        if not hasattr(CardConnectionDecorator, name):
            setattr(CardConnectionDecorator, name, getattr(CardConnection, name))
    return pcsc_stack


def reset_card(stack: PcscStack) -> None:
    """Reset the card, as taking it out of the reader does: pcscd keeps the protocol that an
    earlier client negotiated (T=1) while the card stays powered, and python-emv insists on
    T=0 ("Card protocol mismatch")."""
    from smartcard.scard import SCARD_RESET_CARD, SCARD_SHARE_SHARED  # noqa: PLC0415
    from smartcard.System import readers  # noqa: PLC0415

    reader = next(r for r in readers() if str(r) == stack.reader)
    connection: Any = reader.createConnection()
    connection.connect(mode=SCARD_SHARE_SHARED, disposition=SCARD_RESET_CARD)
    connection.disconnect()


def python_emv_code(
    stack: PcscStack, challenge: str | None = None, amount: str | None = None
) -> str:
    """One run of python-emv's CAP client (``emvtool cap``) on the card in slot 0."""
    from emv.card import Card  # noqa: PLC0415 - optional
    from smartcard.System import readers  # noqa: PLC0415

    reader = next(r for r in readers() if str(r) == stack.reader)
    reset_card(stack)
    connection: Any = reader.createConnection()
    try:
        return str(Card(connection).generate_cap_value(PIN, challenge=challenge, value=amount))
    finally:
        connection.disconnect()


def check(world: CapWorld, card: CapCard, request: CapRequest, code: str) -> CapVerdict:
    return verify_cap(
        card,
        request,
        code,
        lockout=LockoutState(),
        now=NOW + timedelta(seconds=1),
        issuer=world.issuer,
        lockout_rules=LockoutRules(),
    )


def run_mode(stack: PcscStack, world: CapWorld, card: CapCard, mode: CapMode) -> CapVerdict:
    """python-emv computes a code in ``mode``; our verifier checks it against ``card``."""
    if mode is CapMode.IDENTIFY:
        return check(world, card, CapRequest.identify(), python_emv_code(stack))
    if mode is CapMode.RESPOND:
        challenge, _ = issue_challenge(
            card, challenge_id="c1", value="31415926", purpose="login", now=NOW
        )
        code = python_emv_code(stack, challenge="31415926")
        return check(world, card, CapRequest.respond(challenge), code)
    reference = payee_reference(PAYMENT.payee)
    code = python_emv_code(stack, challenge=reference, amount="1250.50")
    return check(world, card, CapRequest.sign(PAYMENT, known_payees=()), code)


@pytest.mark.parametrize("personalisation", list(CARDS))
def test_our_verifier_accepts_python_emv_codes_in_every_pinsentry_mode(
    stack: PcscStack, personalisation: str
) -> None:
    kind, changes = CARDS[personalisation]
    world = make_world(kind, profile="pinsentry_uk", changes=changes)
    card = world.record
    with stack.slot.inserted(world.card):
        for mode in (CapMode.IDENTIFY, CapMode.RESPOND, CapMode.SIGN):
            verdict = run_mode(stack, world, card, mode)
            assert verdict.ok, (mode, verdict.reason)
            card = verdict.card
        # the Sign code is bound to the amount: another amount is refused
        code = python_emv_code(stack, challenge=payee_reference(PAYMENT.payee), amount="1250.51")
        assert not check(world, card, CapRequest.sign(PAYMENT, known_payees=()), code).ok


@pytest.mark.parametrize("profile", sorted(SHIPPED_PROFILES))
def test_which_shipped_profiles_python_emv_emulates(stack: PcscStack, profile: str) -> None:
    assert set(EMULATED) == SHIPPED_PROFILES  # a new shipped profile must be classified here
    world = make_world("uk", profile="pinsentry_uk")
    card = world.enrol(profile)
    with stack.slot.inserted(world.card):
        for mode in (CapMode.IDENTIFY, CapMode.RESPOND, CapMode.SIGN):
            if not PROFILES[profile].supports(mode):
                assert mode not in EMULATED[profile]
                continue
            verdict = run_mode(stack, world, card, mode)
            assert verdict.ok is (mode in EMULATED[profile]), (mode, verdict.reason)
            card = verdict.card


def test_emvtool_command_line_signs(stack: PcscStack, capsys: pytest.CaptureFixture[str]) -> None:
    """The ``emvtool`` entry point itself, as a user would run it, for a card whose IAF asks
    for amount and currency (the case the ``pinsentry_uk`` profile used to get wrong)."""
    from emv.command.client import cli  # noqa: PLC0415
    from smartcard.System import readers  # noqa: PLC0415

    index = [str(r) for r in readers()].index(stack.reader)
    world = make_world("uk", profile="pinsentry_uk", changes={"iaf": 0x80})
    reference = payee_reference(PAYMENT.payee)
    with stack.slot.inserted(world.card):
        reset_card(stack)
        argv = ["-r", str(index), "-p", PIN, "cap", "-c", reference, "-a", "1250.50"]
        cli.main(argv, obj={}, standalone_mode=False)
        gc.collect()  # emvtool never disconnects: let pyscard do it while pcscd runs
    code = capsys.readouterr().out.strip()
    assert code.isdigit()
    assert check(world, world.record, CapRequest.sign(PAYMENT, known_payees=()), code).ok
