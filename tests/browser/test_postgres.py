"""More journeys on PostgreSQL (the demo on a fresh database, ``pg_server``; the login,
passkey and CAP journeys run on both databases in their own modules): the forced change of
a one-time code (the old one refused afterwards), and a cheque-book order approved by a
TOTP proof (a step-up after a code-only login)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import OpenTab
from tests.browser.journeys import complete_with_totp, follow, identify_for_code, log_in_with_code
from tests.browser.server import CODE, DemoServer

pytestmark = pytest.mark.browser

NEW_CODE = "80417362"
DONE = {"en": "Done", "fr": "Effectué"}


def test_one_time_code_changed_then_totp_at_first_access(
    open_tab: OpenTab, pg_server: DemoServer
) -> None:
    user = pg_server.user(change=False, totp=True)
    tab = open_tab(pg_server)
    identify_for_code(tab, user.client, user.number)
    tab.fill("code", user.one_time)
    tab.submit("/login/code")
    assert tab.path == "/login/change-code", tab.path
    tab.fill("current", user.one_time)
    tab.fill("new", NEW_CODE)
    tab.fill("confirm", NEW_CODE)
    tab.submit("/login/change-code")
    complete_with_totp(tab, user)
    # the old one-time code no longer logs in, the new one does
    other = open_tab(pg_server)
    log_in_with_code(other, user.client, user.number, user.one_time)
    assert other.path == "/login/code", other.path
    assert other.page.locator("[role=alert]").count() == 1
    other.fill("code", NEW_CODE)
    other.submit("/login/code")
    assert other.path == "/home", other.text()


def test_cheque_book_order_approved_with_a_totp_proof(
    open_tab: OpenTab, pg_server: DemoServer
) -> None:
    user = pg_server.user(totp=True, strong_days_ago=10)
    tab = open_tab(pg_server)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home", tab.text()
    tab.open("/cheque-books/new")
    tab.fill("account", "10987654321")
    tab.submit("/cheque-books/new")
    order = tab.path
    assert order.startswith("/operations/"), order
    assert "10987654321" in tab.text()
    follow(tab, f"{order}/proof/totp")
    tab.fill("code", user.totp_code())
    tab.submit(f"{order}/proof/totp")
    assert tab.path == order, tab.path
    tab.submit(f"{order}/execute")
    assert tab.page.locator("[role=status]").count() >= 1
    # the order is listed as done
    tab.open("/orders")
    row = tab.page.locator("tbody tr", has=tab.page.locator(f'a[href="{order}"]'))
    assert row.locator("td").last.inner_text().strip() == DONE[tab.lang]
