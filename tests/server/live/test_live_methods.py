"""Every login method through the real forms of ``securebox serve --workers 3`` on
PostgreSQL (:mod:`tests.server.live.conftest`): CAP Identify and Respond (codes computed by
the software card in the reader emulator), the 90-day prompt completed by a code sent by
e-mail (a real aiosmtpd) and by SMS (a real webhook), by CAP and by a passkey (the library's
software authenticator answering the page's options), and the certificate through the real
signing agent (``securebox token agent``) in front of a SoftHSM2 token. Each login ends on
the home page showing the user and the methods, and the session stored at its level."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.methods import page_of
from securebox_server.settings import load_settings
from securebox_server.wiring import build_securebox
from tests.cards.agent_support import Agent, b64decode, start_agent
from tests.cards.test_pkcs11_softhsm import LABEL, PIN, SOFTHSM_MODULE
from tests.server.live.conftest import LiveServer, token
from tests.server.live.material import Card, SoftToken, bind_card, passkey
from tests.server.live.piv import BLANK_READER, OPENSC_MODULE, PIV_PIN, piv_stack
from tests.server.live.test_live import _answer, _code_login, _start
from tests.server.methods.conftest import EMAIL, PHONE

pytestmark = pytest.mark.slow

CHALLENGE = re.compile(r'id="challenge"[^>]*>([0-9]{8})<')
CHALLENGE_ID = re.compile(r'name="challenge_id" value="([A-Za-z0-9_-]+)"')
OPTIONS = re.compile(r'data-options="([^"]*)"')
CEREMONY = re.compile(r'name="ceremony" value="([^"]*)"')
HIDDEN = re.compile(r'name="(challenge|target)" value="([^"]*)"')
DATA_CHALLENGE = re.compile(r'data-challenge="([^"]*)"')


def home_shows(
    live: LiveServer, browser: httpx.Client, principal: Principal, *methods: str
) -> None:
    """The home page (any worker) names the user and the methods; the stored session is
    strong (its level), and only that one is open."""
    home = browser.get("/home", headers={"Accept-Language": "en"}, follow_redirects=False)
    assert home.status_code == 200, home.text
    assert principal.key in home.text
    used = re.search(r"<dt>Methods used</dt><dd>([^<]*)</dd>", home.text)
    assert used is not None, home.text
    for method in methods:  # the page shows each method by its login page's label
        page = page_of(method)
        assert (page.label if page else method) in used.group(1), used.group(1)
    sessions = live.box.sessions_of(principal)
    assert len(sessions) == 1
    assert sessions[0][1].strong


def _cap_user(live: LiveServer, **kwargs: Any) -> tuple[Principal, Card]:
    principal, _, _ = live.user(**kwargs)
    card = bind_card(live.box, principal, live.home / f"{principal.key.replace('/', '-')}.json",
                     f"card-{principal.client_id.value}")  # fmt: skip
    return principal, card


def _cap_identify(browser: httpx.Client, card: Card) -> httpx.Response:
    return _answer(browser, "/login/cap", code=card.code(TerminalInput.identify()))


def _cap_respond(browser: httpx.Client, card: Card) -> httpx.Response:
    page = browser.get("/login/cap/respond")
    assert page.status_code == 200, page.text
    digits, challenge_id = CHALLENGE.search(page.text), CHALLENGE_ID.search(page.text)
    assert digits is not None, page.text
    assert challenge_id is not None, page.text
    form = {
        "code": card.code(TerminalInput.respond(digits.group(1))),
        "challenge_id": challenge_id.group(1),
        "csrf_token": token(page.text),
    }
    return browser.post("/login/cap/respond", data=form, follow_redirects=False)


def _passkey(browser: httpx.Client, device: SoftAuthenticator) -> httpx.Response:
    page = browser.get("/login/passkey")
    assert page.status_code == 200, page.text
    options, ceremony = OPTIONS.search(page.text), CEREMONY.search(page.text)
    assert options is not None, page.text
    assert ceremony is not None, page.text
    credential = device.get(json.loads(html.unescape(options.group(1))))
    form = {"ceremony": ceremony.group(1), "credential": json.dumps(credential)}
    return browser.post(
        "/login/passkey", data={**form, "csrf_token": token(page.text)}, follow_redirects=False
    )


def test_cap_identify_login(live: LiveServer) -> None:
    principal, card = _cap_user(live)
    with live.browser() as browser:
        assert _start(browser, principal).status_code == 303
        wrong = _answer(browser, "/login/cap", code="12345678")
        assert wrong.status_code in (400, 401)
        done = _cap_identify(browser, card)
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal, "cap_identify")


def test_cap_respond_login(live: LiveServer) -> None:
    principal, card = _cap_user(live)
    with live.browser() as browser:
        assert _start(browser, principal).status_code == 303
        done = _cap_respond(browser, card)
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal, "cap_respond")


def _overdue(live: LiveServer) -> Principal:
    principal, _, _ = live.user(strong_at=live.box.clock.now() - timedelta(days=91))
    return principal


def _prompted(live: LiveServer, browser: httpx.Client, principal: Principal, path: str) -> None:
    asked = _code_login(browser, principal)
    assert asked.headers["location"] == "/login/strong"
    prompt = browser.get("/login/strong")
    assert path in prompt.text, prompt.text


def test_the_90_day_prompt_completed_with_cap(live: LiveServer) -> None:
    principal, card = _cap_user(live, strong_at=live.box.clock.now() - timedelta(days=91))
    with live.browser() as browser:
        _prompted(live, browser, principal, "/login/cap")
        done = _cap_identify(browser, card)
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal, "confidential_code", "cap_identify")
    with live.browser() as later:  # renewed: the code alone is enough now
        assert _code_login(later, principal).headers["location"] == "/home"


def test_passkey_login_and_the_90_day_prompt_completed_with_a_passkey(live: LiveServer) -> None:
    principal = _overdue(live)
    device = passkey(live.box, principal, live.public_url)
    with live.browser() as browser:
        _prompted(live, browser, principal, "/login/passkey")
        done = _passkey(browser, device)
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal, "confidential_code", "passkey_uv")
        home = browser.get("/home")
        out = browser.post("/logout", data={"csrf_token": token(home.text)})
        assert out.status_code < 400
    other = SoftAuthenticator(origin="http://evil.localhost", rp_id="localhost")
    other.credential_id, other.key = device.credential_id, device.key
    with live.browser() as browser:  # a passkey alone, from the method choice
        assert _start(browser, principal).status_code == 303
        assert 'href="/login/passkey"' in browser.get("/login/method").text
        assert _passkey(browser, other).status_code == 401  # signed for another origin
        done = _passkey(browser, device)
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal, "passkey_uv")  # a passkey alone is strong


def _enrol_destination(live: LiveServer, principal: Principal, channel: Channel, to: str) -> None:
    """Verified the library's way (a code sent there came back), on a clock two hours back
    so that the hourly send throttle leaves the login's send alone."""
    settings = load_settings({}, live.home / "settings.toml")  # the CRLs are not current
    settings = dataclasses.replace(settings, certificate_anchors=None, certificate_crls=())
    earlier = FixedClock(live.box.clock.now() - timedelta(hours=2))
    # Its own mark: the shared one (ADR 0042) would hold this clock at the server's time.
    box = build_securebox(settings, clock=MonotonicClock(earlier), argon2=PROFILE_TESTING)
    try:
        oob = box.factors.oob
        outbox = FileOutbox(live.home / "enrolment.jsonl")
        issued = oob.issue(
            principal, channel=channel, destination=to, purpose=ENROL_PURPOSE,
            reference=keyed_destination_key(oob.keys, channel, to), gateway=outbox,
            code="246810",
        )  # fmt: skip
        assert issued.challenge is not None
        done = oob.confirm_destination(
            principal, issued.challenge.id, "246810", channel=channel, destination=to
        )
        assert done.ok
    finally:
        box.store.engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_the_90_day_prompt_completed_with_a_code_by_message(
    live: LiveServer, channel: Channel
) -> None:
    principal = _overdue(live)
    to = EMAIL if channel is Channel.EMAIL else PHONE
    _enrol_destination(live, principal, channel, to)
    path = f"/login/{channel.value}"
    with live.browser() as browser:
        _prompted(live, browser, principal, path)
        page = browser.get(path)
        assert page.status_code == 200, page.text
        target = HIDDEN.findall(page.text)
        sent = browser.post(f"{path}/send", data={**dict(target), "csrf_token": token(page.text)})
        assert sent.status_code == 200, sent.text
        assert to not in sent.text  # masked
        if channel is Channel.EMAIL:
            assert live.mailbox is not None
            code = live.mailbox.last_code(to)
        else:
            assert live.sms is not None
            code = live.sms.last_code(to)
        wrong = "000000" if code != "000000" else "111111"
        fields = dict(HIDDEN.findall(sent.text))
        refused = browser.post(
            path, data={**fields, "code": wrong, "csrf_token": token(sent.text)},
            follow_redirects=False,
        )  # fmt: skip
        assert refused.status_code in (400, 401)
        done = browser.post(
            path, data={**fields, "code": code, "csrf_token": token(sent.text)},
            follow_redirects=False,
        )  # fmt: skip
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal, "confidential_code", channel.method.name)


