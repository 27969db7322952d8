"""Passkey login through the real pages: the options the page gives are answered by the
library's software authenticator and posted back in the page's form."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from fastapi.testclient import TestClient

from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.web.middleware import CSP
from tests.server.conftest import AppMaker, identify, open_user, token

URL = "https://bank.example"
OPTIONS = re.compile(r'data-options="([^"]*)"')
CEREMONY = re.compile(r'name="ceremony" value="([^"]*)"')


def enrol(box: Securebox, principal: Principal) -> SoftAuthenticator:
    device = SoftAuthenticator(origin=URL, rp_id="bank.example")
    options, ceremony = box.factors.passkeys.begin_registration(
        principal, user_name=principal.key, display_name="Demo user"
    )
    assert box.factors.passkeys.finish_registration(
        principal, ceremony.id, device.create(options)
    ).ok
    return device


def page_options(text: str) -> tuple[dict[str, Any], str]:
    found, ceremony = OPTIONS.search(text), CEREMONY.search(text)
    assert found is not None, text
    assert ceremony is not None, text
    options: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return options, ceremony.group(1)


def answer(client: TestClient, page_text: str, credential: dict[str, Any]):  # type: ignore[no-untyped-def]
    _, ceremony = page_options(page_text)
    form = {"ceremony": ceremony, "credential": json.dumps(credential)}
    return client.post(
        "/login/passkey", data={**form, "csrf_token": token(page_text)}, follow_redirects=False
    )


def test_a_passkey_opens_a_strong_session(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url=URL)
    principal, _ = open_user(box)
    device = enrol(box, principal)
    identify(client)
    choice = client.get("/login/method")
    assert 'href="/login/passkey"' in choice.text
    page = client.get("/login/passkey")
    assert page.status_code == 200
    assert '<script src="/static/js/passkey.js" defer></script>' in page.text
    assert "<script>" not in page.text
    assert '<noscript><p class="warning">' in page.text  # without scripts, the page says so
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith(CSP)
    options, _ = page_options(page.text)
    assert options["publicKey"]["rpId"] == "bank.example"
    done = answer(client, page.text, device.get(options))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"
    sessions = box.sessions_of(principal)
    assert len(sessions) == 1
    assert sessions[0][1].strong
    assert client.get("/home").status_code == 200


def test_a_wrong_assertion_is_refused_and_a_fresh_ceremony_offered(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url=URL)
    principal, _ = open_user(box)
    device = enrol(box, principal)
    identify(client)
    page = client.get("/login/passkey")
    options, first = page_options(page.text)
    other = SoftAuthenticator(origin="https://evil.example", rp_id="bank.example")
    other.credential_id, other.key = device.credential_id, device.key
    refused = answer(client, page.text, other.get(options))  # signed for another origin
    assert refused.status_code == 401
    assert 'role="alert"' in refused.text
    assert 'href="#passkey-submit"' in refused.text
    _, second = page_options(refused.text)
    assert second != first
    # the consumed ceremony cannot be replayed, even with a good assertion
    replayed = answer(client, page.text, device.get(options))
    assert replayed.status_code == 401
    fresh, _ = page_options(replayed.text)
    done = answer(client, replayed.text, device.get(fresh))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"


def test_an_empty_or_oversized_form_is_a_clear_400(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url=URL)
    open_user(box)
    identify(client)
    page = client.get("/login/passkey")
    empty = client.post("/login/passkey", data={"csrf_token": token(page.text)})
    assert empty.status_code == 400
    big = client.post(
        "/login/passkey",
        data={"csrf_token": token(page.text), "ceremony": "x", "credential": "x" * 20000},
    )
    assert 400 <= big.status_code < 500
    garbage = client.post(
        "/login/passkey",
        data={"csrf_token": token(page.text), "ceremony": "x", "credential": "{not json"},
    )
    assert 400 <= garbage.status_code < 500


def test_unknown_users_get_decoy_options_like_known_ones(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url=URL)
    principal, _ = open_user(box)
    enrol(box, principal)
    identify(client)
    known, _ = page_options(client.get("/login/passkey").text)
    stranger = TestClient(client.app, base_url=URL)
    identify(stranger, user="77")
    decoy_page = stranger.get("/login/passkey")
    assert decoy_page.status_code == 200
    decoy, _ = page_options(decoy_page.text)
    assert set(decoy["publicKey"]) == set(known["publicKey"])
    allowed = decoy["publicKey"]["allowCredentials"]
    assert len(allowed) >= 1
    assert {tuple(sorted(c)) for c in allowed} == {
        tuple(sorted(c)) for c in known["publicKey"]["allowCredentials"]
    }


def test_without_a_usable_relying_party_the_page_says_so(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url="http://127.0.0.1:8000")
    open_user(box)
    identify(client)
    page = client.get("/login/passkey")
    assert page.status_code == 200
    assert "data-options" not in page.text
    assert "ne sont pas disponibles" in page.text
