"""Step-up over the real pages of ``securebox serve --workers 3`` on PostgreSQL: a payee
approved with the CAP reader (Respond, bound to the operation) and a SEPA transfer approved
with a passkey, from a code-only session. What is approved is shown before the proof, a
wrong proof is refused, the grant is consumed once (the second confirmation is refused),
and the orders are recorded. Every request opens a new connection, so the pages, the proof
and the confirmation land on any of the workers."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.identity import Principal
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.server.live.conftest import LiveServer, token
from tests.server.live.material import Card, bind_card, passkey
from tests.server.live.test_live import _code_login

pytestmark = pytest.mark.slow

ORDER = re.compile(r"/operations/([A-Za-z0-9_-]+)")
CHALLENGE = re.compile(r"<dt>Challenge</dt><dd class=\"bound\">([0-9]+)</dd>")
CAP_FIELDS = re.compile(r'name="(ceremony|card|mode)" value="([^"]*)"')
IBAN = "FR7630006000011234567890189"
PAYEE_IBAN = "DE89370400440532013000"
TRANSFER = {"amount": "1250.50", "name": "Dupont SARL", "iban": IBAN, "reference": "F-42"}
EN = {"Accept-Language": "en"}


def _logged_in(live: LiveServer, browser: httpx.Client) -> Principal:
    principal, _, _ = live.user()
    assert _code_login(browser, principal).headers["location"] == "/home"
    sessions = live.box.sessions_of(principal)
    assert len(sessions) == 1
    assert not sessions[0][1].strong  # a code-only session: each operation asks a proof
    return principal


def _enter(browser: httpx.Client, path: str, data: dict[str, str]) -> tuple[str, str]:
    form = browser.get(path)
    assert form.status_code == 200, form.text
    sent = browser.post(path, data={**data, "csrf_token": token(form.text)}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    found = ORDER.fullmatch(sent.headers["location"])
    assert found is not None
    page = browser.get(sent.headers["location"], headers=EN)
    assert page.status_code == 200, page.text
    assert f"/operations/{found.group(1)}/execute" not in page.text  # no proof yet
    return found.group(1), page.text


def _cap_proof(browser: httpx.Client, order: str, card: Card, digits: str | None = None) -> int:
    page = browser.get(f"/operations/{order}/proof/cap_sign", headers=EN)
    assert page.status_code == 200, page.text
    shown = CHALLENGE.search(page.text)
    assert shown is not None, page.text
    code = card.code(TerminalInput.respond(digits or shown.group(1)))
    sent = browser.post(
        f"/operations/{order}/proof/cap_sign",
        data={**dict(CAP_FIELDS.findall(page.text)), "code": code, "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    return sent.status_code


def passkey_proof(
    browser: httpx.Client, order: str, device: SoftAuthenticator
) -> tuple[str, httpx.Response]:
    """The passkey proof of ``order`` given with ``device``: the proof page's text and the
    answer to the proof."""
    proof = browser.get(f"/operations/{order}/proof/passkey_uv", headers=EN)
    assert proof.status_code == 200, proof.text
    options = re.search(r'data-options="([^"]+)"', proof.text)
    ceremony = re.search(r'name="ceremony" value="([^"]+)"', proof.text)
    assert options is not None
    assert ceremony is not None
    response = device.get(json.loads(html.unescape(options.group(1))))
    sent = browser.post(
        f"/operations/{order}/proof/passkey_uv",
        data={"ceremony": ceremony.group(1), "response": json.dumps(response),
              "csrf_token": token(proof.text)},
        follow_redirects=False,
    )  # fmt: skip
    return proof.text, sent


def _execute(browser: httpx.Client, order: str) -> httpx.Response:
    page = browser.get(f"/operations/{order}", headers=EN)
    return browser.post(
        f"/operations/{order}/execute", data={"csrf_token": token(page.text)}, headers=EN
    )


def test_a_payee_approved_with_the_cap_reader_once(live: LiveServer) -> None:
    with live.browser() as browser:
        principal = _logged_in(live, browser)
        card = bind_card(live.box, principal, live.home / f"payee-{principal.client_id.value}.json",
                         "payee-card")  # fmt: skip
        order, page = _enter(browser, "/payees/new", {"name": "Muller GmbH", "iban": PAYEE_IBAN})
        assert "Muller GmbH" in page
        assert f"/operations/{order}/proof/cap_sign" in page
        assert _cap_proof(browser, order, card, digits="12345678") == 401  # other digits
        assert _cap_proof(browser, order, card) == 303
        done = _execute(browser, order)
        assert done.status_code == 200, done.text
        assert PAYEE_IBAN in browser.get("/payees").text
        again = _execute(browser, order)
        assert again.status_code == 409  # the grant was consumed: not run a second time


def test_a_sepa_transfer_approved_with_a_passkey_once(live: LiveServer) -> None:
    with live.browser() as browser:
        principal = _logged_in(live, browser)
        device = passkey(live.box, principal, live.public_url)
        order, page = _enter(browser, "/transfers/new", TRANSFER)
        assert "1250.50 EUR" in page
        assert "Dupont SARL" in page
        before = browser.cookies.get("__Host-sb-session") or browser.cookies.get("sb-session")
        shown, sent = passkey_proof(browser, order, device)
        assert "1250.50 EUR" in shown  # shown again where the proof is given
        assert sent.status_code == 303, sent.text
        after = browser.cookies.get("__Host-sb-session") or browser.cookies.get("sb-session")
        assert after != before  # rotated at the change of level
        done = _execute(browser, order)
        assert done.status_code == 200, done.text
        assert "1250.50 EUR" in done.text
        again = _execute(browser, order)
        assert again.status_code == 409
        assert "Done" in browser.get("/orders", headers=EN).text
    assert len(live.workers_that_served()) >= 2
