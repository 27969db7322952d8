"""Django's admin still works for the portal's own tables, for its staff."""

from __future__ import annotations

from django.test import Client

from bank.demo import ALICE_CODE
from bank.models import Document, User

from .conftest import Portal, log_in

PASSWORD = "a long staff password"


def _staff(client: Client) -> Client:
    User.objects.create_superuser("admin", PASSWORD)
    page = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert page.status_code == 302
    return client


def test_staff_manage_the_portal_tables(client: Client, portal: Portal) -> None:
    admin = _staff(client)
    for url in ("/admin/", "/admin/bank/user/", "/admin/bank/document/", "/admin/bank/payee/"):
        assert admin.get(url).status_code == 200, url
    users = admin.get("/admin/bank/user/").content.decode()
    assert "123456789:01" in users
    assert "Alice Martin" in users
    added = admin.post(
        "/admin/bank/document/add/",
        {
            "client_id": "123456789",
            "company": "732829320",
            "theme": "payroll",
            "document_id": "acme-pay-2026-03",
            "label": "ACME payslips March 2026",
            "issued_at_0": "2026-03-05",
            "issued_at_1": "09:00:00",
            "body": "",
        },
    )
    assert added.status_code == 302, added.content.decode()
    assert Document.objects.filter(document_id="acme-pay-2026-03").exists()
    alice = User.objects.get(username="123456789:01")
    edited = admin.post(
        f"/admin/bank/user/{alice.pk}/change/",
        {
            "username": alice.username,
            "name": "Alice Martin-Leroy",
            "mobile": alice.mobile,
            "is_active": "on",
        },
    )
    assert edited.status_code == 302, edited.content.decode()
    alice.refresh_from_db()
    assert alice.name == "Alice Martin-Leroy"
    assert not alice.has_usable_password()  # a customer still signs in through securebox only


def test_a_document_added_in_the_admin_is_filtered_by_securebox(
    client: Client, portal: Portal
) -> None:
    Document.objects.create(
        client_id="987654321",
        company="732829320",
        theme="payroll",
        document_id="other-box",
        label="Another subscription's payslips",
        issued_at=portal.clock.now(),
    )
    log_in(client, portal, "01", ALICE_CODE, None)
    listed = [d.document_id for d in client.get("/").context["documents"]]
    assert "other-box" not in listed
    assert len(listed) == 5


def test_customers_do_not_reach_the_admin(alice: Client) -> None:
    page = alice.get("/admin/")
    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")
    refused = Client().post(
        "/admin/login/?next=/admin/", {"username": "123456789:01", "password": ALICE_CODE}
    )
    assert refused.status_code == 200  # the form again: a customer has no Django password
    assert b"Please enter the correct" in refused.content


def test_the_admin_refuses_what_securebox_could_not_read(client: Client, portal: Portal) -> None:
    admin = _staff(client)
    page = admin.post(
        "/admin/bank/document/add/",
        {
            "client_id": "123456789",
            "company": "732829321",  # fails the SIREN check digit
            "theme": "Pay roll!",
            "document_id": "bad",
            "label": "Bad",
            "issued_at_0": "2026-03-05",
            "issued_at_1": "09:00:00",
        },
    )
    assert page.status_code == 200  # the form again, with the errors
    errors = page.context["adminform"].form.errors
    assert set(errors) == {"company", "theme"}
    assert not Document.objects.filter(document_id="bad").exists()
