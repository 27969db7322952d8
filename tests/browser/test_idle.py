"""The session's idle timeout (RTS art. 4(3)(d); ``[session] idle_timeout`` in the policy):
on a demo server of its own whose policy ends a session after a few seconds without a
request, activity keeps the session alive past that time, and after the idle time the next
click leads to the login page; the old session does not come back."""

from __future__ import annotations

import itertools
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


def test_an_idle_session_ends(tab: Tab, idle_server: DemoServer) -> None:
    tab.base = idle_server.base
    user = idle_server.user(strong_days_ago=0)
    # axe is left out until the session ends: on a busy machine it can take longer than
    # the idle time itself (these pages are checked by the other journeys)
    tab.audited = False
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home", tab.text()
    context = tab.page.context
    session = [c for c in context.cookies(tab.base) if c["name"].endswith("session")]
    assert len(session) == 1, context.cookies(tab.base)
    name, value = session[0]["name"], session[0]["value"]

    # activity keeps it alive beyond the idle time: clicks less than IDLE apart
    start = last = time.monotonic()
    pages = itertools.cycle(("/profile", "/home"))
    while time.monotonic() - start < IDLE + 1:
        href = next(pages)
        sent = time.monotonic()
        assert sent - last < IDLE - 0.5, "too slow a machine to show activity within the idle time"
        follow(tab, href)
        assert tab.path == href, f"{href} after {sent - start:.1f} s: {tab.path}"
        last = sent
        time.sleep(0.3)
    tab.audited = True

    # then nothing for longer than the idle time: the next click goes to the login
    time.sleep(IDLE + 1)
    follow(tab, next(pages))
    assert tab.path == "/login", tab.path
    # the old session's cookie brought back: the session is gone for good
    context.add_cookies([{"name": name, "value": value, "url": tab.base}])
    tab.open("/profile")
    assert tab.path == "/login", tab.path
