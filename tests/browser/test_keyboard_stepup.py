"""A step-up journey with the keyboard only (Tab, arrows, typing, Enter; no click): a
code-only login, then a cheque-book order approved with the TOTP. Every stop of the way
shows its focus, every field of every page has a label, and a refused code is announced
(a ``role=alert`` summary whose link leads to the field, the field marked invalid)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import on_both_databases
from tests.browser.driver import Tab
from tests.browser.server import CODE, DemoServer
from tests.browser.steps_msgs import UNLABELLED, enter, tab_to, type_and_enter

pytestmark = pytest.mark.browser

__all__ = ["on_both_databases"]  # each journey on SQLite and on PostgreSQL

ACCOUNT = "12345678901"


def test_cheque_book_order_approved_with_the_keyboard_only(tab: Tab, server: DemoServer) -> None:
    # strong ten days ago: the code alone logs in, the order asks for a proof
    user = server.user(totp=True, strong_days_ago=10)
    tab.open("/login")
    type_and_enter(tab, "client_id", user.client)
    type_and_enter(tab, "user_number", user.number)
    if tab.path == "/login/method":
        tab_to(tab, 'a[href="/login/code"]')
        enter(tab)
    type_and_enter(tab, "code", CODE)
    assert tab.path == "/home", tab.text()

    tab_to(tab, 'a[href="/cheque-books/new"]')
    enter(tab)
    assert tab.path == "/cheque-books/new"
    assert tab.page.evaluate(UNLABELLED) == [], "a field without a label"
    tab_to(tab, "#account")
    tab.page.keyboard.type(ACCOUNT)
    tab_to(tab, "#books")
    tab.page.keyboard.press("ArrowDown")  # two cheque books
    assert tab.page.input_value("#books") == "2"
    tab_to(tab, 'input[name="delivery"]')
    tab.page.keyboard.press("ArrowRight")  # by post: the arrows move in a radio group
    assert tab.page.is_checked("#delivery-post")
    tab_to(tab, 'form[action="/cheque-books/new"] button[type=submit]')
    enter(tab)
    order = tab.path
    assert order.startswith("/operations/"), f"{order}: {tab.text()}"
    assert ACCOUNT in tab.text()

    tab_to(tab, f'a[href="{order}/proof/totp"]')
    enter(tab)
    assert tab.path == f"{order}/proof/totp"
    code = user.totp_code()
    type_and_enter(tab, "code", "000000" if code != "000000" else "111111")
    assert tab.path == f"{order}/proof/totp"
    alert = tab.page.locator(".error-summary[role=alert]")
    assert alert.count() == 1
    assert alert.locator('a[href="#code"]').count() == 1
    assert tab.page.get_attribute("#code", "aria-invalid") == "true"
    assert "code-error" in (tab.page.get_attribute("#code", "aria-describedby") or "")
    assert tab.page.input_value("#code") == ""
    type_and_enter(tab, "code", code)
    assert tab.path == order, tab.path

    tab_to(tab, f'form[action="{order}/execute"] button')
    enter(tab)
    assert tab.page.locator("[role=status]").count() >= 1, tab.text()
