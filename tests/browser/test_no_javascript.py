"""Without JavaScript (a browser context with scripts off): the code login with the forced
change of a one-time code and the TOTP, the digital box (home, search, a document and its
download) and logout all work with plain forms and links; the pages whose form needs a
script (passkey, certificate) say so in a ``<noscript>`` message instead of failing
silently."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import pytest

from securebox_auth.identity import Principal
from securebox_server.box.model import Draft
from securebox_server.box.samples import sample_pdf
from securebox_server.box.upload import check_upload
from securebox_server.demo_box_plan import BAKERY, BANK
from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import (
    complete_with_totp,
    follow,
    identify,
    identify_for_code,
    log_in_with_code,
)
from tests.browser.server import CODE, DemoServer

pytestmark = pytest.mark.browser

NEW_CODE = "69302471"
BOSS = Principal.parse("123456789", "01")
NEEDS_SCRIPT = {"en": "needs JavaScript", "fr": "a besoin de JavaScript"}


def _log_out(tab: Tab) -> None:
    """The home page's "Log out"; the home page then asks to log in."""
    tab.open("/home")
    tab.submit("/logout")
    tab.open("/home")
    assert tab.path.startswith("/login"), tab.path


def _says_it_needs_javascript(tab: Tab) -> None:
    message = tab.page.locator("main p.warning")
    assert message.is_visible(), tab.text()
    assert NEEDS_SCRIPT[tab.lang] in message.inner_text()


def test_first_access_code_change_and_totp_then_logout(
    open_tab: OpenTab, server: DemoServer
) -> None:
    user = server.user(change=False, totp=True)
    tab = open_tab(javascript=False)
    identify_for_code(tab, user.client, user.number)
    tab.fill("code", user.one_time)
    tab.submit("/login/code")
    assert tab.path == "/login/change-code", tab.path
    tab.fill("current", user.one_time)
    tab.fill("new", NEW_CODE)
    tab.fill("confirm", "69302472")  # a typing mistake: the page says so
    tab.submit("/login/change-code")
    assert tab.path == "/login/change-code", tab.path
    assert tab.page.locator(".error-summary").count() == 1
    tab.fill("current", user.one_time)
    tab.fill("new", NEW_CODE)
    tab.fill("confirm", NEW_CODE)
    tab.submit("/login/change-code")
    complete_with_totp(tab, user)
    assert user.client in tab.text()
    _log_out(tab)
    # the new code is the one that now logs in (strong a moment ago: the code alone)
    log_in_with_code(tab, user.client, user.number, NEW_CODE)
    assert tab.path == "/home", tab.text()


def test_the_box_searched_opened_and_downloaded(open_tab: OpenTab, server: DemoServer) -> None:
    token = secrets.token_hex(4)
    label = f"Relevé sans script {token}"
    body = sample_pdf(title=label, lines=("Solde : 42,00 EUR",), seed=3)
    draft = Draft(
        "releve-compte", label, datetime(2022, 6, 9, tzinfo=UTC), check_upload(body, "r.pdf")
    )
    published = server.documents.publish(
        BANK, draft, [BAKERY], idempotency_key=f"browser-{secrets.token_hex(8)}"
    )
    (document_id,) = published.document_ids
    tab = open_tab(javascript=False)
    log_in_with_code(tab, "123456789", "01", server.demo_code("01"))
    assert tab.path == "/home", tab.text()
    follow(tab, "/documents")
    tab.fill("label", token)
    tab.fill("from", "2022-06-01")
    tab.fill("to", "2022-06-30")
    tab.submit("/documents")
    rows = tab.page.locator("table.documents tbody tr")
    assert rows.count() == 1, tab.text()
    assert token in rows.inner_text()
    with tab.page.expect_navigation():
        rows.locator(f'a[href="/documents/{document_id}"]').click()
    tab.arrived()
    assert tab.page.inner_text("h1") == label
    shown = tab.page.inner_text("code.digest").strip().lower()
    with tab.page.expect_download() as download:
        tab.page.click(f'a[href="/documents/{document_id}/download"]')
    data = download.value.path().read_bytes()
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() in shown
    _log_out(tab)


def test_pages_whose_form_needs_a_script_say_so(open_tab: OpenTab, server: DemoServer) -> None:
    user = server.user(totp=True)  # first access: code and TOTP, a strong login
    tab = open_tab(javascript=False)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/totp")
    tab.fill("code", user.totp_code())
    tab.submit("/login/totp")
    assert tab.path == "/home", tab.text()
    for page in ("/profile/passkeys/add", "/profile/certificates/add"):
        tab.open(page)
        assert tab.path == page, tab.path
        _says_it_needs_javascript(tab)
    _log_out(tab)
    # the demo's user 01 has a certificate: its login page says the same
    identify(tab, "123456789", "01")
    assert tab.path == "/login/method", tab.path
    follow(tab, "/login/certificate")
    _says_it_needs_javascript(tab)
    # the same page with scripts on does not show it
    scripted = open_tab()
    identify(scripted, "123456789", "01")
    follow(scripted, "/login/certificate")
    assert scripted.page.locator("main p.warning").count() == 0
