"""The login, the 90-day prompt, sessions, CSRF and rate limits against a real
``securebox serve --workers 3`` on PostgreSQL (:mod:`tests.server.live.conftest`).

The browsers open a new connection for every request (no keep-alive), so the kernel hands
requests to any of the workers; the workers' metric files show that more than one served.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from securebox_auth.identity import Principal
from tests.server.live.conftest import CODE, LiveServer, token, totp_now

pytestmark = pytest.mark.slow


def _start(browser: httpx.Client, principal: Principal) -> httpx.Response:
    page = browser.get("/login")
    client = principal.client_id.value
    page = browser.post("/login", data={"client_id": client, "csrf_token": token(page.text)})
    assert page.status_code == 200, page.text
    return browser.post(
        "/login/user",
        data={
            "client_id": client,
            "user_number": principal.user_number.value,
            "csrf_token": token(page.text),
        },
    )


def _answer(browser: httpx.Client, path: str, **fields: str) -> httpx.Response:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser.post(
        path, data={**fields, "csrf_token": token(page.text)}, follow_redirects=False
    )


def _code_login(browser: httpx.Client, principal: Principal, code: str = CODE) -> httpx.Response:
    assert _start(browser, principal).status_code == 303
    return _answer(browser, "/login/code", code=code)


def test_code_login_with_the_forced_change(live: LiveServer) -> None:
    principal, one_time, _ = live.user(change=False)
    with live.browser() as browser:
        asked = _code_login(browser, principal, one_time)
        assert asked.headers["location"] == "/login/change-code"
        done = _answer(browser, "/login/change-code", current=one_time, new=CODE, confirm=CODE)
        assert done.headers["location"] == "/home"
        assert principal.client_id.value in browser.get("/home").text
    with live.browser() as again:
        assert _code_login(again, principal).headers["location"] == "/home"


def test_the_90_day_prompt_then_totp(live: LiveServer) -> None:
    """The server reads the system clock: the last strong login is seeded 91 days back."""
    long_ago = live.box.clock.now() - timedelta(days=91)
    principal, _, credential = live.user(totp=True, strong_at=long_ago)
    assert credential is not None
    with live.browser() as browser:
        asked = _code_login(browser, principal)
        assert asked.headers["location"] == "/login/strong"
        prompt = browser.get("/login/strong")
        assert "/login/totp" in prompt.text
        assert "90" in prompt.text
        # the next time step's code (the enrolment's confirmation used this one; the
        # policy accepts one step of drift)
        ahead = live.box.clock.now() + timedelta(seconds=30)
        done = _answer(browser, "/login/totp", code=totp_now(credential, ahead))
        assert done.headers["location"] == "/home"
        assert browser.get("/home").status_code == 200
    with live.browser() as later:  # renewed: the code alone is enough now
        assert _code_login(later, principal).headers["location"] == "/home"


def test_sessions_and_csrf_hold_across_workers(live: LiveServer) -> None:
    principal, _, _ = live.user()
    with live.browser() as browser:
        assert _code_login(browser, principal).headers["location"] == "/home"
        for _ in range(3 * 4):
            home = browser.get("/home", follow_redirects=False)
            assert home.status_code == 200
        page = browser.get("/home")
        for _ in range(3):  # a form of the session's, posted to whichever worker
            chosen = browser.post(
                "/preferences/language",
                data={"lang": "en", "back": "/home", "csrf_token": token(page.text)},
                follow_redirects=False,
            )
            assert chosen.status_code == 303
        forged = browser.post(
            "/preferences/language",
            data={"lang": "en", "back": "/home", "csrf_token": "0" * 64},
            follow_redirects=False,
        )
        assert forged.status_code in (400, 403)
    assert len(live.workers_that_served()) >= 2


def test_logout_everywhere_is_seen_by_every_worker(live: LiveServer) -> None:
    principal, _, _ = live.user()
    with live.browser() as office, live.browser() as laptop:
        assert _code_login(office, principal).headers["location"] == "/home"
        assert _code_login(laptop, principal).headers["location"] == "/home"
        page = office.get("/home")
        ended = office.post(
            "/logout/everywhere", data={"csrf_token": token(page.text)}, follow_redirects=False
        )
        assert ended.status_code == 303
        for browser in (office, laptop):
            for _ in range(3 * 2):
                home = browser.get("/home", follow_redirects=False)
                assert home.status_code == 303
                assert home.headers["location"] == "/login"


def test_rate_limits_hold_across_workers(live: LiveServer) -> None:
    """``login.source`` (30 per 5 minutes): the 31st identification from one address is
    refused, whichever worker gets it; another address is not."""
    with live.browser() as browser, live.browser() as other:
        answers = []
        for user in range(31):
            browser.cookies.clear()  # a new flow each time; the page does not count
            page = browser.get("/login")
            answers.append(
                browser.post(
                    "/login/user",
                    data={
                        "client_id": "600000001",
                        "user_number": f"{user + 1:02d}",
                        "csrf_token": token(page.text),
                    },
                    follow_redirects=False,
                )
            )
        assert [a.status_code for a in answers[:30]] == [303] * 30
        refused = answers[30]
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 300
        assert "réessayer dans" in refused.text
        principal, _, _ = live.user()
        assert _code_login(other, principal).headers["location"] == "/home"


def test_the_token_keys_are_the_same_on_every_worker(live: LiveServer) -> None:
    with live.browser() as browser:
        path = "/api/v1/.well-known/jwks.json"
        first = browser.get(path)
        assert first.status_code == 200, first.text
        assert first.json()["keys"], first.text
        seen = {browser.get(path).text for _ in range(3 * 3)}
        assert seen == {first.text}
