"""Steps shared by the journeys: the two-step identification, then the confidential code."""

from __future__ import annotations

from tests.browser.driver import Tab
from tests.browser.server import CODE, User

__all__ = [
    "complete_with_totp",
    "follow",
    "identify",
    "identify_for_code",
    "log_in_with_code",
    "strong_login",
]


def follow(tab: Tab, href: str) -> None:
    """Click the link to ``href`` on the page."""
    with tab.page.expect_navigation():
        tab.page.click(f'a[href="{href}"]')
    tab.arrived()


def identify(tab: Tab, client: str, user: str) -> None:
    """The client identifier, then the user number: the page of the default method."""
    tab.open("/login")
    tab.fill("client_id", client)
    tab.submit("/login")
    tab.fill("user_number", user)
    tab.submit("/login/user")


def identify_for_code(tab: Tab, client: str, user: str) -> None:
    """Identified, on the code's page (a user with other methods chooses it)."""
    identify(tab, client, user)
    if tab.path == "/login/method":
        follow(tab, "/login/code")
    assert tab.path == "/login/code", tab.path


def log_in_with_code(tab: Tab, client: str, user: str, code: str) -> None:
    identify_for_code(tab, client, user)
    tab.fill("code", code)
    tab.submit("/login/code")


def strong_login(tab: Tab, user: User) -> None:
    """Code, then the TOTP that the first access asks for."""
    identify_for_code(tab, user.client, user.number)
    tab.fill("code", CODE)
    tab.submit("/login/code")
    complete_with_totp(tab, user)


def complete_with_totp(tab: Tab, user: User) -> None:
    """The strong authentication the login asks for (first access, 90 days), by the TOTP."""
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/totp")
    tab.fill("code", user.totp_code())
    tab.submit("/login/totp")
    assert tab.path == "/home", tab.text()