def _agent(token_args: list[str], live: LiveServer, conf: Path | None = None) -> Agent:
    """``securebox token agent`` for the live server's origin (``SOFTHSM2_CONF``: ``conf``)."""
    old = os.environ.get("SOFTHSM2_CONF")
    if conf is not None:
        os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        return start_agent(token_args, origins=(live.public_url,))
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old


def _certificate_login(
    live: LiveServer, agent: Agent, principal: Principal, pin: str, *, wrong: str = ""
) -> None:
    """The page's challenge signed by the agent (after ``wrong``, a wrong PIN, if any) and
    posted in the page's form as ``static/js/certificate.js`` does."""
    with live.browser() as browser:
        assert _start(browser, principal).status_code == 303
        page = browser.get("/login/certificate")
        assert page.status_code == 200, page.text
        payload = DATA_CHALLENGE.search(page.text)
        challenge = re.search(r'name="challenge" value="([^"]*)"', page.text)
        assert payload is not None, page.text
        assert challenge is not None, page.text
        data = b64decode(html.unescape(payload.group(1)))
        if wrong:
            agent.pin(wrong)
            status, problem = agent.sign(data, origin=live.public_url)
            assert (status, problem["code"]) == (403, "token_wrong_pin")
        agent.pin(pin)
        status, signed = agent.sign(data, origin=live.public_url)
        assert status == 200, signed
        form = {
            "challenge": challenge.group(1),
            "signature": str(signed["signature"]),
            "certificate": str(signed["certificate"]),
            "csrf_token": token(page.text),
        }
        done = browser.post("/login/certificate", data=form, follow_redirects=False)
        assert done.headers.get("location") == "/home", done.text
        home_shows(live, browser, principal)


