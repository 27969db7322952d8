"""The minimal "add a passkey" page of the home page: refused without a recent strong
authentication, and a passkey added through it logs in afterwards."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.server.conftest import AppMaker, identify, open_user, submit_code, token
from tests.server.methods.test_passkey import URL, answer, enrol, page_options


def _on_the_add_form(make_app: AppMaker) -> tuple[TestClient, str, dict[str, object], str]:
    """A client logged in with a passkey (a strong session), the "add a passkey" form's page,
    its creation options and ceremony."""
    client, box, _ = make_app(public_url=URL)
    principal, _ = open_user(box)
    first = enrol(box, principal)
    identify(client)
    page = client.get("/login/passkey")
    assert answer(client, page.text, first.get(page_options(page.text)[0])).status_code == 303
    form = client.get("/account/passkey")
    assert form.status_code == 200
    options, ceremony = page_options(form.text)
    return client, form.text, options, ceremony


def test_a_code_login_alone_may_not_add_a_passkey(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url=URL)
    open_user(box)
    identify(client)
    assert submit_code(client).status_code == 303
    assert 'href="/account/passkey"' in client.get("/home").text
    page = client.get("/account/passkey")
    assert page.status_code == 403
    assert "data-options" not in page.text
    refused = client.post(
        "/account/passkey",
        data={"csrf_token": token(page.text), "ceremony": "x", "credential": "{}"},
    )
    assert refused.status_code == 403


def test_a_strong_session_adds_a_passkey_that_then_logs_in(make_app: AppMaker) -> None:
    client, form_text, options, ceremony = _on_the_add_form(make_app)
    assert 'data-securebox-passkey="create"' in form_text
    second = SoftAuthenticator(origin=URL, rp_id="bank.example")
    added = client.post(
        "/account/passkey",
        data={
            "csrf_token": token(form_text),
            "ceremony": ceremony,
            "credential": json.dumps(second.create(options)),
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/home?passkey=added"
    # the new passkey opens a session in another browser
    other = TestClient(client.app, base_url=URL)
    identify(other)
    login = other.get("/login/passkey")
    done = answer(other, login.text, second.get(page_options(login.text)[0]))
    assert done.status_code == 303
    assert done.headers["location"] == "/home"


def test_a_form_sent_twice_says_added_and_adds_one_passkey(make_app: AppMaker) -> None:
    # A double click or a reload posts the same credential again: its ceremony is spent,
    # and the answer says what happened (added), not "not added".
    client, form_text, options, ceremony = _on_the_add_form(make_app)
    second = SoftAuthenticator(origin=URL, rp_id="bank.example")
    data = {
        "csrf_token": token(form_text),
        "ceremony": ceremony,
        "credential": json.dumps(second.create(options)),
    }
    for _ in range(2):
        added = client.post("/account/passkey", data=data, follow_redirects=False)
        assert added.status_code == 303, added.text
        assert added.headers["location"] == "/home?passkey=added"
    listed = client.get("/profile/passkeys").text
    assert listed.count('action="/profile/passkeys/') == 2 * 2  # rename and remove, each
    # A new credential on the spent ceremony is still refused, and says so.
    third = SoftAuthenticator(origin=URL, rp_id="bank.example")
    refused = client.post(
        "/account/passkey",
        data={**data, "credential": json.dumps(third.create(options))},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert "n&#39;a pas été ajoutée" in refused.text  # "was not added" (French by default)
