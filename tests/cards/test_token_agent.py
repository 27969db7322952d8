"""``securebox token agent`` as a process in front of a real SoftHSM2 token: a challenge
issued by the portal (``Securebox``), signed through ``POST /sign`` after the PIN, opens a
strong session through the library's certificate login; what a hostile page or a rebound
DNS name sends is refused before any PIN is asked; a wrong PIN is a typed problem.

The SoftHSM2 fixture is the one of ``test_pkcs11_softhsm.py`` (skips without softhsm2 or
python-pkcs11, fails in CI).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Final

import pytest

from securebox_auth import CertificateAnswer, CertificateSettings, LoginState, Securebox
from securebox_auth.cards.agent_rules import Portals, read_payload
from securebox_auth.factors.certificate import issue_cert_challenge, new_nonce
from securebox_auth.lockout.rules import Element
from tests.cards.agent_support import ORIGIN, Agent, b64decode, portal, start_agent
from tests.cards.test_pkcs11_softhsm import (  # the module's SoftHSM2 token fixture
    LABEL,
    PIN,
    SOFTHSM_MODULE,
    Token,
    token,
)
from tests.shell.portal import CLIENT, T0, user

__all__ = ["token"]

OTHER_ORIGIN: Final = "https://evil.example"


@pytest.fixture(scope="module")
def agent(token: Token) -> Iterator[Agent]:
    running = start_agent(["--module", str(SOFTHSM_MODULE), "--token", LABEL])
    yield running
    console = running.stop()
    assert PIN not in console  # never the PIN ...
    assert "/sign" not in console  # ... nor request lines, only a digest of the challenge
    assert "signed challenge sha256:" in console
    assert "The page https://portal.example.test asks to sign: login" in console


@pytest.fixture
def box(token: Token) -> Securebox:
    return portal(token.credential, CertificateSettings(token.trust, token.revocation))


def test_a_challenge_signed_by_the_agent_opens_a_strong_session(
    agent: Agent, box: Securebox, token: Token
) -> None:
    status, _, document = agent.request("GET", "/certificate")
    assert status == 200
    assert b64decode(document["certificate"]) == token.credential.der
    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    agent.pin(PIN)
    status, answer = agent.sign(challenge.payload())
    assert status == 200, answer
    signature = b64decode(answer["signature"])
    assert b64decode(answer["certificate"]) == token.credential.der
    page = box.answer_login(page.handle, CertificateAnswer(challenge.challenge_id, signature))
    assert page.done, page.explain()
    assert page.session_id is not None
    assert box.live_session(page.session_id).value.strong


def test_a_wrong_pin_is_a_typed_problem_and_the_login_fails(agent: Agent, box: Securebox) -> None:
    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    agent.pin("000000")
    status, problem = agent.sign(challenge.payload())
    assert status == 403
    assert problem["code"] == "token_wrong_pin"
    assert problem["type"] == "tag:securebox,2026:problem:token_wrong_pin"
    # SoftHSM2 flags CKF_USER_PIN_COUNT_LOW after a wrong PIN but never counts down to a
    # block: the number of tries left is unknown, not invented
    assert (problem["pin_status"], problem["tries_left"]) == ("count_low", None)
    agent.pin("")  # an empty PIN: the user refused
    status, problem = agent.sign(challenge.payload())
    assert (status, problem["code"]) == (403, "agent_user_declined")
    # nothing signed: a made-up signature is refused and counted by the portal
    page = box.answer_login(page.handle, CertificateAnswer(challenge.challenge_id, b"\x30\x00"))
    assert page.state is not LoginState.DONE
    assert box.store.get_lockout(user(1)).value.series(Element.CERTIFICATE).failures == 1


def _challenge(audience: str = ORIGIN) -> bytes:
    challenge, _ = issue_cert_challenge(
        user(1), challenge_id="c", nonce=new_nonce(), purpose="login", audience=audience, now=T0
    )
    return challenge.payload()


def test_hostile_requests_are_refused_before_any_pin(agent: Agent) -> None:
    """No PIN is written here: had the agent asked one, the request would hang."""
    ok = json.dumps({"challenge": "AAAA"}).encode()
    status, headers, problem = agent.request("POST", "/sign", ok, origin=OTHER_ORIGIN)
    assert (status, problem["code"]) == (403, "agent_origin_refused")
    assert "access-control-allow-origin" not in headers
    status, _, problem = agent.request("POST", "/sign", ok, origin=None)
    assert (status, problem["code"]) == (403, "agent_origin_refused")
    # DNS rebinding: the page's origin is allowed but the Host is the attacker's name
    status, _, problem = agent.request("GET", "/certificate", host=f"evil.example:{agent.port}")
    assert (status, problem["code"]) == (421, "agent_host_refused")
    status, _, problem = agent.request("GET", "/certificate", host=f"127.0.0.1:{agent.port + 1}")
    assert status == 421
    # a challenge of another portal, relayed by an allowed page
    status, problem = agent.sign(_challenge("https://other-bank.example"))
    assert (status, problem["code"]) == (403, "agent_audience_refused")
    status, problem = agent.sign(b"not a challenge")
    assert (status, problem["code"]) == (400, "malformed_input")
    big = json.dumps({"challenge": "A" * 9000}).encode()
    status, _, problem = agent.request("POST", "/sign", big)
    assert (status, problem["code"]) == (413, "agent_body_too_large")
    status, _, problem = agent.request("POST", "/sign", b"[1]")
    assert (status, problem["code"]) == (400, "agent_body_refused")
    deep = b"[" * 8000 + b"]" * 8000  # deeper than the JSON parser recurses
    status, _, problem = agent.request("POST", "/sign", deep[:8192])
    assert (status, problem["code"]) == (400, "agent_body_refused")
    status, _, problem = agent.request("POST", "/sign", ok, headers={"Content-Type": "text/plain"})
    assert status == 400
    status, _, problem = agent.request("GET", "/elsewhere")
    assert status == 404


def test_preflight_answers_configured_portals_only(agent: Agent) -> None:
    asks = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true",
    }
    status, headers, _ = agent.request("OPTIONS", "/sign", headers=asks)
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-private-network"] == "true"
    assert headers["access-control-allow-methods"] == "GET, POST"
    assert "access-control-allow-credentials" not in headers
    status, headers, _ = agent.request("OPTIONS", "/sign", origin=OTHER_ORIGIN, headers=asks)
    assert status == 403
    assert not any(name.startswith("access-control-") for name in headers)
    status, _, _ = agent.request(
        "OPTIONS", "/sign", headers={**asks, "Access-Control-Request-Headers": "x-pin"}
    )
    assert status == 403


def test_one_signature_at_a_time(agent: Agent, box: Securebox) -> None:
    """Two pages ask at once: one waits for its PIN, the other is refused at once."""
    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    answers: list[int] = []
    refused = threading.Event()

    def ask() -> None:
        status, _ = agent.sign(challenge.payload())
        answers.append(status)
        if status == 409:
            refused.set()

    both = [threading.Thread(target=ask) for _ in range(2)]
    for thread in both:
        thread.start()
    try:
        assert refused.wait(timeout=20)
    finally:
        agent.pin(PIN)
        for thread in both:
            thread.join(timeout=20)
    assert sorted(answers) == [200, 409]


def test_payload_view_and_portal_parsing() -> None:
    view = read_payload(_challenge())
    assert (view.client_id, view.user_number, view.purpose, view.audience) == (
        CLIENT, "01", "login", ORIGIN,
    )  # fmt: skip
    assert "https://portal.example.test asks to sign: login" in view.describe(ORIGIN)
    portals = Portals.parse(["https://portal.example.test", "http://localhost:8000=securebox"])
    assert portals.audiences == {ORIGIN: ORIGIN, "http://localhost:8000": "securebox"}
    for bad in ("portal.example.test", "https://x.example/login", "ftp://x.example", ""):
        with pytest.raises(ValueError, match="origin"):
            Portals.parse([bad])
