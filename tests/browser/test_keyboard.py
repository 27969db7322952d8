"""The login journey with the keyboard only (Tab, typing, Enter; no click): every stop of
the way shows its focus, every field has a label, a refused code is announced (a
``role=alert`` summary whose link leads to the field)."""

from __future__ import annotations

from typing import Final

import pytest

from tests.browser.conftest import on_both_databases
from tests.browser.driver import Tab
from tests.browser.server import CODE, DemoServer

pytestmark = pytest.mark.browser

__all__ = ["on_both_databases"]  # each journey on SQLite and on PostgreSQL

MAX_TABS: Final = 12
FOCUS_SHOWN: Final = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return outline || s.boxShadow !== 'none';
}"""
UNLABELLED: Final = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')]
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.id || e.name)"""


def tab_to(tab: Tab, selector: str) -> None:
    """Press Tab until the element ``selector`` has the focus; each element on the way
    shows it."""
    for _ in range(MAX_TABS):
        tab.page.keyboard.press("Tab")
        focused = tab.page.evaluate("document.activeElement.outerHTML.slice(0, 80)")
        assert tab.page.evaluate(FOCUS_SHOWN), f"no visible focus on {focused} ({tab.path})"
        if tab.page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached with {MAX_TABS} presses of Tab")


def enter(tab: Tab) -> None:
    with tab.page.expect_navigation():
        tab.page.keyboard.press("Enter")
    tab.arrived()


def type_and_enter(tab: Tab, field_id: str, text: str) -> None:
    assert tab.page.evaluate(UNLABELLED) == [], f"a field without a label on {tab.path}"
    tab_to(tab, f"#{field_id}")
    tab.page.keyboard.type(text)
    enter(tab)


def test_login_with_the_keyboard_only(tab: Tab, server: DemoServer) -> None:
    user = server.user(totp=True, strong_days_ago=0)
    tab.open("/login")
    type_and_enter(tab, "client_id", user.client)
    type_and_enter(tab, "user_number", user.number)
    if tab.path == "/login/method":
        tab_to(tab, 'a[href="/login/code"]')
        enter(tab)
    assert tab.path == "/login/code"
    type_and_enter(tab, "code", "10293847")  # wrong: announced, the field marked
    alert = tab.page.locator(".error-summary[role=alert]")
    assert alert.count() == 1
    assert tab.page.get_attribute("#code", "aria-invalid") == "true"
    assert alert.locator('a[href="#code"]').count() == 1
    type_and_enter(tab, "code", CODE)
    assert tab.path == "/home", tab.text()
