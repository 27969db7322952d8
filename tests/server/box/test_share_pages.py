"""Sharing a document through the real app (ADR 0068): the link on the document's page for
who may share, the form and its refusals (in the user's language), the history of one's
shares, the named rate limit, and the users' JSON API (202, problem details with a
``detail``, the same 404 as a missing document)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from securebox_auth.shell.gateways import FileOutbox
from securebox_server.box.reading import BoxReader
from securebox_server.box.shares import SHARE
from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.jobs.wiring import build_jobs
from tests.server.box.conftest import PAYSLIP, T0, seed_world
from tests.server.box.test_pages import COLLABORATOR, PRINCIPAL, Site, site  # noqa: F401
from tests.server.conftest import AppMaker, token

TO = "auditor@firm.example"
LINK = re.compile(r'href="/documents/([^"/]+)/share"')
TOKENS = re.compile(r'(name="csrf_token" value|nonce)="[^"]*"')


@pytest.fixture
def limited(make_app: AppMaker) -> Site:
    """The site with the database rate limits on (the default ones)."""
    client, box, clock = make_app(rate_limits_enabled=True)
    clock.at = T0
    seed_world(box)
    reader = client.app.state.server.reader  # type: ignore[attr-defined]
    assert isinstance(reader, BoxReader)
    reader.store.define_type(PAYSLIP)
    return Site(client, box, clock, reader)


def shares(site: Site) -> list[sa.RowMapping]:  # noqa: F811
    engine = site.reader.store.engine
    with engine.connect() as conn:
        query = sa.select(BOX_NOTIFICATIONS).where(BOX_NOTIFICATIONS.c.kind == SHARE)
        return list(conn.execute(query).mappings())


def test_a_user_shares_a_document_from_its_page(site: Site) -> None:  # noqa: F811
    doc_id = site.publish(label="Payslip March")
    browser = site.browser(PRINCIPAL)
    page = browser.get(f"/documents/{doc_id}")
    assert LINK.findall(page.text) == [doc_id]
    form = browser.get(f"/documents/{doc_id}/share")
    assert form.status_code == 200
    assert "Payslip March" in form.text
    sent = browser.post(
        f"/documents/{doc_id}/share",
        data={"csrf_token": token(form.text), "address": f"  {TO} ", "note": "For the audit"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/documents/{doc_id}/share?sent=1"
    shown = browser.get(sent.headers["location"])
    assert 'role="status"' in shown.text
    assert TO in shown.text
    assert "Waiting to be sent" in shown.text
    (row,) = shares(site)
    assert (row["address"], row["note"], row["language"]) == (TO, "For the audit", "en")
    assert row["user_number"] == PRINCIPAL.user_number.value


@pytest.mark.parametrize(
    ("address", "note", "said"),
    [
        ("", "", "Enter one e-mail address"),
        ("a@b.example, c@d.example", "", "Enter one e-mail address"),
        ("Eve <eve@evil.example>", "", "Enter one e-mail address"),
        ("eve@evil.example\r\nBcc: x@y.example", "", "Enter one e-mail address"),
        (TO, "x" * 501, "at most 500 characters"),
        (TO, "a\x1b[31mred", "plain text"),
    ],
)
def test_a_refused_share_says_why_and_writes_nothing(
    site: Site,  # noqa: F811
    address: str,
    note: str,
    said: str,
) -> None:
    doc_id = site.publish()
    browser = site.browser(PRINCIPAL)
    form = browser.get(f"/documents/{doc_id}/share")
    answer = browser.post(
        f"/documents/{doc_id}/share",
        data={"csrf_token": token(form.text), "address": address, "note": note},
    )
    assert answer.status_code == 400
    assert said in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert shares(site) == []


def test_the_form_is_in_french_for_a_french_user(site: Site) -> None:  # noqa: F811
    doc_id = site.publish()
    browser = site.browser(PRINCIPAL, lang="fr")
    form = browser.get(f"/documents/{doc_id}/share")
    assert "Partager un document" in form.text
    answer = browser.post(
        f"/documents/{doc_id}/share", data={"csrf_token": token(form.text), "address": "x"}
    )
    assert "Indiquez une seule adresse e-mail" in answer.text


def test_who_may_not_share_gets_the_answer_of_a_missing_document(site: Site) -> None:  # noqa: F811
    doc_id = site.publish()
    browser = site.browser(COLLABORATOR)  # view and download only
    assert browser.get(f"/documents/{doc_id}").status_code == 200
    assert LINK.findall(browser.get(f"/documents/{doc_id}").text) == []
    unknown = "doc_" + "0" * 22
    missing = browser.get(f"/documents/{unknown}/share")
    refused = browser.get(f"/documents/{doc_id}/share")
    assert refused.status_code == missing.status_code
    assert TOKENS.sub("", refused.text).replace(doc_id, unknown) == TOKENS.sub("", missing.text)
    assert missing.status_code == 404
    page = browser.get(f"/documents/{doc_id}")
    posted = browser.post(
        f"/documents/{doc_id}/share", data={"csrf_token": token(page.text), "address": TO}
    )
    assert posted.status_code == 404
    assert shares(site) == []


def test_the_share_limit_is_named_and_per_account(limited: Site) -> None:
    doc_id = limited.publish()
    browser = limited.browser(PRINCIPAL)
    form = browser.get(f"/documents/{doc_id}/share")
    statuses = [
        browser.post(
            f"/documents/{doc_id}/share",
            data={"csrf_token": token(form.text), "address": f"r{n}@firm.example"},
            follow_redirects=False,
        ).status_code
        for n in range(11)
    ]
    assert statuses == [303] * 10 + [429]  # box.share.account: 10 an hour
    assert len(shares(limited)) == 10


def test_the_api_shares_and_lists(site: Site) -> None:  # noqa: F811
    doc_id = site.publish()
    browser = site.browser(PRINCIPAL)
    headers = {"Origin": "http://testserver"}
    url = f"/api/v1/documents/{doc_id}/shares"
    made = browser.post(url, json={"to": TO, "note": "Hello"}, headers=headers)
    assert made.status_code == 202, made.text
    body = made.json()
    assert (body["to"], body["status"], body["sent_at"]) == (TO, "pending", None)
    listed = browser.get(url).json()["shares"]
    assert [s["id"] for s in listed] == [body["id"]]
    bad = browser.post(url, json={"to": "Eve <eve@evil.example>"}, headers=headers)
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["detail"] == "Enter one e-mail address, such as name@example.com."
    assert browser.post(url, headers=headers).status_code == 400  # no body
    extra = browser.post(url, json={"to": TO, "bcc": TO}, headers=headers)
    assert extra.status_code in (400, 422)
    missing = browser.post(
        "/api/v1/documents/doc_" + "0" * 22 + "/shares", json={"to": TO}, headers=headers
    )
    other = site.browser(COLLABORATOR).post(url, json={"to": TO}, headers=headers)
    assert missing.status_code == other.status_code == 404
    assert len(shares(site)) == 1


def test_an_idempotency_key_makes_one_share(site: Site) -> None:  # noqa: F811
    """The IETF Idempotency-Key draft: the same key, document and address answer the first
    share (``Idempotent-Replayed``), nothing written; the key for another share is 422."""
    first_doc, second_doc = site.publish(), site.publish()
    browser = site.browser(PRINCIPAL)
    headers = {"Origin": "http://testserver", "Idempotency-Key": '"share-7f3a"'}
    url = f"/api/v1/documents/{first_doc}/shares"
    made = browser.post(url, json={"to": TO}, headers=headers)
    again = browser.post(url, json={"to": TO, "note": "once more"}, headers=headers)
    assert (made.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == made.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in made.headers
    other_address = browser.post(url, json={"to": "x@firm.example"}, headers=headers)
    other_doc = browser.post(
        f"/api/v1/documents/{second_doc}/shares", json={"to": TO}, headers=headers
    )
    assert other_address.status_code == other_doc.status_code == 422
    assert other_address.json()["code"] == "idempotency_conflict"
    fresh = browser.post(url, json={"to": TO}, headers={**headers, "Idempotency-Key": "k2"})
    assert fresh.status_code == 202
    assert fresh.json()["id"] != made.json()["id"]
    assert len(shares(site)) == 2
    tenant = PRINCIPAL.client_id.value
    events = [s.event.action for s in site.box.audit_log(tenant)]
    assert events.count("box.document.share") == 2  # a replay is not a share


def test_in_the_demo_the_outbox_shows_the_shared_document(
    make_app: AppMaker, tmp_path: Path
) -> None:
    """Demo mode: the jobs send a share to the file outbox, whose page names the attached
    PDF and its size (what a demo shows instead of a real mail)."""
    outbox = tmp_path / "outbox.jsonl"
    client, box, clock = make_app(outbox=outbox)
    clock.at = T0
    seed_world(box)
    server = client.app.state.server  # type: ignore[attr-defined]
    server.reader.store.define_type(PAYSLIP)
    demo = Site(client, box, clock, server.reader)
    doc_id = demo.publish(label="Payslip March")
    browser = demo.browser(PRINCIPAL)
    form = browser.get(f"/documents/{doc_id}/share")
    browser.post(f"/documents/{doc_id}/share", data={"csrf_token": token(form.text), "address": TO})
    jobs = build_jobs(server.settings, box, server.reader.store, worker="w1")
    jobs.run_once(force=True)
    (mail,) = [m for m in FileOutbox(outbox).messages() if m["to"] == TO]
    assert mail["attachments"] == f"document.pdf ({len(demo.bodies[doc_id])} bytes)"
    page = browser.get("/demo/outbox")
    assert f"Attached: document.pdf ({len(demo.bodies[doc_id])} bytes)" in page.text
