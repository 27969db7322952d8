"""The digital box in the browser: a sender's document arrives, the principal user of the
demo subscription sees "1 new document" at login, finds it by label and date, opens it and
downloads it (the bytes' SHA-256 is the one the page shows), then shares it with an
accountant by e-mail and sees the share listed."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

import pytest

from securebox_auth.identity import Principal
from securebox_server.box.model import Draft
from securebox_server.box.samples import sample_pdf
from securebox_server.box.upload import check_upload
from securebox_server.demo_box_plan import BAKERY, BANK
from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

BOSS = Principal.parse("123456789", "01")
NEW = {
    "en": re.compile(r"\b1 new document since your last visit"),
    "fr": re.compile(r"\b1 nouveau document depuis votre dernière visite"),
}


def _arrives(server: DemoServer, label: str, issued: datetime) -> str:
    """A new statement for the bakery, published by the bank as a sender would; its id."""
    body = sample_pdf(title=label, lines=("Solde au 14 mars : 1 234,56 EUR",), seed=7)
    draft = Draft("releve-compte", label, issued, check_upload(body, "releve.pdf"))
    published = server.documents.publish(
        BANK, draft, [BAKERY], idempotency_key=f"browser-{secrets.token_hex(8)}"
    )
    (document_id,) = published.document_ids
    return document_id


def test_a_new_document_found_opened_and_downloaded(
    tab: Tab, server: DemoServer, lang: str
) -> None:
    server.documents.visit(BOSS)  # the user's last visit: now
    token = secrets.token_hex(4)
    label = f"Relevé de compte {token}"
    document_id = _arrives(server, label, datetime(2021, 3, 14, tzinfo=UTC))
    code = server.demo_code("01")
    log_in_with_code(tab, "123456789", "01", code)
    assert tab.path == "/home"
    news = tab.page.inner_text("p.new-documents")
    assert NEW[lang].search(news), news

    follow(tab, "/documents")
    tab.fill("label", token)
    tab.fill("from", "2021-03-01")
    tab.fill("to", "2021-03-31")
    tab.submit("/documents")
    results = tab.page.locator("table.documents tbody tr")
    assert results.count() == 1
    assert token in results.inner_text()
    tab.fill("from", "2021-04-01")  # the same words, another month: nothing
    tab.fill("to", "2021-04-30")
    tab.submit("/documents")
    assert tab.page.locator("table.documents").count() == 0

    tab.open(f"/documents/{document_id}")
    assert tab.page.inner_text("h1") == label
    shown = tab.page.inner_text("code.digest").strip().lower()
    viewed = tab.page.request.get(f"{server.base}/documents/{document_id}/view")
    assert viewed.ok
    assert viewed.headers["content-type"].startswith("application/pdf")
    with tab.page.expect_download() as download:
        tab.page.click(f'a[href="/documents/{document_id}/download"]')
    saved = download.value.path()
    data = saved.read_bytes()
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() in shown
    assert hashlib.sha256(viewed.body()).hexdigest() in shown

    follow(tab, f"/documents/{document_id}/share")
    tab.fill("address", "comptable@cabinet.example")
    tab.fill("note", "Pour la clôture des comptes")
    tab.submit(f"/documents/{document_id}/share")
    assert tab.path == f"/documents/{document_id}/share"
    assert tab.page.locator('p[role="status"]').count() == 1
    assert "comptable@cabinet.example" in tab.page.inner_text("table")


def test_another_users_document_is_not_found(tab: Tab, server: DemoServer) -> None:
    """User 03 sees only the bakery's payroll: a statement answers 404 like a missing id."""
    document_id = _arrives(server, "Relevé de compte privé", datetime(2021, 3, 15, tzinfo=UTC))
    log_in_with_code(tab, "123456789", "03", server.demo_code("03"))
    if tab.path == "/login/strong":  # the demo's 90-day prompt (until a run answers it)
        follow(tab, "/login/totp")
        tab.fill("code", server.demo_totp("03").code())
        tab.submit("/login/totp")
    assert tab.path == "/home"
    missing = tab.page.request.get(f"{server.base}/documents/{secrets.token_hex(16)}")
    hidden = tab.page.request.get(f"{server.base}/documents/{document_id}")
    assert (hidden.status, missing.status) == (404, 404)
