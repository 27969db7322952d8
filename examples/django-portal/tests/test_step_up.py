"""``@step_up_required("payees")``: adding a payee needs securebox's step-up, linked to the
payee (the SMS shows it), and runs exactly once with the payee that was proved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from securebox_auth import NotAuthenticated

from bank.auth import SESSION_KEY
from bank.checks import PROTECTED, securebox_operations
from bank.decorators import TOKEN_FIELD, step_up_required
from bank.demo import ALICE_CODE, ALICE_MOBILE, next_totp
from bank.models import Payee

from .conftest import Portal, log_in_bob

IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "FR1420041010050500013M02606"
FORM = {"company": "732829320", "iban": "FR76 3000 6000 0112 3456 7890 189", "label": "Supplier"}


def _start(client: Client, form: dict[str, str] | None = None) -> str:
    page = client.post("/payees/", form or FORM)
    assert page.status_code == 302, page.content.decode()
    location = page["Location"]
    assert location.startswith("/step-up/")
    return location


def _sms_code(portal: Portal) -> str:
    message = portal.sms()[-1]
    assert message["to"] == ALICE_MOBILE
    return str(message["body"].split()[1])


def _prove(client: Client, portal: Portal, step_up: str) -> None:
    portal.clock.advance(timedelta(seconds=30))  # the minimum interval between two codes
    assert client.post(step_up, {"action": "send"}).status_code == 302
    code = _sms_code(portal)
    assert client.post(step_up, {"method": "sms_otp", "code": code}).status_code == 302
    page = client.post(step_up, {"method": "confidential_code", "code": ALICE_CODE})
    assert page.status_code == 302


def _token(step_up: str) -> str:
    return step_up.rstrip("/").rsplit("/", 1)[1]


def test_the_form_needs_no_step_up(alice: Client) -> None:
    page = alice.get("/payees/")
    assert page.status_code == 200
    assert b'name="iban"' in page.content


def test_adding_a_payee_after_a_linked_step_up(alice: Client, portal: Portal) -> None:
    step_up = _start(alice)
    page = alice.get(step_up)
    assert IBAN in page.content.decode()  # what is linked is shown before the proof
    assert not Payee.objects.exists()
    before = alice.session[SESSION_KEY]
    _prove(alice, portal, step_up)
    assert IBAN in portal.sms()[-1]["body"]  # the SMS shows the payee (RTS art. 5)
    after = alice.session[SESSION_KEY]
    assert after != before  # the step-up gave the session a new identifier
    with pytest.raises(NotAuthenticated):
        portal.box.touch(before)
    page = alice.get(step_up)
    assert f'name="{TOKEN_FIELD}"' in page.content.decode()
    done = alice.post("/payees/", {TOKEN_FIELD: _token(step_up)})
    assert done.status_code == 302
    (payee,) = Payee.objects.all()
    assert (payee.iban, payee.company, payee.label) == (IBAN, "732829320", "Supplier")
    assert payee.added_by.get_username() == "123456789:01"
    again = alice.post("/payees/", {TOKEN_FIELD: _token(step_up)})
    assert again.status_code == 400  # the grant was consumed: never twice
    assert Payee.objects.count() == 1
    actions = [event.event.action for event in portal.box.audit_log()]
    assert "grant.consume" in actions


def test_the_payee_is_the_one_proved_not_one_posted_again(alice: Client, portal: Portal) -> None:
    step_up = _start(alice)
    _prove(alice, portal, step_up)
    tampered = {**FORM, "iban": OTHER_IBAN, TOKEN_FIELD: _token(step_up)}
    assert alice.post("/payees/", tampered).status_code == 302
    assert list(Payee.objects.values_list("iban", flat=True)) == [IBAN]


def test_a_step_up_is_not_enough_before_every_factor(alice: Client, portal: Portal) -> None:
    step_up = _start(alice)
    page = alice.post(step_up, {"method": "confidential_code", "code": ALICE_CODE})
    assert page.status_code == 302
    assert alice.post("/payees/", {TOKEN_FIELD: _token(step_up)}).status_code == 403
    assert not Payee.objects.exists()


def test_totp_does_not_prove_a_payee(alice: Client, portal: Portal) -> None:
    """TOTP carries no dynamic linking: the policy does not accept it for payees, and the
    code and TOTP together would not be bound to the payee (RTS art. 5)."""
    step_up = _start(alice)
    portal.clock.advance(timedelta(seconds=30))
    totp = next_totp(portal.demo.alice_totp, portal.box)
    page = alice.post(step_up, {"method": "totp", "code": totp})
    assert page.status_code == 400
    assert b"Not accepted for this operation" in page.content
    assert b"Send me an SMS" in page.content  # the flow goes on: the SMS is still asked
    alice.post(step_up, {"method": "confidential_code", "code": ALICE_CODE})
    assert alice.post("/payees/", {TOKEN_FIELD: _token(step_up)}).status_code == 403
    assert not Payee.objects.exists()


def test_a_wrong_sms_code_is_refused(alice: Client, portal: Portal) -> None:
    step_up = _start(alice)
    portal.clock.advance(timedelta(seconds=30))
    alice.post(step_up, {"action": "send"})
    code = _sms_code(portal)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page = alice.post(step_up, {"method": "sms_otp", "code": wrong})
    assert page.status_code == 400
    assert b"Refused" in page.content
    assert alice.post(step_up, {"method": "sms_otp", "code": code}).status_code == 302


def test_another_step_up_cannot_be_used_for_this_one(alice: Client, portal: Portal) -> None:
    first = _start(alice)
    second = _start(alice, {**FORM, "iban": OTHER_IBAN})
    _prove(alice, portal, first)
    # the token of the first, posted to finish... the first is the only one that runs
    assert alice.post("/payees/", {TOKEN_FIELD: _token(second)}).status_code == 403
    assert alice.post("/payees/", {TOKEN_FIELD: _token(first)}).status_code == 302
    assert list(Payee.objects.values_list("iban", flat=True)) == [IBAN]


def test_a_user_without_the_right_gets_no_step_up(client: Client, portal: Portal) -> None:
    bob = log_in_bob(client, portal)
    page = bob.post("/payees/", FORM)
    assert page.status_code == 403
    assert b"manage_payees" in page.content  # securebox's explanation
    assert portal.sms() == []


def test_an_invalid_form_is_shown_again(alice: Client, portal: Portal) -> None:
    page = alice.post("/payees/", {**FORM, "iban": "FR7630006000011234567890180"})
    assert page.status_code == 400
    assert b"not an IBAN" in page.content


def test_an_unknown_token_is_refused(alice: Client) -> None:
    assert alice.post("/payees/", {TOKEN_FIELD: "nothing"}).status_code == 400
    assert alice.get("/step-up/nothing/").status_code == 404


def test_a_step_up_that_took_too_long(alice: Client, portal: Portal) -> None:
    step_up = _start(alice)
    portal.clock.advance(timedelta(minutes=4))
    alice.get("/")  # activity
    portal.clock.advance(timedelta(minutes=4))
    page = alice.post(step_up, {"method": "confidential_code", "code": ALICE_CODE})
    assert page.status_code == 403
    assert b"start again" in page.content


def test_logged_out_users_go_to_the_login(client: Client, portal: Portal) -> None:
    page = client.post("/payees/", FORM)
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")


def test_the_system_check_finds_the_protected_operations(settings: Any) -> None:
    call_command("check", fail_level="WARNING")  # the portal's own settings pass
    step_up_required("cheques", describe=lambda data, principal: None)
    try:
        assert [e.id for e in securebox_operations()] == ["bank.E002"]
        wrong = {"cheques": "no_such_operation"}
        settings.SECUREBOX = {**settings.SECUREBOX, "OPERATIONS": wrong}
        assert {e.id for e in securebox_operations()} == {"bank.E002", "bank.E003"}
    finally:
        PROTECTED.discard("cheques")
    settings.SECUREBOX = {**settings.SECUREBOX, "POLICY": "/nonexistent/policy.toml"}
    assert [e.id for e in securebox_operations()] == ["bank.E001"]


def test_the_forms_need_their_csrf_token(portal: Portal) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert (
        strict.post("/login/", {"client_id": "123456789", "user_number": "01"}).status_code == 403
    )
    page = strict.get("/login/")
    token = page.context["csrf_token"]
    identify = {"client_id": "123456789", "user_number": "01", "csrfmiddlewaretoken": token}
    assert strict.post("/login/", identify).status_code == 302
    answer = {"method": "confidential_code", "code": ALICE_CODE}
    assert strict.post("/login/factor/", answer).status_code == 403  # no token: refused
    token = strict.get("/login/factor/").context["csrf_token"]
    done = strict.post("/login/factor/", {**answer, "csrfmiddlewaretoken": token})
    assert done.status_code == 302
    assert strict.post("/payees/", FORM).status_code == 403
    assert portal.sms() == []
