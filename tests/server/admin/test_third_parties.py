"""Third parties through the real app: declared with SIREN and name, invited by an e-mail
received by a real SMTP server and followed by its link; they see the invited company's
documents only once they accepted, and nothing after the revocation (404, like any
invisible document); a new third party gets an account whose one-time code goes by SMS
only; pending / added / declined / revoked / expired statuses; the JSON API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from securebox_auth.identity import ClientId, Principal
from tests.server.admin.world import ADMIN, C1, C2, COLLABORATOR, NEWCOMER, Admin
from tests.server.conftest import token

DECLARED = {"siren": "552 100 554", "name": "Cabinet Martin", "email": "martin@cabinet.example"}


def _declare(admin: Admin, client: TestClient, **more: str) -> str:
    """Declare a third party on C2 through the form and the step-up; the link received."""
    before = len(admin.mails())
    data = {**DECLARED, **more, "companies": [C2.value]}
    started = admin.post(client, "/admin/third-parties", "/admin/third-parties", data)
    done = admin.approve(client, started)
    assert done.status_code == 200, done.text
    mails = admin.mails()
    assert len(mails) == before + 1
    assert mails[-1]["To"] == DECLARED["email"]
    return admin.link(mails[-1])


def _existing(admin: Admin, client: TestClient) -> str:
    return _declare(
        admin, client, client_id=NEWCOMER.client_id.value, user_number=NEWCOMER.user_number.value
    )


def _status(admin: Admin, client: TestClient) -> str:
    page = client.get("/admin/third-parties")
    row = re.search(r"Cabinet Martin.*?</tr>", page.text, re.S)
    assert row is not None, page.text
    return row.group(0)


def _answer(admin: Admin, invitee: TestClient, link: str, what: str) -> None:
    page = invitee.get(link)
    assert page.status_code == 200, page.text
    started = invitee.post(
        f"{link}/{what}", data={"csrf_token": token(page.text)}, follow_redirects=False
    )
    done = admin.approve(invitee, started)
    assert done.status_code == 200, done.text


def test_invited_accepted_then_revoked(admin: Admin) -> None:
    document = admin.publish(C2)
    boss = admin.login(ADMIN)
    link = _existing(admin, boss)
    assert "Pending acceptance" in _status(admin, boss)
    anonymous = admin.browser()
    asked = anonymous.get(link)
    assert asked.status_code == 200
    assert "log in first" in asked.text
    assert "ACME" not in asked.text  # nothing about the inviter before the login
    invitee = admin.login(NEWCOMER)
    assert invitee.get(f"/documents/{document}").status_code == 404  # not yet
    page = invitee.get(link)
    assert "ACME Services" in page.text
    _answer(admin, invitee, link, "accept")
    assert "Added" in _status(admin, boss)
    assert invitee.get(f"/documents/{document}").status_code == 200
    assert invitee.get(link).status_code == 404  # the link works once
    row = _status(admin, boss)
    invitation = re.search(r"/admin/third-parties/([A-Za-z0-9_-]+)/revoke", row)
    assert invitation is not None
    path = f"/admin/third-parties/{invitation.group(1)}/revoke"
    done = admin.approve(boss, admin.post(boss, "/admin/third-parties", path, {}))
    assert done.status_code == 200, done.text
    assert "Revoked" in _status(admin, boss)
    assert invitee.get(f"/documents/{document}").status_code == 404  # the next click


def test_declined_and_expired(admin: Admin) -> None:
    boss = admin.login(ADMIN)
    link = _existing(admin, boss)
    invitee = admin.login(NEWCOMER)
    _answer(admin, invitee, link, "decline")
    assert "Declined" in _status(admin, boss)
    assert invitee.get(link).status_code == 404
    second = _existing(admin, boss)
    admin.clock.advance(timedelta(days=15))
    later = admin.login(ADMIN)
    assert "Expired" in _status(admin, later)
    assert admin.login(NEWCOMER).get(second).status_code == 404


def test_another_user_or_a_forged_link_learns_nothing(admin: Admin) -> None:
    boss = admin.login(ADMIN)
    link = _existing(admin, boss)
    stranger = admin.login(COLLABORATOR)
    wrong = stranger.get(link)
    assert wrong.status_code == 404
    assert "ACME" not in wrong.text
    page = stranger.get("/home")
    refused = stranger.post(f"{link}/accept", data={"csrf_token": token(page.text)})
    assert refused.status_code == 404
    for forged in ("/invitations/x", "/invitations/" + "A" * 43, "/invitations/" + "%00" * 30):
        assert stranger.get(forged).status_code == 404


def test_a_new_third_party_gets_an_account_and_its_code_by_sms(admin: Admin) -> None:
    boss = admin.login(ADMIN)
    link = _declare(admin, boss, mobile="+33 6 12 34 56 78")
    mail = admin.mails()[-1].get_body(("plain",))
    assert mail is not None
    text = mail.get_content()
    client_id = re.search(r"client identifier: ([0-9]+)", text)
    assert client_id is not None
    (sms,) = admin.sms.received
    assert sms["to"] == "+33612345678"
    code = re.search(r"code is ([0-9]+)", sms["text"])
    assert code is not None
    assert code.group(1) not in text  # the code never travels with the identifier
    principal = Principal.parse(client_id.group(1), "01")
    account = admin.box.store.get_account(principal)
    assert account is not None
    assert principal.client_id != ClientId("123456789")
    shown = admin.browser().get(link)
    assert code.group(1) not in shown.text
    assert "one-time code was sent by SMS" in shown.text


def test_junk_declarations_are_400(admin: Admin) -> None:
    boss = admin.login(ADMIN)
    mobile = {**DECLARED, "mobile": "+33612345678"}
    bad: list[dict[str, Any]] = [
        {**DECLARED, "companies": [C2.value]},  # neither identifier nor mobile
        {**mobile, "siren": "552100555", "companies": [C2.value]},
        {**mobile, "email": "nope", "companies": [C2.value]},
        {**mobile, "companies": ["443061841"]},  # not in the portfolio
        {**mobile, "companies": ["junk"]},
        mobile,  # no company
        {**mobile, "companies": [C2.value], "client_id": "12", "user_number": "x"},
    ]
    for data in bad:
        answer = admin.post(boss, "/admin/third-parties", "/admin/third-parties", data)
        assert answer.status_code == 400, data
    assert admin.mails() == []
    collaborator = admin.login(COLLABORATOR)
    assert collaborator.get("/admin/third-parties").status_code == 403


def test_the_json_api(admin: Admin) -> None:
    boss = admin.login(ADMIN)
    _existing(admin, boss)
    api = admin.api(boss)
    listed = api.get("/api/v1/admin/third-parties").json()["third_parties"]
    assert [(t["name"], t["status"]) for t in listed] == [("Cabinet Martin", "pending")]
    body = {**DECLARED, "companies": [C1.value], "mobile": "+33612345678"}
    made = api.post("/api/v1/admin/third-parties", json=body)  # the step-up is fresh
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "pending"
    assert len(admin.mails()) == 2
    assert len(admin.sms.received) == 1
    for _ in range(2):  # the step-up is over (5 minutes); the session is not idle
        admin.clock.advance(timedelta(minutes=3))
        assert api.get("/api/v1/admin/third-parties").status_code == 200
    needed = api.post("/api/v1/admin/third-parties", json=body)
    assert needed.status_code == 401
    assert needed.json()["code"] == "insufficient_user_authentication"
    junk = api.post("/api/v1/admin/third-parties", json={**body, "companies": []})
    assert junk.status_code == 400
    revoke = api.delete(f"/api/v1/admin/third-parties/{listed[0]['invitation']}")
    assert revoke.status_code == 401
    assert api.delete("/api/v1/admin/third-parties/nope").status_code == 404
