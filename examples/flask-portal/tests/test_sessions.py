"""Flask's session backed by securebox's session store: the cookie carries the securebox
session id and nothing else; the idle timeout, the end of a session and the rotation are
securebox's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import Browser, World, logged_in
from flask import session
from securebox_auth import NotAuthenticated

from flask_portal.sessions import SESSION_COOKIE, PortalSession


def test_the_cookie_holds_only_the_securebox_session_id(world: World, browser: Browser) -> None:
    browser.identify()
    page = browser.code(world.one_time)
    data = {"current": world.one_time, "new": "47120938", "confirm": "47120938"}
    browser.post("/login/change", data)
    done = browser.cap(world.card.identify())
    cookies = [c for c in done.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE)]
    assert len(cookies) == 1, page.text
    attributes = {a.strip().split("=")[0] for a in cookies[0].split(";")}
    assert {"Secure", "HttpOnly", "SameSite", "Path"} <= attributes
    assert "Max-Age" not in attributes  # securebox decides when the session ends
    session_id = browser.cookie()
    assert session_id is not None
    # the value is the securebox session id itself: securebox resolves it
    assert world.portal.box.live_session(session_id).value.principal == world.principal
    # and nothing else: no data of the portal rides in the cookie
    assert session_id.isascii()
    assert world.principal.client_id.value not in session_id


def test_the_idle_timeout_is_securebox_s(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    for _ in range(3):  # activity keeps the session alive past the 5 minutes
        world.clock.advance(timedelta(minutes=4))
        assert browser.get("/accounts").status_code == 200
    world.clock.advance(timedelta(minutes=5, seconds=1))
    page = browser.get("/accounts")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login"
    assert browser.cookie() is None  # the cookie of a dead session is deleted


def test_logging_out_ends_the_securebox_session(world: World, browser: Browser) -> None:
    session_id = logged_in(world, browser)
    browser.post("/logout", {})
    with pytest.raises(NotAuthenticated):
        world.portal.box.live_session(session_id)
    # the old cookie, replayed, opens nothing
    replay = Browser(world.app)
    replay.client.set_cookie(SESSION_COOKIE, session_id)
    assert replay.get("/accounts").headers["Location"] == "/login"


def test_a_session_ended_elsewhere_is_over_here(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    world.portal.box.end_all(world.principal)  # "log out every device"
    assert browser.get("/accounts").headers["Location"] == "/login"


@pytest.mark.parametrize("value", ["garbage", "x" * 300, "é", ""])
def test_a_forged_cookie_is_a_logged_out_visitor(world: World, value: str) -> None:
    visitor = Browser(world.app)
    visitor.client.set_cookie(SESSION_COOKIE, value)
    page = visitor.get("/accounts")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login"


def test_the_portal_cannot_put_its_data_in_the_session(world: World) -> None:
    with world.app.test_request_context("/"):
        world.app.session_interface.open_session(
            world.app, world.app.test_request_context().request
        )
        assert isinstance(session, PortalSession)
        with pytest.raises(TypeError, match="portal's tables"):
            session["cart"] = "3 items"


def test_cross_site_posts_are_refused(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    forged = browser.client.post(
        "/transfers",
        data={"amount": "10.00", "payee": "FR7630006000011234567890189"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    other = browser.client.post("/logout", headers={"Origin": "https://evil.example"}, data={})
    assert other.status_code == 403
    assert browser.get("/accounts").status_code == 200  # still logged in


def test_errors_are_pages_with_the_security_headers(world: World, browser: Browser) -> None:
    missing = browser.get("/no-such-page")
    assert missing.status_code == 404
    assert "Traceback" not in missing.text
    assert "frame-ancestors 'none'" in missing.headers["Content-Security-Policy"]
    assert missing.headers["Cache-Control"] == "no-store"
    assert browser.client.put("/accounts").status_code == 405


def test_a_new_login_in_the_browser_ends_its_session(world: World, browser: Browser) -> None:
    session_id = logged_in(world, browser)
    browser.identify()
    assert browser.cookie() is None
    with pytest.raises(NotAuthenticated):
        world.portal.box.live_session(session_id)
