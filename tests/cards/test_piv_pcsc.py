"""The software PIV card through pcscd and OpenSC: pkcs11-tool lists it, python-pkcs11 with
``opensc-pkcs11.so`` logs in and signs a certificate challenge that the server verifies;
wrong PIN and the card's own PIN blocking; a challenge replayed or for another user.

Uses the shared PC/SC fixture (one pcscd per machine, under its lock). Without OpenSC or
python-pkcs11 the tests skip with the reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from securebox_auth.factors.certificate import (
    CertChallenge,
    CertCredential,
    CertFailure,
    CertVerdict,
    Revocation,
    enrol_certificate,
    issue_cert_challenge,
    new_nonce,
    verify_cert_challenge,
)
from securebox_auth.factors.methods import SMARTCARD_PIN
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from tests.cards.capworld import NOW
from tests.cards.conftest import PIV_PIN, PcscStack

if TYPE_CHECKING:
    from securebox_auth.cards.pkcs11_client import TokenSelector

OPENSC_MODULE: Final = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
P: Final = Principal.parse("123456789", "01")
OTHER: Final = Principal.parse("123456789", "02")
AUD: Final = "https://portal.example.test"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"OpenSC is required in CI: {reason}", pytrace=False)
    print(f"\nPIV card tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"OpenSC unavailable: {reason}")


@dataclass
class Piv:
    stack: PcscStack
    credential: CertCredential
    trust: TrustSettings
    revocation: Revocation


@pytest.fixture
def piv(pcsc_stack: PcscStack) -> Iterator[Piv]:
    if not OPENSC_MODULE.exists() or shutil.which("pkcs11-tool") is None:
        _unavailable("opensc is not installed (apt-get install opensc)")
    if importlib.util.find_spec("pkcs11") is None:
        _unavailable("python-pkcs11 is not installed (pip install python-pkcs11)")
    pki = pcsc_stack.piv_pki
    pcsc_stack.piv.unblock()
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
    revocation = Revocation(crls=crls)
    from securebox_auth.cards.pkcs11_client import read_certificate  # noqa: PLC0415

    certificate = read_certificate(_selector(pcsc_stack))
    credential, _ = enrol_certificate(
        P,
        certificate.public_bytes(Encoding.DER),
        intermediates=[pki.intermediate.der],
        trust=trust,
        revocation=revocation,
        now=NOW,
    )
    yield Piv(pcsc_stack, credential, trust, revocation)
    pcsc_stack.piv.unblock()


def _selector(stack: PcscStack) -> TokenSelector:
    from securebox_auth.cards.pkcs11_client import TokenSelector  # noqa: PLC0415

    return TokenSelector(module=str(OPENSC_MODULE), slot_description=stack.blank_reader)


def _verify(
    piv: Piv, challenge: CertChallenge | None, signature: bytes, principal: Principal = P
) -> CertVerdict:
    return verify_cert_challenge(
        piv.credential,
        challenge,
        LockoutState(),
        principal,
        signature,
        purpose="login",
        audience=AUD,
        trust=piv.trust,
        revocation=piv.revocation,
        now=NOW + timedelta(seconds=2),
        lockout_rules=LockoutRules(),
        method=SMARTCARD_PIN,
    )


def test_pkcs11_tool_lists_the_card(piv: Piv) -> None:
    tool = shutil.which("pkcs11-tool")
    assert tool is not None
    listed = subprocess.run(  # noqa: S603 - fixed arguments
        [tool, "--module", str(OPENSC_MODULE), "--list-slots"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "PIV" in listed.stdout, listed.stdout


def test_card_signs_a_challenge_the_server_accepts(piv: Piv) -> None:
    from securebox_auth.cards.pkcs11_client import sign_challenge  # noqa: PLC0415

    challenge, _ = issue_cert_challenge(
        P, challenge_id="piv-1", nonce=new_nonce(), purpose="login", audience=AUD, now=NOW
    )
    signed = sign_challenge(challenge.payload(), PIV_PIN, _selector(piv.stack))
    assert signed.certificate == piv.credential.certificate
    verdict = _verify(piv, challenge, signed.signature)
    assert verdict.ok, verdict.reason
    assert verdict.method is SMARTCARD_PIN
    replay = _verify(piv, verdict.challenge, signed.signature)
    assert replay.reason is CertFailure.CHALLENGE_USED
    # a challenge issued for another user is refused even with a good signature
    theirs, _ = issue_cert_challenge(
        OTHER, challenge_id="piv-2", nonce=new_nonce(), purpose="login", audience=AUD, now=NOW
    )
    signed = sign_challenge(theirs.payload(), PIV_PIN, _selector(piv.stack))
    assert _verify(piv, theirs, signed.signature).reason is CertFailure.WRONG_BINDING


def test_wrong_pin_then_the_card_blocks(piv: Piv) -> None:
    from securebox_auth.cards.pkcs11_client import PinLocked, WrongPin, sign_challenge  # noqa: PLC0415

    card = piv.stack.piv
    selector = _selector(piv.stack)
    with pytest.raises(WrongPin):
        sign_challenge(b"payload", "000000", selector)
    assert card.tries_left == 2
    # the right PIN resets the counter, as on a real card
    sign_challenge(b"payload", PIV_PIN, selector)
    assert card.tries_left == 3
    for _ in range(2):
        with pytest.raises(WrongPin):
            sign_challenge(b"payload", "000000", selector)
    # the wrong PIN that uses the last try is CKR_PIN_INCORRECT (the card answers 63C0),
    # not CKR_PIN_LOCKED: only the next attempt learns that the PIN is blocked
    with pytest.raises(WrongPin):
        sign_challenge(b"payload", "000000", selector)
    assert card.blocked
    with pytest.raises(PinLocked):
        sign_challenge(b"payload", "000000", selector)
    # blocked: even the right PIN is refused, by the card itself
    with pytest.raises(PinLocked):
        sign_challenge(b"payload", PIV_PIN, selector)
    assert card.blocked


def _pkcs11_tool_login(stack: PcscStack, pin: str) -> str:
    tool = shutil.which("pkcs11-tool")
    assert tool is not None
    run = subprocess.run(  # noqa: S603 - fixed arguments (a test PIN)
        [
            tool, "--module", str(OPENSC_MODULE), "--slot-description", stack.blank_reader,
            "--login", "--pin", pin, "--list-objects", "--type", "privkey",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    return run.stdout + run.stderr


def test_pkcs11_tool_wrong_pin_sequence_is_incorrect_until_blocked(piv: Piv) -> None:
    """OpenSC's own return values, as an application sees them: CKR_PIN_INCORRECT for every
    wrong PIN including the one that uses the last try, then CKR_PIN_LOCKED."""
    card = piv.stack.piv
    seen = []
    for _ in range(card.tries_left):
        out = _pkcs11_tool_login(piv.stack, "000000")
        seen.append("CKR_PIN_INCORRECT" if "CKR_PIN_INCORRECT" in out else out)
    assert seen == ["CKR_PIN_INCORRECT"] * 3
    assert card.blocked
    for pin in ("000000", PIV_PIN):
        assert "CKR_PIN_LOCKED" in _pkcs11_tool_login(piv.stack, pin)
