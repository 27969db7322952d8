"""The session's idle timeout (RTS art. 4(3)(d); ``[session] idle_timeout`` in the policy):
on a demo server of its own whose policy ends a session after a few seconds without a
request, activity keeps the session alive past that time, and after the idle time the next
click leads to the login page; the old session does not come back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

import pytest

from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.server import CODE, DemoServer, demo_server
from tests.browser.steps_msgs import idle_policy

pytestmark = pytest.mark.browser

#: The policy's idle timeout (the loader accepts 1 s to 1 day).
IDLE: Final = 3


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    home = tmp_path_factory.mktemp("browser-demo-idle")
    policy = idle_policy(home / "idle-policy.toml", IDLE)
    with demo_server(home, env={"SECUREBOX_POLICY": str(policy)}) as running:
        assert running.box.policy.session.idle_timeout.total_seconds() == IDLE
        yield running


def click_at(tab: Tab, href: str, at: float) -> float:
    """Wait until ``at`` (``time.monotonic()``), then click the link to ``href``; when the
    click's request left."""
    time.sleep(max(0.0, at - time.monotonic()))
    sent = time.monotonic()
    follow(tab, href)
    return sent


def test_an_idle_session_ends(tab: Tab, idle_server: DemoServer) -> None:
    tab.base = idle_server.base
    user = idle_server.user(strong_days_ago=0)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home", tab.text()
    last = time.monotonic()  # the home page's request restarted the idle timer (or later)
    context = tab.page.context
    session = [c for c in context.cookies(tab.base) if c["name"].endswith("session")]
    assert len(session) == 1, context.cookies(tab.base)
    name, value = session[0]["name"], session[0]["value"]
    # activity keeps it alive beyond the idle time: requests less than IDLE apart
    for href in ("/profile", "/home"):
        last = click_at(tab, href, last + IDLE * 0.6)
        assert tab.path == href, f"{href}: {tab.path}"
    # then nothing for longer than the idle time: the next click goes to the login
    click_at(tab, "/home", time.monotonic() + IDLE + 1)
    assert tab.path == "/login", tab.path
    # the old session's cookie brought back: the session is gone for good
    context.add_cookies([{"name": name, "value": value, "url": tab.base}])
    tab.open("/profile")
    assert tab.path == "/login", tab.path
