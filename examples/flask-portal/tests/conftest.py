"""The portal on fresh SQLite databases (its own and securebox's) in a temporary folder, a
fixed clock, and customer 123456789/01 with the one-time code the back office handed over
and a software CAP card the bank issued (a real EMV-CAP card emulation, real codes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest
from flask import Flask
from flask.testing import FlaskClient
from securebox_auth import PROFILE_TESTING, FixedClock, Principal
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from werkzeug.test import TestResponse

from flask_portal import PortalSettings, create_app
from flask_portal.backoffice import open_customer, record_card
from flask_portal.card_issuer import CapCardFile, issue_cap_card
from flask_portal.portal import EXTENSION, Portal
from flask_portal.sessions import LOGIN_COOKIE, SESSION_COOKIE

T0: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MASTER: Final = "m1:" + "5a" * 32
CLIENT: Final = "123456789"
NEW_CODE: Final = "47120938"
IBAN: Final = "FR7630006000011234567890189"


@dataclass
class World:
    app: Flask
    portal: Portal
    clock: FixedClock
    card: CapCardFile
    one_time: str
    principal: Principal


class Browser:
    """The Flask test client, over HTTPS, with the steps a user takes."""

    def __init__(self, app: Flask) -> None:
        self.client: FlaskClient = app.test_client()
        self.client.environ_base["wsgi.url_scheme"] = "https"

    def get(self, path: str) -> TestResponse:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, str]) -> TestResponse:
        return self.client.post(path, data=data)

    def cookie(self, name: str = SESSION_COOKIE) -> str | None:
        path = "/login" if name == LOGIN_COOKIE else "/"
        found = self.client.get_cookie(name, path=path)
        return None if found is None else found.value

    def identify(self, user: str = "01", client: str = CLIENT) -> TestResponse:
        sent = self.post("/login", {"client_id": client, "user_number": user})
        assert sent.status_code == 302, sent.text
        return self.get("/login/next")

    def code(self, code: str) -> TestResponse:
        return self.post("/login/code", {"code": code})

    def cap(self, code: str, challenge: str | None = None) -> TestResponse:
        data = {"cap_code": code}
        if challenge is not None:
            data["cap_challenge"] = challenge
        return self.post("/login/cap", data)


def field(page: TestResponse, name: str) -> str:
    """A hidden field's value."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert found is not None, f"no {name} in {page.text}"
    return found.group(1)


def confirmation(page: TestResponse, code: str, **changed: str) -> dict[str, str]:
    """The confirmation form of a step-up page: its hidden fields (the operation's, the
    flow's handle, the challenge id), the reader's ``code``, and ``changed`` fields."""
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    assert {"step_up", "cap_challenge"} <= hidden.keys(), page.text
    return {**hidden, "cap_code": code, **changed}


def shown(page: TestResponse, element: str) -> str:
    """The text of the element with id ``element``."""
    found = re.search(rf'id="{element}"[^>]*>([^<]*)<', page.text)
    assert found is not None, f"no #{element} in {page.text}"
    return found.group(1)


@pytest.fixture
def world(tmp_path: Path) -> World:
    issuer = SoftwareIssuerKeys.generate()
    clock = FixedClock(T0)
    settings = PortalSettings(
        instance=tmp_path,
        master_key=MASTER,
        cap_issuer=issuer,
        clock=clock,
        argon2=PROFILE_TESTING,  # fast argon2id: tests only
    )
    app = create_app(settings)
    portal: Portal = app.extensions[EXTENSION]
    who = Principal.parse(CLIENT, "01")
    one_time = open_customer(portal, who, "Claire Martin")
    card = issue_cap_card(portal.box, issuer, who, directory=tmp_path / "cards", card_id="card-01")
    record_card(portal, who, card.card_id)
    return World(app, portal, clock, card, one_time.reveal(), who)


@pytest.fixture
def browser(world: World) -> Browser:
    return Browser(world.app)


def first_login(world: World, browser: Browser) -> TestResponse:
    """The first access: the one-time code, its change, then the CAP reader (first-access
    rule); the accounts page."""
    browser.identify()
    page = browser.code(world.one_time)
    assert 'action="/login/change"' in page.text
    data = {"current": world.one_time, "new": NEW_CODE, "confirm": NEW_CODE}
    page = browser.post("/login/change", data)
    assert page.status_code == 200
    assert "strong-needed" in page.text
    done = browser.cap(world.card.identify())
    assert done.status_code == 302
    assert done.headers["Location"] == "/accounts"
    return browser.get("/accounts")


def logged_in(world: World, browser: Browser) -> str:
    """A strong session (first access done); its securebox session id."""
    assert first_login(world, browser).status_code == 200
    session_id = browser.cookie()
    assert session_id is not None
    return session_id
