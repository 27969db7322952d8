"""The database rate limits through the real pages (ADR 0026, issue 14's lockout hole).

One attacker address, behind the trusted proxy (``X-Forwarded-For``), sends wrong codes for
a known user's identifiers through the real forms for six hours: four answers are verified,
every other try is a 429 saying "try again in ..." with ``Retry-After``; the account is
never blocked, and the user logs in from home and from a new address meanwhile. Without
the limits the same attacker blocks the account for good (so the test can fail).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Final

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import BlockStatus, block_status
from securebox_auth.shell.securebox import Securebox
from securebox_server.app import create_app
from securebox_server.login.flow import hit_limits
from securebox_server.rate_limits import DEFAULT_LIMITS, Limiter, RateLimited
from securebox_server.settings import Settings, load_settings
from securebox_server.throttle import RateLimited as SeamRateLimited
from securebox_server.web.errors import wait_of
from tests.server.conftest import CLIENT, CODE, AppMaker, open_user, token

PROXY: Final = "10.0.0.1"
HOME: Final = "198.51.100.7"
ATTACKER: Final = "203.0.113.66"
WRONG: Final = "13572468"


def _browser(client: TestClient, address: str) -> TestClient:
    """A browser at ``address``, reaching the app through the trusted proxy."""
    return TestClient(
        client.app,
        base_url=str(client.base_url),
        raise_server_exceptions=False,
        client=(PROXY, 40000),
        headers={"X-Forwarded-For": f"10.9.9.9, {address}"},
    )


def _login(browser: TestClient, code: str) -> httpx.Response:
    """The real forms: identifier, user number, code; the last answer (or the refusal)."""
    page: httpx.Response = browser.get("/login")
    page = browser.post("/login", data={"client_id": CLIENT, "csrf_token": token(page.text)})
    if page.status_code != 200:
        return page
    started: httpx.Response = browser.post(
        "/login/user",
        data={"client_id": CLIENT, "user_number": "01", "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    if started.status_code != 303:
        return started
    page = browser.get("/login/code")
    answer: httpx.Response = browser.post(
        "/login/code", data={"code": code, "csrf_token": token(page.text)}, follow_redirects=False
    )
    return answer


def _status(box: Securebox, principal: Principal, clock: FixedClock) -> BlockStatus:
    return block_status(box.store.get_lockout(principal).value, clock.now())


def test_one_address_never_blocks_the_user_and_other_addresses_work(make_app: AppMaker) -> None:
    client, box, clock = make_app(rate_limits_enabled=True, trusted_proxies=(PROXY,))
    principal, _ = open_user(box)
    home, attacker = _browser(client, HOME), _browser(client, ATTACKER)
    assert _login(home, CODE).headers["location"] == "/home"  # home becomes known
    verified = refused = 0
    for step in range(6 * 6):  # every 10 minutes for six hours
        answer = _login(attacker, WRONG)
        if answer.status_code == 429:
            refused += 1
            assert 1 <= int(answer.headers["retry-after"]) <= 86400
            assert "try again in" in answer.text or "réessayer dans" in answer.text
        else:
            assert answer.status_code == 401, answer.text
            verified += 1
        assert _status(box, principal, clock) is BlockStatus.OPEN
        if step == 18:  # the user, in the middle of the attack, from home
            assert _login(_browser(client, HOME), CODE).headers["location"] == "/home"
        clock.advance(timedelta(minutes=10))
    assert verified == 4  # login.failure.source_account: 4 a day from an unknown source
    assert refused == 6 * 6 - 4
    assert _login(_browser(client, HOME), CODE).headers["location"] == "/home"
    travelling = _browser(client, "100.64.0.1")  # a new address of the user's
    assert _login(travelling, CODE).headers["location"] == "/home"
    assert box.store.get_lockout(principal).value.failures == 0


def test_without_the_limits_the_same_attacker_blocks_the_user(make_app: AppMaker) -> None:
    client, box, clock = make_app(trusted_proxies=(PROXY,))
    principal, _ = open_user(box)
    attacker = _browser(client, ATTACKER)
    for _ in range(30):
        if _status(box, principal, clock) is BlockStatus.PERMANENT:
            break
        if _status(box, principal, clock) is BlockStatus.OPEN:
            assert _login(attacker, WRONG).status_code in (401, 403)
        else:
            clock.advance(timedelta(minutes=15))
    assert _status(box, principal, clock) is BlockStatus.PERMANENT


def test_the_429_page_says_when_in_the_language_of_the_page(make_app: AppMaker) -> None:
    client, box, _ = make_app(
        rate_limits_enabled=True, rate_limits=(("login.source", "2/10 minutes"),)
    )
    open_user(box)
    browser = TestClient(client.app, raise_server_exceptions=False, client=("192.0.2.5", 1))
    assert _login(browser, CODE).headers["location"] == "/home"  # 2 hits: identify, answer
    browser.cookies.clear()
    refused = _login(browser, CODE)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "600"
    assert "Veuillez réessayer dans 10 minutes." in refused.text
    english = browser.get("/login")
    browser.cookies.set("sb-lang", "en")
    refused = browser.post(
        "/login/user",
        data={"client_id": CLIENT, "user_number": "01", "csrf_token": token(english.text)},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 429
    assert "Please try again in 10 minutes." in refused.text


def test_the_problem_document_says_when(make_app: AppMaker) -> None:
    client, _, _ = make_app()

    def limited() -> None:
        raise RateLimited("login.source", 125)

    client.app.add_api_route("/api/v1/test-limited", limited)  # type: ignore[attr-defined]
    answer = client.get("/api/v1/test-limited")
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "125"
    body = answer.json()
    assert body["code"] == "rate_limited"
    assert body["retry_after"] == 125
    assert body["detail"] == "Too many attempts. Please try again in 3 minutes."


def test_one_error_type() -> None:
    assert SeamRateLimited is RateLimited
    assert RateLimited(retry_after=0.2).retry_after == 1


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (1, (1, "seconds")),
        (90, (90, "seconds")),
        (91, (2, "minutes")),
        (7199, (120, "minutes")),
        (7200, (2, "hours")),
        (86400, (24, "hours")),
        (3 * 86400 + 1, (4, "days")),
    ],
)
def test_wait_of(seconds: int, shown: tuple[int, str]) -> None:
    assert wait_of(seconds) == shown


def test_the_limits_come_from_the_settings(tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    key.write_text("m1:" + "00" * 32, encoding="ascii")
    file = tmp_path / "settings.toml"
    file.write_text(
        f'master_key_file = "{key}"\n[rate_limits]\n"login.source" = "3/minute;10/hour"\n',
        encoding="utf-8",
    )
    settings = load_settings({}, file)
    assert settings.rate_limits_enabled
    assert settings.limits()["login.source"] == "3/minute;10/hour"
    assert settings.limits()["login.account"] == DEFAULT_LIMITS["login.account"]
    file.write_text(f'master_key_file = "{key}"\n[rate_limits]\n"login.nope" = "3/minute"\n')
    with pytest.raises(ConfigurationError, match="no limit named"):
        load_settings({}, file)
    file.write_text(f'master_key_file = "{key}"\n[rate_limits]\n"login.source" = "often"\n')
    with pytest.raises(ConfigurationError, match="cannot parse"):
        load_settings({}, file)
    file.write_text(f'master_key_file = "{key}"\nrate_limits_enabled = false\n')
    with pytest.raises(ConfigurationError, match="demo mode only"):
        load_settings({}, file)
    assert not load_settings({"SECUREBOX_DEMO": "true"}, file).rate_limits_enabled


def test_the_app_builds_the_database_limiter_by_default(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/d.db", demo=True)
    app = create_app(settings, argon2=PROFILE_TESTING)
    server = app.state.server
    assert isinstance(server.limits, Limiter)
    assert server.login_limits is not None
    assert server.login_limits.limiter is server.limits
    off = Settings(database_url=f"sqlite:///{tmp_path}/d.db", demo=True, rate_limits_enabled=False)
    assert create_app(off, argon2=PROFILE_TESTING).state.server.login_limits is None


def test_sends_and_challenges_have_their_limits(make_app: AppMaker) -> None:
    """``login.<method>.send`` counts ``otp_send.*`` (3 per 10 minutes per account);
    ``login.<...>_challenge`` is a request (``login.source``); other names ``default.*``."""
    client, _, _ = make_app(rate_limits_enabled=True, rate_limits=(("login.source", "2/minute"),))
    app = client.app

    def route(name: str) -> Callable[[Request], dict[str, str]]:
        def hit(request: Request) -> dict[str, str]:
            hit_limits(request, name, "123456789:01")
            return {"ok": name}

        return hit

    for name in ("login.oob.send", "login.cap_challenge", "demo.reader"):
        app.add_api_route(f"/api/v1/test/{name}", route(name))  # type: ignore[attr-defined]
    sends = [client.get("/api/v1/test/login.oob.send").status_code for _ in range(4)]
    assert sends == [200, 200, 200, 429]
    challenges = [client.get("/api/v1/test/login.cap_challenge").status_code for _ in range(3)]
    assert challenges == [200, 200, 429]
    others = [client.get("/api/v1/test/demo.reader").status_code for _ in range(31)]
    assert others == [200] * 30 + [429]  # default.account: 30 per 5 minutes