def test_certificate_login_through_the_signing_agent_and_softhsm(live: LiveServer) -> None:
    if not isinstance(live.token, SoftToken):
        if os.environ.get("CI") == "true":
            pytest.fail(f"SoftHSM2 is required in CI: {live.token}", pytrace=False)
        pytest.skip(f"no SoftHSM2 token: {live.token}")
    principal, _, _ = live.user()
    live.token.enrol(live.box, principal)
    agent = _agent(["--module", str(SOFTHSM_MODULE), "--token", LABEL], live, live.token.conf)
    try:
        _certificate_login(live, agent, principal, PIN)
        assert _methods_used(live, principal) == ["certificate"]
    finally:
        assert PIN not in agent.stop()


def test_certificate_login_with_the_piv_card_through_pcscd_and_opensc(
    live: LiveServer, tmp_path: Path
) -> None:
    assert live.piv is not None
    principal, _, _ = live.user()
    pki = live.piv.pki
    now = datetime.now(UTC)
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
    credential, _ = enrol_certificate(
        principal, live.piv.user.pem, intermediates=[pki.intermediate.pem], trust=trust,
        revocation=Revocation(crls=crls), now=now,
    )  # fmt: skip
    live.box.factors.put_state(
        principal, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential)
    )
    with piv_stack(tmp_path, live.piv) as card:
        agent = _agent(["--module", str(OPENSC_MODULE), "--slot", BLANK_READER], live)
        try:
            _certificate_login(live, agent, principal, PIV_PIN, wrong="000000")
            assert card.tries_left == 3  # the right PIN reset the card's counter
        finally:
            assert PIV_PIN not in agent.stop()
    # the page cannot tell a card from another token: the proof is "certificate"
    assert _methods_used(live, principal) == ["certificate"]


def _methods_used(live: LiveServer, principal: Principal) -> list[str]:
    ((_, session),) = live.box.sessions_of(principal)
    return [proof.method for proof in session.proofs]
