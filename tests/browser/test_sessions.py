"""Sessions in two browsers: "log out everywhere" from the second ends the first's session;
a cheque-book order approved by a TOTP proof (a step-up after a code-only login)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.server import CODE, DemoServer

pytestmark = pytest.mark.browser


def test_log_out_everywhere_from_a_second_browser(open_tab: OpenTab, server: DemoServer) -> None:
    user = server.user(totp=True, strong_days_ago=0)
    first, second = open_tab(), open_tab()
    for browser in (first, second):
        log_in_with_code(browser, user.client, user.number, CODE)
        assert browser.path == "/home", browser.text()
    second.submit("/logout/everywhere")
    first.open("/home")
    assert first.path.startswith("/login"), first.path
    second.open("/home")
    assert second.path.startswith("/login"), second.path


def test_cheque_book_order_approved_with_a_totp_proof(tab: Tab, server: DemoServer) -> None:
    # strong ten days ago: the code alone logs in, the order asks for a proof
    user = server.user(totp=True, strong_days_ago=10)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home"
    tab.open("/cheque-books/new")
    tab.fill("account", "12345678901")
    tab.submit("/cheque-books/new")
    order = tab.path
    assert order.startswith("/operations/"), order
    assert "12345678901" in tab.text()
    follow(tab, f"{order}/proof/totp")
    tab.fill("code", "000000" if (code := user.totp_code()) != "000000" else "111111")
    tab.submit(f"{order}/proof/totp")
    assert tab.page.locator(".error-summary[role=alert]").count() == 1
    tab.fill("code", code)
    tab.submit(f"{order}/proof/totp")
    assert tab.path == order, tab.path
    tab.submit(f"{order}/execute")
    assert tab.page.locator("[role=status]").count() >= 1
