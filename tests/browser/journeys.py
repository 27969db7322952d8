"""Steps shared by the journeys: the two-step identification, then the confidential code."""

from __future__ import annotations

from tests.browser.driver import Tab

__all__ = ["follow", "identify", "identify_for_code", "log_in_with_code"]


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
