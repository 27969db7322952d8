"""Login journeys: the confidential code in two steps, the forced change of a one-time
code, the TOTP as second factor (first access and the 90-day prompt), a refused code."""

from __future__ import annotations

import pytest

from tests.browser.conftest import on_both_databases
from tests.browser.driver import Tab
from tests.browser.journeys import complete_with_totp, follow, identify_for_code, log_in_with_code
from tests.browser.server import CODE, DemoServer

pytestmark = pytest.mark.browser

__all__ = ["on_both_databases"]  # each journey on SQLite and on PostgreSQL

NEW_CODE = "58203716"


def test_code_login_of_the_demo_principal_user(tab: Tab, server: DemoServer) -> None:
    code = server.demo_code("01")
    log_in_with_code(tab, "123456789", "01", code)
    assert tab.path == "/home"
    assert "123456789" in tab.text()


def test_a_wrong_code_is_refused_and_announced(tab: Tab, server: DemoServer) -> None:
    user = server.user(totp=True, strong_days_ago=0)
    log_in_with_code(tab, user.client, user.number, "10293847")
    assert tab.path == "/login/code"
    alert = tab.page.locator("[role=alert]")
    assert alert.count() == 1
    assert tab.page.get_attribute("#code", "aria-invalid") == "true"
    assert "code-error" in (tab.page.get_attribute("#code", "aria-describedby") or "")
    tab.fill("code", CODE)
    tab.submit("/login/code")
    assert tab.path == "/home"


def test_one_time_code_changed_then_totp_at_first_access(tab: Tab, server: DemoServer) -> None:
    user = server.user(change=False, totp=True)
    identify_for_code(tab, user.client, user.number)
    tab.fill("code", user.one_time)
    tab.submit("/login/code")
    assert tab.path == "/login/change-code"
    tab.fill("current", user.one_time)
    tab.fill("new", NEW_CODE)
    tab.fill("confirm", NEW_CODE)
    tab.submit("/login/change-code")
    # first access: strong authentication; the TOTP completes it
    complete_with_totp(tab, user)


def test_the_90_day_prompt_completed_by_totp(tab: Tab, server: DemoServer) -> None:
    user = server.user(totp=True, strong_days_ago=91)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong"
    follow(tab, "/login/totp")
    right = user.totp_code()  # one time step; a wrong code spends none (no waiting)
    tab.fill("code", f"{(int(right) + 1) % 10**6:06d}")
    tab.submit("/login/totp")
    assert tab.path == "/login/totp"
    assert tab.page.locator("[role=alert]").count() == 1
    tab.fill("code", right)
    tab.submit("/login/totp")
    assert tab.path == "/home"
