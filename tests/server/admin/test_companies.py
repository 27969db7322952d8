"""Companies through the real app: add (SIREN checked, the insurer's secret typed on the
confirmation, never stored), the sheet, remove after a confirmation page; only those the
library lets manage companies change them (a collaborator sees those assigned to them);
every change behind a step-up; the JSON API."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import sqlalchemy as sa

from securebox_auth.entitlements.model import CompanyScope, DocumentScope, Operation, Rights
from securebox_auth.identity import Principal, Siren
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.admin.directory import documents_of
from securebox_server.db.schema import BOX_DOCUMENTS
from tests.server.admin.world import ADMIN, C1, C2, CLIENT, COLLABORATOR, PRINCIPAL, Admin
from tests.server.conftest import token

NEW = Siren("443061841")
VIEW: Final = frozenset({Operation.VIEW})


def _portfolio(admin: Admin) -> set[Siren]:
    found = admin.box.store.get_subscription(CLIENT)
    assert found is not None
    return set(found.value.companies)


def test_an_administrator_adds_a_company_with_its_secret(admin: Admin) -> None:
    client = admin.login(ADMIN)
    started = admin.post(
        client, "/admin/companies", "/admin/companies", {"siren": "443 061 841", "name": "Nova"}
    )
    assert started.status_code == 303, started.text
    approval = client.get(started.headers["location"])
    assert "443 061 841" in approval.text
    assert "Nova" in approval.text
    done = admin.approve(client, started, proof=admin.proof_of(NEW).lower())
    assert done.status_code == 200, done.text
    assert NEW in _portfolio(admin)
    listed = client.get("/admin/companies")
    assert "Nova" in listed.text
    assert "443 061 841" in listed.text
    book = admin.app.state.orders
    assert all("proof" not in o.details for o in book.orders(ADMIN))


def test_a_wrong_secret_adds_nothing(admin: Admin) -> None:
    client = admin.login(ADMIN)
    started = admin.post(
        client, "/admin/companies", "/admin/companies", {"siren": "443061841", "name": "Nova"}
    )
    refused = admin.approve(client, started, proof="AAAA-BBBB-CCCC-DDDD")
    assert refused.status_code == 403
    assert "certification secret is wrong" in refused.text
    assert NEW not in _portfolio(admin)


def test_a_bad_siren_or_a_known_company_is_a_400_form(admin: Admin) -> None:
    client = admin.login(ADMIN)
    for siren in ("443061842", "12", "<b>", "732829320"):
        answer = admin.post(
            client, "/admin/companies", "/admin/companies", {"siren": siren, "name": "X"}
        )
        assert answer.status_code == 400, siren
        assert 'role="alert"' in answer.text
    assert admin.app.state.orders.orders(ADMIN) == []


def test_the_sheet_shows_the_siren_users_and_documents(admin: Admin) -> None:
    admin.publish(C1)
    admin.publish(C1)
    client = admin.login(PRINCIPAL)
    sheet = client.get(f"/admin/companies/{C1.value}")
    assert sheet.status_code == 200
    assert "732 829 320" in sheet.text
    assert ADMIN.key in sheet.text
    assert PRINCIPAL.key in sheet.text
    assert COLLABORATOR.key in sheet.text
    assert "<dd>2</dd>" in sheet.text
    assert client.get("/admin/companies/443061841").status_code == 404
    assert client.get("/admin/companies/junk").status_code == 404


def test_a_document_past_its_validity_is_neither_counted_nor_offered(admin: Admin) -> None:
    """Before the expiry job marks it, a document whose validity has passed is out of every
    reader's list: the company's sheet does not count it and the rights form does not offer
    it for partial rights (ADR 0030)."""
    kept, lapsed = admin.publish(C1), admin.publish(C1)
    now = admin.clock.now()
    with admin.documents.engine.begin() as conn:
        conn.execute(
            sa.update(BOX_DOCUMENTS)
            .where(BOX_DOCUMENTS.c.id == lapsed)
            .values(valid_until=now - timedelta(seconds=1))
        )
    client = admin.login(PRINCIPAL)
    assert "<dd>1</dd>" in client.get(f"/admin/companies/{C1.value}").text
    api = admin.api(admin.login(ADMIN))
    assert api.get(f"/api/v1/admin/companies/{C1.value}").json()["documents"] == 1
    offered = [i for i, _ in documents_of(admin.documents.engine, CLIENT, now)]
    assert offered == [kept]


def test_removal_asks_confirmation_then_a_step_up(admin: Admin) -> None:
    client = admin.login(ADMIN)
    confirm = client.get(f"/admin/companies/{C1.value}/remove")
    assert "Remove this company?" in confirm.text
    assert C1 in _portfolio(admin)  # a GET changes nothing
    started = admin.post(
        client, f"/admin/companies/{C1.value}/remove", f"/admin/companies/{C1.value}/remove", {}
    )
    done = admin.approve(client, started)
    assert done.status_code == 200, done.text
    assert C1 not in _portfolio(admin)


def _assign(admin: Admin, principal: Principal, *companies: Siren) -> None:
    """Give ``principal`` rights on ``companies`` only (view)."""
    store = admin.box.store
    found = store.get_subscription(CLIENT)
    assert found is not None
    rights = Rights(CompanyScope(chosen=frozenset(companies)), DocumentScope.all(), VIEW)
    changed = found.value.with_rights(principal, rights)
    store.commit([PutSubscription(CLIENT, found.version, changed)], [])


def test_a_collaborator_sees_the_companies_assigned_to_them_and_changes_none(
    admin: Admin,
) -> None:
    """Seed 002: a collaborator reaches the companies' pages with the SIRENs assigned to
    them, and may neither add nor remove a company."""
    anonymous = admin.browser()
    answer = anonymous.get("/admin/companies", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    _assign(admin, COLLABORATOR, C1)
    collaborator = admin.login(COLLABORATOR)
    home = collaborator.get("/home").text
    assert 'href="/admin/companies"' in home
    assert 'href="/admin/users"' in home
    assert 'href="/admin/third-parties"' not in home
    listed = collaborator.get("/admin/companies")
    assert listed.status_code == 200
    assert "732 829 320" in listed.text
    assert "552 100 554" not in listed.text  # not assigned to them
    assert 'action="/admin/companies"' not in listed.text  # no "add" form
    sheet = collaborator.get(f"/admin/companies/{C1.value}")
    assert sheet.status_code == 200
    assert "732 829 320" in sheet.text
    assert "/remove" not in sheet.text
    assert collaborator.get(f"/admin/companies/{C2.value}").status_code == 404
    assert collaborator.get(f"/admin/companies/{C1.value}/remove").status_code == 403
    for path, data in (
        ("/admin/companies", {"siren": "443061841", "name": "X"}),
        (f"/admin/companies/{C1.value}/remove", {}),
    ):
        page = collaborator.get("/home")
        refused = collaborator.post(path, data={**data, "csrf_token": token(page.text)})
        assert refused.status_code == 403, path
    assert admin.app.state.orders.orders(COLLABORATOR) == []
    api = admin.api(collaborator)
    body = api.get("/api/v1/admin/companies").json()
    assert [c["siren"] for c in body["companies"]] == [C1.value]
    assert body["manage"] is False
    one = api.get(f"/api/v1/admin/companies/{C1.value}").json()
    assert one["siren"] == C1.value
    assert "documents" not in one
    assert "third_parties" not in one
    assert api.get(f"/api/v1/admin/companies/{C2.value}").status_code == 404
    assert api.delete(f"/api/v1/admin/companies/{C1.value}").status_code == 403
    # the whole portfolio: every company, still no change
    store = admin.box.store
    found = store.get_subscription(CLIENT)
    assert found is not None
    everything = Rights(CompanyScope.portfolio(), DocumentScope.all(), VIEW)
    changed = found.value.with_rights(COLLABORATOR, everything)
    store.commit([PutSubscription(CLIENT, found.version, changed)], [])
    listed = collaborator.get("/admin/companies")
    assert "732 829 320" in listed.text
    assert "552 100 554" in listed.text
    assert 'action="/admin/companies"' not in listed.text


def test_the_json_api(admin: Admin) -> None:
    client = admin.api(admin.login(ADMIN))
    listed = client.get("/api/v1/admin/companies")
    assert listed.status_code == 200
    assert {c["formatted"] for c in listed.json()["companies"]} == {"732 829 320", "552 100 554"}
    sheet = client.get(f"/api/v1/admin/companies/{C1.value}").json()
    assert sheet["formatted"] == "732 829 320"
    assert sheet["documents"] == 0
    missing = client.get("/api/v1/admin/companies/443061841")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    body = {"siren": "443061841", "name": "Nova", "proof": admin.proof_of(NEW)}
    needed = client.post("/api/v1/admin/companies", json=body)
    assert needed.status_code == 401, needed.text
    assert needed.json()["code"] == "insufficient_user_authentication"
    assert "insufficient_user_authentication" in needed.headers["www-authenticate"]
    junk = client.post("/api/v1/admin/companies", json={**body, "siren": "443061842"})
    assert junk.status_code == 400
    assert NEW not in _portfolio(admin)
    collaborator = admin.api(admin.login(COLLABORATOR))
    assert collaborator.delete(f"/api/v1/admin/companies/{C1.value}").status_code == 403
    assert admin.browser().get("/api/v1/admin/companies").status_code == 401


def test_the_api_adds_and_removes_after_a_step_up(admin: Admin) -> None:
    browser = admin.login(ADMIN)
    started = admin.post(
        browser, "/admin/companies", "/admin/companies", {"siren": "443061841", "name": "Nova"}
    )
    assert admin.approve(browser, started, proof=admin.proof_of(NEW)).status_code == 200
    api = admin.api(browser)  # the step-up is fresh (5 minutes): the API changes directly
    other = Siren("123456782")
    body = {"siren": other.value, "name": "Other", "proof": admin.proof_of(other)}
    added = api.post("/api/v1/admin/companies", json=body)
    assert added.status_code == 201, added.text
    assert other in _portfolio(admin)
    wrong = api.post("/api/v1/admin/companies", json={**body, "proof": "AAAA-BBBB-CCCC-DDDD"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_proof"
    assert api.delete(f"/api/v1/admin/companies/{other.value}").status_code == 204
    assert other not in _portfolio(admin)
