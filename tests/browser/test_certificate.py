"""Certificate login in real Chromium through the local signing agent: the demo's
certificate in a SoftHSM2 token (:mod:`tests.browser.steps_cert`), ``securebox token
agent`` for this demo server's origin, and the server telling the page where the agent
listens (``SECUREBOX_AGENT_URL``, allowed by the CSP's ``connect-src``). The page's
``certificate.js`` asks the agent, which signs after the PIN; the form posts.

The 90-day prompt completed by the certificate (a wrong PIN first: the page says so); the
profile's "Enrol a certificate" after a strong login (code + TOTP), then a login with it.
Each on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import follow, identify, log_in_with_code
from tests.browser.server import CODE, DemoServer, _free_port, demo_server
from tests.browser.steps_cert import (
    demo_fingerprint,
    demo_token,
    give_demo_certificate,
    sign_in_page,
    signing_agent,
)
from tests.cards.agent_support import Agent
from tests.stores.conftest import _admin_url, scratch_postgres

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class WithAgent:
    server: DemoServer
    agent: Agent


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cert_demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WithAgent]:
    """A demo server (on SQLite, or on a fresh PostgreSQL database) whose pages call the
    agent on a port chosen first; the agent, started once the server's origin is known,
    with the demo's certificate in its token."""
    port = _free_port()
    home = tmp_path_factory.mktemp("browser-demo-cert")
    env = {"SECUREBOX_AGENT_URL": f"http://127.0.0.1:{port}"}
    with contextlib.ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(scratch_postgres(_admin_url()))
        running = stack.enter_context(demo_server(home, database_url=url, env=env))
        conf = demo_token(running.home, tmp_path_factory.mktemp("softhsm"))
        with signing_agent(conf, port, running.base) as agent:
            yield WithAgent(running, agent)


def _alert(tab: Tab) -> str:
    """The form's alert, once the script has written it (and focused it)."""
    alert = tab.page.locator("form [data-securebox-error][role=alert]")
    alert.wait_for(state="visible")
    assert tab.page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    return alert.inner_text().strip()


def test_the_90_day_prompt_completed_by_the_certificate(
    open_tab: OpenTab, cert_demo: WithAgent
) -> None:
    server, agent = cert_demo.server, cert_demo.agent
    user = server.user(strong_days_ago=91)
    give_demo_certificate(server, user.principal)
    tab = open_tab(server)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/certificate")
    # a wrong PIN: the token refuses it, the page says so and nothing is posted
    agent.pin("000000")
    tab.page.click("#certificate-submit")
    assert _alert(tab)
    assert tab.path == "/login/certificate"
    assert tab.page.is_enabled("#certificate-submit")
    sign_in_page(tab, agent, "/login/certificate")
    assert tab.path == "/home", tab.text()
    assert user.client in tab.text()


def test_a_certificate_enrolled_from_the_profile_then_logs_in(
    open_tab: OpenTab, cert_demo: WithAgent
) -> None:
    server, agent = cert_demo.server, cert_demo.agent
    user = server.user(totp=True)  # first access: code and TOTP, a strong login
    tab = open_tab(server)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/totp")
    tab.fill("code", user.totp_code())
    tab.submit("/login/totp")
    assert tab.path == "/home", tab.text()
    tab.open("/profile/certificates")
    follow(tab, "/profile/certificates/add")
    sign_in_page(tab, agent, "/profile/certificates/add")
    assert tab.path == "/profile/certificates", tab.text()
    assert tab.page.locator("main p[role=status]").count() == 1
    assert demo_fingerprint(server) in tab.page.inner_text("dl.facts code")
    tab.open("/home")
    tab.submit("/logout")
    tab.open("/home")
    assert tab.path.startswith("/login"), tab.path  # logged out
    # the next login: the certificate alone, chosen among the user's methods
    identify(tab, user.client, user.number)
    assert tab.path == "/login/method", tab.path
    follow(tab, "/login/certificate")
    sign_in_page(tab, agent, "/login/certificate")
    assert tab.path == "/home", tab.text()
