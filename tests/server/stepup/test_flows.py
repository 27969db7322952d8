"""Each sensitive operation through its pages: the step-up asked of a code-only session, what
is approved shown before the proof, the proof, the order recorded and the grant consumed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.errors import FlowError, NotAuthenticated
from securebox_auth.identity import Principal
from tests.server.conftest import CLIENT, token
from tests.server.stepup.conftest import World

IBAN = "FR7630006000011234567890189"
IBAN_SPACED = "FR76 3000 6000 0112 3456 7890 189"
OTHER = "DE89370400440532013000"
TRANSFER = {"amount": "1250.50", "name": "Dupont SARL", "iban": IBAN_SPACED, "reference": "F-42"}


def test_a_transfer_shows_the_amount_and_payee_then_needs_a_linked_proof(world: World) -> None:
    world.login()
    order, page = world.enter("/transfers/new", TRANSFER)
    assert page.status_code == 200
    assert "1250.50 EUR" in page.text
    assert f"IBAN:{IBAN}" in page.text
    assert "Dupont SARL" in page.text
    assert f"/operations/{order}/proof/passkey_uv" in page.text
    assert "/proof/totp" not in page.text  # the policy wants a linking method for payments
    assert "/execute" not in page.text
    proof = world.client.get(f"/operations/{order}/proof/passkey_uv")
    assert "1250.50 EUR" in proof.text  # shown again on the proof page itself
    assert '<noscript><p class="warning">' in proof.text  # the passkey needs a script
    session = world.client.cookies.get("__Host-sb-session")
    done = world.prove(order, "passkey_uv")
    assert done.status_code == 303, done.text
    assert world.client.cookies.get("__Host-sb-session") != session  # rotated (ADR 0024)
    with pytest.raises(NotAuthenticated):
        world.box.touch(str(session))  # the old identifier is dead
    result = world.execute(order)
    assert result.status_code == 200, result.text
    assert "1250.50 EUR" in result.text
    assert "Done" in world.client.get("/orders").text


def test_the_approval_page_is_in_french_too(world: World) -> None:
    world.login()
    world.client.headers["Accept-Language"] = "fr"
    _, page = world.enter("/transfers/new", TRANSFER)
    assert "Ce que vous approuvez" in page.text
    assert "Montant validé" in page.text
    assert "1250.50 EUR" in page.text


def test_the_grant_is_consumed_once(world: World) -> None:
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    world.prove(order, "passkey_uv")
    handle = world.book().get(world.principal, order).handle
    assert handle is not None
    session = world.client.cookies.get("__Host-sb-session")
    assert world.execute(order).status_code == 200
    again = world.execute(order)
    assert again.status_code == 409  # the order is done: not run again
    with pytest.raises(FlowError):  # and the library's flow is finished
        world.box.execute(str(session), handle)
    assert [o.status for o in world.book().orders(world.principal)] == ["done"]


def test_an_amount_changed_after_approval_is_refused(world: World) -> None:
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    assert world.prove(order, "passkey_uv").status_code == 303
    world.tamper(order, amount="9250.50")
    refused = world.execute(order)
    assert refused.status_code == 409
    assert "changed after it was approved" in refused.text
    assert world.book().get(world.principal, order).status == "refused"
    assert world.book().payees(world.principal) == []


def test_a_proof_for_one_transfer_does_not_run_another(world: World) -> None:
    world.login()
    small, _ = world.enter("/transfers/new", {**TRANSFER, "amount": "10.00"})
    large, _ = world.enter("/transfers/new", {**TRANSFER, "amount": "5000.00"})
    assert world.prove(small, "passkey_uv").status_code == 303
    assert world.execute(large).status_code == 409
    # the proof rotated the session: the other order's flow belonged to the old id
    assert world.book().get(world.principal, large).status == "refused"
    assert world.execute(small).status_code == 200


def test_a_payee_is_added_after_its_linked_proof(world: World) -> None:
    world.login()
    order, page = world.enter("/payees/new", {"name": "Dupont SARL", "iban": OTHER})
    assert f"IBAN:{OTHER}" in page.text
    assert world.prove(order, "passkey_uv").status_code == 303
    assert world.execute(order).status_code == 200
    listed = world.client.get("/payees")
    assert OTHER in listed.text
    assert "Dupont SARL" in listed.text


def test_a_batch_shows_its_total_and_payees(world: World) -> None:
    world.login()
    lines = f"{IBAN};120.00;Dupont SARL\n{OTHER};30.5;Muller GmbH\n"
    order, page = world.enter("/batches/new", {"lines": lines})
    assert "150.50 EUR" in page.text  # the batch total
    assert f"IBAN:{IBAN}" in page.text
    assert f"IBAN:{OTHER}" in page.text
    assert "Muller GmbH" in page.text
    assert world.prove(order, "passkey_uv").status_code == 303
    world.tamper(order, amount="31.50", line=1)
    assert world.execute(order).status_code == 409


def test_a_batch_is_uploaded_and_signed(world: World) -> None:
    world.login()
    form = world.client.get("/batches/new")
    sent = world.client.post(
        "/batches/new",
        data={"csrf_token": token(form.text)},
        files={"upload": ("batch.csv", f"{IBAN};1.00;A\n{OTHER};2.00;B\n".encode(), "text/csv")},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    order = sent.headers["location"].rsplit("/", 1)[1]
    assert "3.00 EUR" in world.client.get(f"/operations/{order}").text
    assert world.prove(order, "passkey_uv").status_code == 303
    assert world.execute(order).status_code == 200


def test_a_cheque_book_order_after_a_step_up(world: World) -> None:
    world.login()
    data = {"account": "12345678901", "books": "2", "delivery": "post"}
    order, page = world.enter("/cheque-books/new", data)
    assert f"/operations/{order}/proof/totp" in page.text  # code only: a step-up is asked
    assert "/execute" not in page.text
    wrong = world.prove(order, "totp", code="000000")
    assert wrong.status_code == 401
    assert "The proof was refused" in wrong.text
    assert world.prove(order, "passkey_uv").status_code == 303
    assert world.execute(order).status_code == 200
    assert world.book().get(world.principal, order).status == "done"


def test_a_code_session_completes_a_cheque_book_step_up_with_totp(world: World) -> None:
    world.login()
    data = {"account": "12345678901", "books": "1", "delivery": "post"}
    order, _ = world.enter("/cheque-books/new", data)
    assert world.prove(order, "totp", code=world.totp_code()).status_code == 303
    assert world.execute(order).status_code == 200


def test_a_strong_session_orders_cheque_books_but_still_proves_each_transfer(
    world: World,
) -> None:
    world.login(strong=True)
    data = {"account": "12345678901", "books": "1", "delivery": "branch"}
    order, page = world.enter("/cheque-books/new", data)
    assert "/execute" in page.text
    assert "/proof/" not in page.text
    assert world.execute(order).status_code == 200
    transfer, page = world.enter("/transfers/new", TRANSFER)
    assert "/proof/passkey_uv" in page.text
    assert "/execute" not in page.text
    assert world.execute(transfer).status_code == 409


def test_an_administrator_changes_a_role_after_a_step_up(world: World) -> None:
    other = Principal.parse(CLIENT, "02")
    world.box.codes.create_account(Operator("back-office"), other, Role.USER)
    world.login()
    page = world.client.get("/entitlements")
    assert page.status_code == 200
    assert f"{CLIENT}:02" in page.text
    order, approval = world.enter_role("02", "administrator")
    assert "/proof/totp" in approval.text
    assert "/execute" not in approval.text
    assert world.prove(order, "passkey_uv").status_code == 303
    assert world.execute(order).status_code == 200
    account = world.box.store.get_account(other)
    assert account is not None
    assert account.value.role is Role.ADMINISTRATOR


def test_an_order_left_too_long_is_refused_not_run(world: World) -> None:
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    assert world.prove(order, "passkey_uv").status_code == 303
    world.clock.advance(timedelta(minutes=4))  # the session stays alive (idle 5 min)
    world.client.get("/home")
    world.clock.advance(timedelta(minutes=2))  # the grant (5 min) has expired
    assert world.execute(order).status_code == 403  # the engine finds no live grant
    assert world.book().get(world.principal, order).status == "refused"
