"""The login through the portal's pages: securebox's flow behind Django's authentication."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.test import Client
from securebox_auth import NotAuthenticated, Principal

from bank.auth import SESSION_KEY
from bank.demo import ALICE_CODE, BOB, next_totp
from bank.models import User

from .conftest import BOB_CODE, Portal, log_in


def _factor_page(client: Client) -> str:
    """The page, without its CSRF tokens (masked afresh on every page)."""
    page = client.get("/login/factor/").content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def test_first_login_changes_the_code_and_asks_for_totp(client: Client, portal: Portal) -> None:
    letter = portal.demo.bob_letter.reveal()
    client.post("/login/", {"client_id": "123456789", "user_number": "02"})
    page = client.post("/login/factor/", {"method": "confidential_code", "code": letter})
    assert page.status_code == 200
    assert 'name="new"' in page.content.decode()  # the forced change of the letter's code
    page = client.post("/login/factor/", {"current": letter, "new": BOB_CODE})
    assert page.status_code == 200
    # the first access needs strong authentication (RTS art. 10(2)(a)): TOTP is asked
    assert 'value="totp"' in page.content.decode()
    assert not get_user(client).is_authenticated
    code = next_totp(portal.demo.bob_totp, portal.box)
    done = client.post("/login/factor/", {"method": "totp", "code": code})
    assert done.status_code == 302
    user = get_user(client)
    assert user.is_authenticated
    assert user.get_username() == BOB.key
    session_id = client.session[SESSION_KEY]
    assert portal.box.touch(session_id).principal == BOB
    assert client.get("/").status_code == 200


def test_the_code_alone_within_90_days_then_totp_again(client: Client, portal: Portal) -> None:
    log_in(client, portal, "01", ALICE_CODE, None)  # strong 0 days ago: the code is enough
    assert get_user(client).is_authenticated
    client.post("/logout/")
    portal.clock.advance(timedelta(days=91))
    client.post("/login/", {"client_id": "123456789", "user_number": "01"})
    page = client.post("/login/factor/", {"method": "confidential_code", "code": ALICE_CODE})
    assert page.status_code == 200
    assert 'value="totp"' in page.content.decode()  # the 90-day renewal
    assert not get_user(client).is_authenticated
    code = next_totp(portal.demo.alice_totp, portal.box)
    assert client.post("/login/factor/", {"method": "totp", "code": code}).status_code == 302
    assert get_user(client).is_authenticated


def test_wrong_codes_are_refused_then_blocked(client: Client, portal: Portal) -> None:
    client.post("/login/", {"client_id": "123456789", "user_number": "01"})
    for _ in range(4):
        page = client.post("/login/factor/", {"method": "confidential_code", "code": "11112222"})
        assert page.status_code == 400
        assert b"Refused" in page.content
    page = client.post("/login/factor/", {"method": "confidential_code", "code": "11112222"})
    assert page.status_code == 403  # the fifth failure blocks (the policy's lockout)
    client.post("/login/", {"client_id": "123456789", "user_number": "01"})
    page = client.post("/login/factor/", {"method": "confidential_code", "code": ALICE_CODE})
    assert page.status_code != 302
    assert not get_user(client).is_authenticated


def test_an_unknown_user_gets_the_same_offer(client: Client, portal: Portal) -> None:
    client.post("/login/", {"client_id": "123456789", "user_number": "01"})
    known = _factor_page(client)
    client.post("/login/", {"client_id": "123456789", "user_number": "07"})
    unknown = _factor_page(client)
    assert known.replace("07", "01") == unknown.replace("07", "01")
    page = client.post("/login/factor/", {"method": "confidential_code", "code": ALICE_CODE})
    assert page.status_code == 400
    assert not get_user(client).is_authenticated


def test_malformed_identifiers_answer_400(client: Client, portal: Portal) -> None:
    page = client.post("/login/", {"client_id": "12<script>", "user_number": "01"})
    assert page.status_code == 400
    assert client.post("/login/factor/", {"method": "totp", "code": "1"}).status_code == 302


def test_a_securebox_user_without_a_portal_account_is_refused(
    client: Client, portal: Portal
) -> None:
    User.objects.filter(username=BOB.key).delete()
    client.post("/login/", {"client_id": "123456789", "user_number": "02"})
    letter = portal.demo.bob_letter.reveal()
    client.post("/login/factor/", {"method": "confidential_code", "code": letter})
    client.post("/login/factor/", {"current": letter, "new": BOB_CODE})
    code = next_totp(portal.demo.bob_totp, portal.box)
    page = client.post("/login/factor/", {"method": "totp", "code": code})
    assert page.status_code == 403
    assert not get_user(client).is_authenticated
    assert portal.box.sessions_of(BOB) == []  # the session securebox opened was ended


def test_idle_timeout_ends_the_django_session(alice: Client, portal: Portal) -> None:
    assert alice.get("/").status_code == 200
    portal.clock.advance(timedelta(minutes=6))  # the policy's idle timeout is 5 minutes
    page = alice.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")
    assert not get_user(alice).is_authenticated


def test_activity_keeps_the_session(alice: Client, portal: Portal) -> None:
    for _ in range(3):
        portal.clock.advance(timedelta(minutes=4))
        assert alice.get("/").status_code == 200


def test_logout_ends_the_securebox_session(alice: Client, portal: Portal) -> None:
    session_id = alice.session[SESSION_KEY]
    alice.post("/logout/")
    with pytest.raises(NotAuthenticated):
        portal.box.touch(session_id)
    assert alice.get("/").status_code == 302


def test_logout_everywhere_reaches_the_django_session(alice: Client, portal: Portal) -> None:
    portal.box.end_all(Principal.parse("123456789", "01"))
    assert alice.get("/").status_code == 302
    assert not get_user(alice).is_authenticated


def test_a_staff_password_does_not_open_the_customer_pages(client: Client, portal: Portal) -> None:
    User.objects.create_superuser("admin", "a long admin password")
    assert client.login(username="admin", password="a long admin password")
    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")


def test_the_login_goes_back_to_the_page_asked_for_on_this_site(
    client: Client, portal: Portal
) -> None:
    page = client.get("/payees/")
    assert page["Location"] == "/login/?next=/payees/"
    client.post(page["Location"], {"client_id": "123456789", "user_number": "01"})
    done = client.post("/login/factor/", {"method": "confidential_code", "code": ALICE_CODE})
    assert done["Location"] == "/payees/"
    client.post("/logout/")
    client.post(
        "/login/?next=https://evil.example/", {"client_id": "123456789", "user_number": "01"}
    )
    done = client.post("/login/factor/", {"method": "confidential_code", "code": ALICE_CODE})
    assert done["Location"] == "/"
