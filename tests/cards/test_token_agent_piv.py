"""``securebox token agent`` with the software PIV card through pcscd + vpcd + OpenSC: a
wrong PIN is counted by the card and reported with the tries it has left, the right one
signs a challenge the portal accepts as a smart-card login (``smartcard_pin``).

Uses the shared PC/SC fixture; skips without OpenSC or python-pkcs11 (fails in CI).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from securebox_auth import CertificateAnswer, CertificateSettings
from securebox_auth.factors.certificate import enrol_certificate, issue_cert_challenge, new_nonce
from tests.cards.agent_support import ORIGIN, Agent, b64decode, portal, start_agent
from tests.cards.conftest import PIV_PIN, PcscStack
from tests.cards.test_piv_pcsc import OPENSC_MODULE, Piv, _unavailable, piv
from tests.shell.portal import CLIENT, T0, user

__all__ = ["piv"]


@pytest.fixture(scope="module")
def agent(pcsc_stack: PcscStack) -> Iterator[Agent]:
    """One agent for the module (OpenSC takes about a second to start); each test's ``piv``
    fixture unblocks the card."""
    if not OPENSC_MODULE.exists():
        _unavailable("opensc is not installed (apt-get install opensc)")
    running = start_agent(["--module", str(OPENSC_MODULE), "--slot", pcsc_stack.blank_reader])
    yield running
    assert PIV_PIN not in running.stop()


def test_the_card_signs_through_the_agent_after_a_wrong_pin(agent: Agent, piv: Piv) -> None:
    settings = CertificateSettings(piv.trust, piv.revocation)
    credential, _ = enrol_certificate(
        user(1),
        piv.credential.certificate.public_bytes(Encoding.DER),
        intermediates=[piv.stack.piv_pki.intermediate.der],
        trust=settings.trust,
        revocation=settings.revocation,
        now=T0,
    )
    box = portal(credential, settings)
    card = piv.stack.piv
    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    agent.pin("000000")
    status, problem = agent.sign(challenge.payload())
    assert (status, problem["code"]) == (403, "token_wrong_pin")
    assert card.tries_left == 2  # counted by the card itself
    # OpenSC's PIV driver raises no "count low" flag: two tries left is not said
    assert (problem["pin_status"], problem["tries_left"]) == (None, None)
    agent.pin(PIV_PIN)
    status, answer = agent.sign(challenge.payload())
    assert status == 200, answer
    assert card.tries_left == 3
    assert b64decode(answer["certificate"]) == credential.der
    signature = b64decode(answer["signature"])
    answered = CertificateAnswer(challenge.challenge_id, signature, smartcard=True)
    page = box.answer_login(page.handle, answered)
    assert page.done, page.explain()
    assert page.session_id is not None
    assert box.live_session(page.session_id).value.strong


def test_the_last_try_and_the_blocked_card_are_reported(agent: Agent, piv: Piv) -> None:
    card = piv.stack.piv
    box_payload = _payload()
    said = []
    for _ in range(card.tries_left - 1):
        status, problem = agent.sign_after_pin("000000", box_payload)
        said.append((status, card.tries_left, problem["pin_status"], problem["tries_left"]))
    # OpenSC flags CKF_USER_PIN_FINAL_TRY when one try is left: the user is warned
    assert said == [(403, 2, None, None), (403, 1, "final_try", 1)]
    status, problem = agent.sign_after_pin("000000", box_payload)
    assert card.blocked
    assert (status, problem["code"], problem["tries_left"]) == (403, "token_wrong_pin", 0)
    status, problem = agent.sign_after_pin(PIV_PIN, box_payload)
    assert (status, problem["code"]) == (423, "token_pin_locked")


def _payload() -> bytes:
    challenge, _ = issue_cert_challenge(
        user(1), challenge_id="b", nonce=new_nonce(), purpose="login", audience=ORIGIN, now=T0
    )
    return challenge.payload()
