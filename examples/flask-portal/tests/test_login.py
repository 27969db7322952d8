"""Login through the portal's pages: the confidential code, the CAP reader, and the 90-day
strong-authentication rule of the portal's policy (PSD2 RTS art. 10), all decided by
securebox's login flow."""

from __future__ import annotations

from datetime import timedelta

from conftest import NEW_CODE, Browser, World, field, first_login, logged_in, shown
from securebox_auth.lockout.rules import Element


def _log_out(browser: Browser) -> None:
    assert browser.post("/logout", {}).status_code == 302
    assert browser.cookie() is None


def _back_after(world: World, browser: Browser, away: timedelta) -> None:
    """The first access done, the customer logs out, comes back ``away`` later and types
    the identifiers again."""
    logged_in(world, browser)
    _log_out(browser)
    world.clock.advance(away)
    browser.identify()


def test_the_first_access_changes_the_one_time_code_then_asks_for_the_cap_reader(
    world: World, browser: Browser
) -> None:
    page = first_login(world, browser)
    assert shown(page, "name") == "Claire Martin"  # the portal's own table
    assert "Strong authentication" in shown(page, "level")
    session = world.portal.box.live_session(browser.cookie() or "").value
    assert session.strong
    assert session.principal == world.principal
    # the flow, not the portal, started the 90-day clock of this channel
    assert world.portal.box.factors.last_sca(world.principal, "web") == world.clock.now()
    assert browser.cookie("portal_login") is None  # the login's handle is gone


def test_within_90_days_the_code_alone_lets_in(world: World, browser: Browser) -> None:
    _back_after(world, browser, timedelta(days=89))
    done = browser.code(NEW_CODE)
    assert done.status_code == 302
    assert done.headers["Location"] == "/accounts"
    page = browser.get("/accounts")
    assert "Confidential code" in shown(page, "level")
    assert not world.portal.box.live_session(browser.cookie() or "").value.strong


def test_after_90_days_the_code_asks_for_the_cap_reader_again(
    world: World, browser: Browser
) -> None:
    _back_after(world, browser, timedelta(days=91))
    page = browser.code(NEW_CODE)
    assert page.status_code == 200
    assert "strong-needed" in page.text
    assert browser.cookie() is None  # no session yet
    # this time with a reader that only has Respond: the portal shows the challenge
    page = browser.get("/login/next?cap=respond")
    digits = shown(page, "cap-digits")
    assert len(digits) == 8
    challenge = field(page, "cap_challenge")
    done = browser.cap(world.card.respond(digits), challenge)
    assert done.headers["Location"] == "/accounts"
    assert world.portal.box.live_session(browser.cookie() or "").value.strong
    assert world.portal.box.factors.last_sca(world.principal, "web") == world.clock.now()


def test_the_cap_reader_alone_logs_in_and_its_code_is_spent(world: World, browser: Browser) -> None:
    _back_after(world, browser, timedelta(minutes=1))
    code = world.card.identify()
    assert browser.cap(code).headers["Location"] == "/accounts"
    _log_out(browser)
    world.clock.advance(timedelta(seconds=5))
    browser.identify()
    replayed = browser.cap(code)
    assert replayed.status_code == 401
    assert browser.cookie() is None


def test_a_wrong_code_is_refused_like_an_unknown_user_and_counted(
    world: World, browser: Browser
) -> None:
    _back_after(world, browser, timedelta(0))
    wrong = browser.code("11223344")
    assert wrong.status_code == 401
    assert browser.cookie() is None
    lockout = world.portal.box.store.get_lockout(world.principal).value
    assert lockout.series(Element.CODE).failures == 1
    # a user that does not exist: the same offer and the same refusal
    other = Browser(world.app)
    page = other.identify(user="07")
    assert page.status_code == 200
    for form in ('action="/login/code"', 'action="/login/cap"', "cap=respond"):
        assert form in page.text
    refused = other.code("11223344")
    assert refused.status_code == 401
    assert refused.text.replace("/ 07", "/ 01") == wrong.text
    assert other.cap("12345678").status_code == 401


def test_a_weak_new_code_is_refused_and_nothing_opens(world: World, browser: Browser) -> None:
    browser.identify()
    browser.code(world.one_time)
    data = {"current": world.one_time, "new": "12345678", "confirm": "12345678"}
    page = browser.post("/login/change", data)
    assert page.status_code == 400
    assert browser.cookie() is None
    mismatch = browser.post("/login/change", {**data, "confirm": "87654321"})
    assert mismatch.status_code == 400


def test_malformed_input_is_a_page_not_an_error(world: World, browser: Browser) -> None:
    bad = browser.post("/login", {"client_id": "not a client", "user_number": "x"})
    assert bad.status_code == 400
    browser.identify()
    assert browser.code("12ab").status_code == 400
    assert browser.cap("not a code").status_code == 400
    # steps without a login in progress start again
    fresh = Browser(world.app)
    assert fresh.post("/login/code", {"code": NEW_CODE}).headers["Location"] == "/login"
