"""The box's pages through the real app: who sees what, one 404 for every document one may
not open, view and download headers, read status and first reader, keyset pages with
sealed cursors, the company switcher, new documents since the last visit, both languages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_server.box.model import Draft
from securebox_server.box.reading import BoxReader
from securebox_server.box.samples import sample_pdf
from securebox_server.db.schema import BOX_BLOBS
from tests.server.box.conftest import (
    C1,
    C2,
    CLIENT,
    OTHER,
    PAYSLIP,
    SENDER,
    T0,
    TAX_NOTICE,
    seed_world,
    upload,
    who,
)
from tests.server.conftest import CODE, AppMaker, identify, submit_code, token

ROW = re.compile(r'<a href="/documents/([A-Za-z0-9_.:-]+)">')
NEXT = re.compile(r'<a href="(/documents\?[^"]+)" rel="next">')


@dataclass
class Site:
    client: TestClient
    box: Securebox
    clock: FixedClock
    reader: BoxReader
    published: int = 0
    bodies: dict[str, bytes] = field(default_factory=dict)
    coded: set[Principal] = field(default_factory=set)

    def publish(
        self,
        type_: str = "payslip",
        company: Siren = C1,
        *,
        filename: str = "document.pdf",
        label: str | None = None,
    ) -> str:
        self.published += 1
        n = self.published
        title = label or f"Document {n}"
        body = sample_pdf(title=title, lines=[f"Reference {n}"], seed=n)
        draft = Draft(
            type_, title, self.clock.now() - timedelta(days=1, minutes=n), upload(body, filename)
        )
        done = self.reader.store.publish(SENDER, draft, [company], idempotency_key=f"k{n}")
        (doc_id,) = done.document_ids
        self.bodies[doc_id] = body
        return doc_id

    def browser(self, principal: Principal, lang: str = "en") -> TestClient:
        """A new browser, logged in as ``principal`` (a new session)."""
        browser = TestClient(
            self.client.app,
            base_url="http://testserver",
            raise_server_exceptions=False,
            headers={"Accept-Language": lang},
        )
        client_id, user = principal.client_id.value, principal.user_number.value
        if principal not in self.coded:  # a code of their own, once
            letter = self.box.codes.regenerate_code(Operator("back-office"), principal)
            self.clock.advance(timedelta(milliseconds=1))  # it ended the sessions until now
            assert self.box.codes.change_code(client_id, user, letter.reveal(), CODE).changed
            self.coded.add(principal)
        renewal = self.box.factors.renewal_change(principal, "web", self.clock.now())
        self.box.store.commit([renewal], [])
        identify(browser, client_id, user)
        done = submit_code(browser)
        assert done.headers.get("location") == "/home", done.text
        return browser


@pytest.fixture
def site(make_app: AppMaker) -> Site:
    client, box, clock = make_app()
    clock.at = T0
    seed_world(box)
    reader = client.app.state.server.reader  # type: ignore[attr-defined]
    assert isinstance(reader, BoxReader)
    reader.store.define_type(PAYSLIP)
    reader.store.define_type(TAX_NOTICE)
    return Site(client, box, clock, reader)


PRINCIPAL, COLLABORATOR = who(CLIENT, "01"), who(CLIENT, "03")
ACCOUNTANT, PENDING = who(OTHER, "01"), who(OTHER, "02")


def listed(html: str) -> list[str]:
    return ROW.findall(html)


def test_a_collaborator_sees_only_their_theme_and_404_elsewhere(site: Site) -> None:
    payslip = site.publish(label="March payslip")
    tax = site.publish("tax-notice", label="Corporate tax notice")
    browser = site.browser(COLLABORATOR)
    home = browser.get("/home")
    assert home.status_code == 200
    assert "March payslip" in home.text
    assert "Corporate tax notice" not in home.text
    assert listed(browser.get("/documents").text) == [payslip]
    assert browser.get(f"/documents/{payslip}").status_code == 200
    missing = "d" + "x" * 22
    for suffix in ("", "/view", "/download"):
        refused = browser.get(f"/documents/{tax}{suffix}")
        absent = browser.get(f"/documents/{missing}{suffix}")
        assert refused.status_code == absent.status_code == 404
        assert refused.headers["content-type"] == absent.headers["content-type"]
        assert refused.text.replace(tax, "ID") == absent.text.replace(missing, "ID")
        assert b"PDF" not in refused.content


def test_a_third_party_sees_nothing_before_acceptance(site: Site) -> None:
    on_c1 = site.publish()
    pending = site.browser(PENDING)
    assert listed(pending.get("/home").text) == []
    assert listed(pending.get("/documents").text) == []
    assert pending.get(f"/documents/{on_c1}").status_code == 404
    accountant = site.browser(ACCOUNTANT)
    assert listed(accountant.get("/documents").text) == [on_c1]


def test_view_and_download_headers(site: Site) -> None:
    doc_id = site.publish(filename='Relevé "mars" 2026.pdf')
    browser = site.browser(PRINCIPAL)
    view = browser.get(f"/documents/{doc_id}/view")
    assert view.status_code == 200
    assert view.content == site.bodies[doc_id]
    assert view.headers["content-type"] == "application/pdf"
    assert view.headers["content-disposition"] == (
        'inline; filename="Relev_ _mars_ 2026.pdf"; '
        "filename*=UTF-8''Relev%C3%A9%20%22mars%22%202026.pdf"
    )
    assert view.headers["x-content-type-options"] == "nosniff"
    assert view.headers["cache-control"] == "no-store"
    csp = view.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'")
    assert csp.endswith("; sandbox")
    download = browser.get(f"/documents/{doc_id}/download")
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    assert download.content == view.content


def test_document_page_digest_read_status_and_first_reader(site: Site) -> None:
    doc_id = site.publish(label="April payslip")
    other = site.publish(label="May payslip")
    principal = site.browser(PRINCIPAL)
    page = principal.get(f"/documents/{doc_id}")
    body = site.bodies[doc_id]
    assert hashlib.sha256(body).hexdigest() in page.text
    assert "Not read yet" in page.text
    site.clock.advance(timedelta(minutes=1))
    collaborator = site.browser(COLLABORATOR)
    assert collaborator.get(f"/documents/{doc_id}/view").content == body
    site.clock.advance(timedelta(minutes=1))
    principal.get(f"/documents/{doc_id}/download")
    page = principal.get(f"/documents/{doc_id}")
    assert f"by {COLLABORATOR.key} on" in page.text
    assert listed(collaborator.get("/documents?read=read").text) == [doc_id]
    assert listed(collaborator.get("/documents?read=unread").text) == [other]
    actions = [s.event.action for s in site.box.audit_log(CLIENT.value)]
    assert actions.count("box.document.view") == 1
    assert actions.count("box.document.download") == 1


def test_a_corrupted_body_is_never_served(site: Site) -> None:
    doc_id = site.publish()
    with site.reader.store.engine.begin() as conn:
        conn.execute(update(BOX_BLOBS).values(body=b"%PDF-1.7 tampered"))
    answer = site.browser(PRINCIPAL).get(f"/documents/{doc_id}/view")
    assert answer.status_code == 503
    assert "tampered" not in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "The bank has been alerted" in answer.text


def test_pages_follow_sealed_cursors_without_gaps_or_repeats(site: Site) -> None:
    made = [site.publish() for _ in range(25)]
    browser = site.browser(PRINCIPAL)
    seen: list[str] = []
    url: str | None = "/documents?sender=" + SENDER
    while url is not None:
        page = browser.get(url.replace("&amp;", "&"))
        assert page.status_code == 200
        rows = listed(page.text)
        assert len(rows) <= 20
        seen.extend(rows)
        found = NEXT.search(page.text)
        url = found.group(1) if found else None
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == set(made)
    first = browser.get("/documents").text
    link = NEXT.search(first)
    assert link is not None
    cursor = link.group(1).rsplit("after=", 1)[1]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    refused = browser.get(f"/documents?after={tampered}")
    assert refused.status_code == 400
    assert "This page link is not valid" in refused.text


def test_search_form_errors_are_400_with_labels(site: Site) -> None:
    browser = site.browser(PRINCIPAL)
    page = browser.get("/documents?from=2026-13-01&to=2026-01-01&read=maybe")
    assert page.status_code == 400
    assert 'href="#from"' in page.text
    assert 'href="#read"' in page.text
    for name in ("from", "to", "theme", "label", "sender", "read", "company"):
        assert f'<label for="{name}">' in page.text


def test_company_switcher(site: Site) -> None:
    on_c1, on_c2 = site.publish(company=C1), site.publish(company=C2)
    browser = site.browser(PRINCIPAL)
    home = browser.get("/home")
    assert f"{C1.value} \N{EN DASH} ACME</option>" in home.text
    assert f"{C2.value} \N{EN DASH} ACME Services</option>" in home.text
    assert listed(browser.get(f"/home?company={C2.value}").text) == [on_c2]
    assert listed(browser.get(f"/documents?company={C1.value}").text) == [on_c1]
    assert browser.get("/home?company=123").status_code == 400
    # one company only: no switcher
    assert "company-switcher" not in site.browser(ACCOUNTANT).get("/home").text


def test_new_documents_since_the_last_visit(site: Site) -> None:
    site.publish()
    first = site.browser(COLLABORATOR)
    assert "Welcome to your box." in first.get("/home").text
    site.clock.advance(timedelta(minutes=2))  # within the idle timeout
    site.publish()
    site.publish()
    site.publish("tax-notice")  # not the collaborator's
    assert "Welcome to your box." in first.get("/home").text  # the same session
    site.clock.advance(timedelta(hours=2))
    second = site.browser(COLLABORATOR)
    text = second.get("/home").text
    assert '<p role="status" aria-live="polite" class="new-documents">2 new documents' in text
    assert "2 new documents" in second.get("/home").text  # not rotated on every load


def test_french_and_english_and_the_accessible_version(site: Site) -> None:
    doc_id = site.publish()
    french = site.browser(PRINCIPAL, lang="fr")
    home = french.get("/home").text
    assert '<html lang="fr">' in home
    assert "Vos documents" in home
    assert "Les documents les plus récents" in home
    assert "Empreinte (SHA-256)" in french.get(f"/documents/{doc_id}").text
    search = french.get("/documents").text
    assert "Rechercher dans vos documents" in search
    assert "<caption>Résultats de la recherche</caption>" in search
    english = site.browser(PRINCIPAL, lang="en")
    assert "<caption>The newest documents</caption>" in english.get("/home").text
    page = english.get("/documents")
    english.post(
        "/preferences/accessible",
        data={"on": "1", "back": "/documents", "csrf_token": token(page.text)},
    )
    assert "accessible.css" in english.get("/documents").text
    assert '<th scope="col">' in english.get("/documents").text
