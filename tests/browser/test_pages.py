"""Every page a person reaches, in French and English, checked by axe (0 serious or
critical violations; the report lists the rest) and photographed by the nox session: the
login pages of each method, the recovery pages, the logged-in pages of the demo's principal
user (box, profile, sensitive operations, administration), the demo's pages, and the error
page."""

from __future__ import annotations

from typing import Final

import pytest

from securebox_server.demo_box_plan import BAKERY
from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import (
    follow,
    identify,
    identify_for_code,
    log_in_with_code,
    strong_login,
)
from tests.browser.messaging import Messages
from tests.browser.server import CODE, DemoServer

pytestmark = [pytest.mark.browser, pytest.mark.every_language]

LOGIN_METHODS: Final = ("/login/code", "/login/passkey", "/login/certificate", "/login/recovery")
LOGGED_IN: Final = (
    "/documents",
    "/profile",
    "/profile/code",
    "/profile/contact",
    "/profile/history",
    "/profile/passkeys",
    "/profile/passkeys/add",
    "/profile/preferences",
    "/profile/recovery-codes",
    "/profile/sessions",
    "/profile/totp",
    "/profile/certificates",
    "/profile/certificates/add",
    "/payees",
    "/payees/new",
    "/transfers/new",
    "/batches/new",
    "/cheque-books/new",
    "/entitlements",
    "/orders",
    "/demo/outbox",
    "/demo/cap-reader",
    f"/companies/{BAKERY}/contact",
)
ADMINISTRATION: Final = (
    "/admin/users",
    "/admin/users/new",
    "/admin/companies",
    "/admin/third-parties",
    "/admin/delivery",
)


def test_login_pages(tab: Tab, server: DemoServer) -> None:
    tab.open("/login/forgotten")
    identify(tab, "123456789", "01")
    assert tab.path == "/login/method"
    for path in LOGIN_METHODS:
        tab.open(path)
        assert tab.path == path
    tab.open("/login")
    tab.fill("client_id", "12")  # a malformed identifier: the error summary
    tab.submit("/login")
    assert tab.page.locator(".error-summary[role=alert]").count() == 1
    tab.submit("/preferences/accessible")  # the accessible version (its own stylesheet)
    assert tab.page.locator('link[href="/static/accessible.css"]').count() == 1
    tab.submit("/preferences/language")  # and the other language
    assert tab.page.evaluate("document.documentElement.lang") != tab.lang


def test_cap_login_pages(tab: Tab, server: DemoServer) -> None:
    identify(tab, "123456789", "04")
    if tab.path == "/login/method":
        follow(tab, "/login/cap")
    assert tab.path.startswith("/login/cap"), tab.path
    tab.open("/login/cap/respond")


def test_logged_in_pages(tab: Tab, server: DemoServer) -> None:
    log_in_with_code(tab, "123456789", "01", server.demo_code("01"))
    assert tab.path == "/home"
    first = tab.page.locator("table.documents tbody th a").first.get_attribute("href")
    assert first is not None
    tab.open(first)
    tab.open(f"{first}/share")  # the share form (ADR 0068)
    for path in LOGGED_IN:
        tab.open(path)
    tab.open("/documents/does-not-exist")  # the error page
    tab.open("/nowhere")
    # a new e-mail address: a code login is not strong enough for the change (the page
    # that says so)
    tab.open("/profile/contact")
    tab.fill("email", "new.address@client.example")
    tab.submit("/profile/contact/email")
    assert tab.page.locator('form[action^="/profile/contact/confirm/"]').count() == 0


def test_step_up_pages(tab: Tab, server: DemoServer) -> None:
    """A sensitive operation after a code-only login: the order's page and the page of its
    TOTP proof (the other journeys reach them in one language each)."""
    user = server.user(totp=True, strong_days_ago=10)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home", tab.text()
    tab.open("/cheque-books/new")
    tab.fill("account", "10987654321")
    tab.submit("/cheque-books/new")
    order = tab.path
    assert order.startswith("/operations/"), order
    follow(tab, f"{order}/proof/totp")
    assert tab.path == f"{order}/proof/totp", tab.path


def test_contact_change_pages(
    open_tab: OpenTab, mail_server: DemoServer, mailbox: Messages
) -> None:
    """After a strong login, a new e-mail address through the profile's real form (the
    demo sending through a real SMTP relay): the page asking for the code, a wrong code
    refused on it, then the code the new address received changes it."""
    tab = open_tab(mail_server)
    strong_login(tab, mail_server.user(totp=True))
    tab.open("/profile/contact")
    address = f"new.{tab.lang}@client.example"
    tab.fill("email", address)
    tab.submit("/profile/contact/email")
    confirm = tab.page.locator('form[action^="/profile/contact/confirm/"]')
    assert confirm.count() == 1, tab.text()
    action = confirm.get_attribute("action")
    assert action is not None
    tab.fill("code", "000000")
    tab.submit(action)
    assert tab.page.locator("[aria-invalid=true]").count() == 1, tab.text()
    code = mailbox.mail(address, r"\b([0-9]{6,8})\b").group(1)
    tab.fill("code", code)
    tab.submit(action)
    assert tab.path == "/profile/contact", tab.path
    assert address in tab.text()


def _links(tab: Tab, prefix: str) -> list[str]:
    """The distinct links of the page's main part that start with ``prefix``."""
    found: list[str] = tab.page.eval_on_selector_all(
        f'main a[href^="{prefix}"]', "links => links.map(a => a.getAttribute('href'))"
    )
    return list(dict.fromkeys(found))


def test_recovery_pages(tab: Tab, server: DemoServer) -> None:
    """Each way of recovering the code the choice page offers."""
    tab.open("/recovery")
    offered = _links(tab, "/recovery/")
    assert "/recovery/code" in offered, offered
    for path in offered:
        tab.open(path)
        assert tab.path == path


def test_administration_pages(tab: Tab, server: DemoServer) -> None:
    """The demo's principal user administers the subscription: users, a user's sheet and
    its removal page, companies and one company, paper delivery."""
    log_in_with_code(tab, "123456789", "01", server.demo_code("01"))
    assert tab.path == "/home"
    for path in ADMINISTRATION:
        tab.open(path)
        assert tab.path == path
    tab.open("/admin/users")
    users = [
        u for u in _links(tab, "/admin/users/") if u.count("/") == 3 and u != "/admin/users/01"
    ]
    assert users, tab.text()
    tab.open(users[-1])
    tab.open(f"{users[-1]}/delete")
    assert tab.path == f"{users[-1]}/delete"
    tab.open("/admin/companies")
    companies = [c for c in _links(tab, "/admin/companies/") if c.count("/") == 3]
    assert companies, tab.text()
    tab.open(companies[0])
    assert tab.path == companies[0]
    tab.open(f"{companies[0]}/remove")
    assert tab.path == f"{companies[0]}/remove"


def test_the_blocked_page(tab: Tab, server: DemoServer) -> None:
    """Wrong codes until the login is blocked: every page on the way, and the blocked
    page, are checked."""
    user = server.user(strong_days_ago=0)
    identify_for_code(tab, user.client, user.number)
    for attempt in range(10):
        tab.fill("code", f"{10293847 + attempt}")
        tab.submit("/login/code")
        if tab.page.locator("#code").count() == 0:
            break
    assert tab.page.locator("#code").count() == 0, "never blocked"
    assert tab.page.locator('main a[href="/login"]').count() == 1, tab.text()
