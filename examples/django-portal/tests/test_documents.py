"""Entitlements filtering the portal's Document queryset, decided by securebox."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from securebox_auth import (
    CodeAnswer,
    CompanyScope,
    DocumentScope,
    Operation,
    OperationRequest,
    Principal,
    Rights,
    Theme,
    TotpAnswer,
    VisibilityFilter,
)

from bank.demo import ACME, ALICE, ALICE_CODE, BOB, next_totp
from bank.documents import may, visible_documents, visible_to
from bank.models import Document

from .conftest import Portal, log_in_bob


def _listed(client: Client) -> list[str]:
    page = client.get("/")
    assert page.status_code == 200
    return [d.document_id for d in page.context["documents"]]


def test_the_principal_user_sees_every_document(alice: Client) -> None:
    assert _listed(alice) == [
        "acme-vat-2026-q1",
        "services-stmt-2026-02",
        "acme-pay-2026-02",
        "services-pay-2026-01",
        "acme-pay-2026-01",
    ]


def test_a_clerk_sees_his_company_and_theme_only(client: Client, portal: Portal) -> None:
    bob = log_in_bob(client, portal)
    assert _listed(bob) == ["acme-pay-2026-02", "acme-pay-2026-01"]
    assert bob.get("/documents/123456789/acme-pay-2026-02/").status_code == 200
    # outside his rights: the same answer as a document that does not exist
    assert bob.get("/documents/123456789/acme-vat-2026-q1/").status_code == 404
    assert bob.get("/documents/123456789/services-pay-2026-01/").status_code == 404
    assert bob.get("/documents/123456789/no-such-document/").status_code == 404


def _strong_alice(portal: Portal) -> str:
    """A session of Alice that proved the code and TOTP just now (what managing
    entitlements asks for), through securebox's login and step-up flows."""
    box = portal.box
    portal.clock.advance(timedelta(seconds=30))  # the demo used this TOTP step already
    login = box.answer_login(box.start_login("123456789", "01").handle, CodeAnswer(ALICE_CODE))
    assert login.session_id is not None
    up = box.start_step_up(login.session_id, OperationRequest("entitlements_management"))
    up = box.prove_step_up(
        login.session_id, up.handle, TotpAnswer(next_totp(portal.demo.alice_totp, box))
    )
    assert up.ready, up.explain()
    return up.session_id


def test_a_change_of_rights_shows_at_the_next_request(client: Client, portal: Portal) -> None:
    bob = log_in_bob(client, portal)
    assert _listed(bob) == ["acme-pay-2026-02", "acme-pay-2026-01"]
    admin = _strong_alice(portal)
    payroll_and_tax = DocumentScope(themes=frozenset({Theme("payroll"), Theme("tax")}))
    wider = Rights(CompanyScope.of(ACME), payroll_and_tax, frozenset({Operation.VIEW}))
    portal.box.entitlements.set_rights(admin, BOB, wider)
    assert _listed(bob) == ["acme-vat-2026-q1", "acme-pay-2026-02", "acme-pay-2026-01"]
    assert bob.get("/documents/123456789/acme-vat-2026-q1/").status_code == 200
    portal.box.entitlements.set_rights(admin, BOB, Rights())
    assert _listed(bob) == []
    assert bob.get("/documents/123456789/acme-pay-2026-02/").status_code == 404


def test_the_queryset_and_each_decision_agree(client: Client, portal: Portal) -> None:
    """The Q built from securebox's filter lets through exactly the documents securebox's
    check allows, for each user and for each document operation."""
    for principal in (ALICE, BOB):
        for action in (Operation.VIEW, Operation.DOWNLOAD, Operation.SHARE):
            shown = set(visible_documents(principal, action).values_list("pk", flat=True))
            for document in Document.objects.all():
                allowed = may(principal, action, document).allowed
                assert (document.pk in shown) == allowed, (principal, action, document)
    assert set(visible_documents(BOB).values_list("document_id", flat=True)) == {
        "acme-pay-2026-01",
        "acme-pay-2026-02",
    }


def test_an_empty_filter_shows_nothing(portal: Portal) -> None:
    assert not visible_to(Document.objects.all(), VisibilityFilter(())).exists()
    stranger = Principal.parse("987654321", "01")
    assert not visible_documents(stranger).exists()


def test_the_list_needs_a_customer_session(client: Client, portal: Portal) -> None:
    page = client.get("/documents/123456789/acme-pay-2026-02/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")
