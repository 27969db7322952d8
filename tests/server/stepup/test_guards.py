"""The step-up pages refuse what they should: no CSRF token, another user's order, junk
input (a 4xx page, never a 500), a logged-out browser."""

from __future__ import annotations

import pytest

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.identity import Principal
from tests.server.conftest import CLIENT, CODE, token
from tests.server.stepup.conftest import World
from tests.server.stepup.test_flows import TRANSFER

FORMS = ("/payees/new", "/transfers/new", "/batches/new", "/cheque-books/new")


def test_logged_out_pages_send_to_the_login(world: World) -> None:
    for path in (*FORMS, "/payees", "/orders", "/entitlements", "/operations/x"):
        answer = world.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login", path


def test_every_form_needs_its_csrf_token(world: World) -> None:
    world.login()
    for path in FORMS:
        assert world.client.post(path, data=TRANSFER).status_code == 403, path
    order, _ = world.enter("/transfers/new", TRANSFER)
    proof = world.client.post(f"/operations/{order}/proof/totp", data={"code": "123456"})
    assert proof.status_code == 403
    assert world.client.post(f"/operations/{order}/execute").status_code == 403
    assert world.client.post("/entitlements/role", data={"user": "02"}).status_code == 403
    assert world.book().get(world.principal, order).status == "pending"


JUNK = (
    ("/payees/new", {"name": "Dupont", "iban": "FR7630006000011234567890188"}),
    ("/payees/new", {"name": "", "iban": "FR7630006000011234567890189"}),
    ("/payees/new", {"name": "x" * 100, "iban": "\x00"}),
    ("/transfers/new", {**TRANSFER, "amount": "-5"}),
    ("/transfers/new", {**TRANSFER, "amount": "1.005"}),
    ("/transfers/new", {**TRANSFER, "amount": "1e9"}),
    ("/transfers/new", {**TRANSFER, "reference": "<script>"}),
    ("/batches/new", {"lines": "FR7630006000011234567890189;12"}),
    ("/batches/new", {"lines": ""}),
    ("/batches/new", {"lines": "FR7630006000011234567890189;1.00;A\n" * 51}),
    ("/cheque-books/new", {"account": "123", "books": "1", "delivery": "post"}),
    ("/cheque-books/new", {"account": "12345678901", "books": "9", "delivery": "post"}),
    ("/cheque-books/new", {"account": "12345678901", "books": "1", "delivery": "drone"}),
)


def test_junk_is_a_400_form_with_the_error(world: World) -> None:
    world.login()
    for path, data in JUNK:
        form = world.client.get(path)
        answer = world.client.post(path, data={**data, "csrf_token": token(form.text)})
        assert answer.status_code == 400, (path, data)
        assert 'role="alert"' in answer.text
    assert world.book().orders(world.principal) == []


def test_unknown_orders_and_methods_are_4xx(world: World) -> None:
    world.login()
    order, page = world.enter("/transfers/new", TRANSFER)
    assert world.client.get("/operations/nope").status_code == 404
    assert world.client.get("/operations/" + "a" * 5000).status_code in (404, 414)
    assert world.client.get(f"/operations/{order}/proof/totp").status_code == 400
    assert world.client.get(f"/operations/{order}/proof/x%00").status_code == 400
    answer = world.client.post(
        f"/operations/{order}/proof/cap_sign", data={"csrf_token": token(page.text)}
    )
    assert answer.status_code == 400
    junk = world.client.post(
        f"/operations/{order}/proof/passkey_uv",
        data={"csrf_token": token(page.text), "ceremony": "x", "response": "{not json"},
    )
    assert 400 <= junk.status_code < 500


def test_another_users_order_is_not_found(world: World) -> None:
    other = Principal.parse(CLIENT, "02")
    world.box.codes.create_account(Operator("back-office"), other, Role.USER)
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    assert world.book().orders(other) == []
    with pytest.raises(LookupError):
        world.book().get(other, order)


def test_role_changes_refuse_oneself_unknown_users_and_roles(world: World) -> None:
    other = Principal.parse(CLIENT, "02")
    world.box.codes.create_account(Operator("back-office"), other, Role.USER)
    world.login()
    page = world.client.get("/entitlements")
    bad = world.client.post(
        "/entitlements/role",
        data={"user": "01", "role": "user", "csrf_token": token(page.text)},
    )
    assert bad.status_code == 400  # not oneself
    junk = world.client.post(
        "/entitlements/role",
        data={"user": "02", "role": "principal_user", "csrf_token": token(page.text)},
    )
    assert junk.status_code == 400
    unknown = world.client.post(
        "/entitlements/role",
        data={"user": "77", "role": "user", "csrf_token": token(page.text)},
    )
    assert unknown.status_code == 400


def test_a_plain_user_cannot_manage_entitlements(world: World) -> None:
    other = Principal.parse(CLIENT, "02")
    letter = world.box.codes.create_account(Operator("back-office"), other, Role.USER)
    assert world.box.codes.change_code(CLIENT, "02", letter.reveal(), CODE).changed
    world.box.store.commit([world.box.factors.renewal_change(other, "web", world.clock.now())], [])
    world.login(user="02")
    listed = world.client.get("/entitlements")  # the library lets a user list users
    assert listed.status_code == 200
    assert "/entitlements/role" not in listed.text  # but not change them
    home = world.client.get("/home")
    refused = world.client.post(
        "/entitlements/role",
        data={"user": "01", "role": "user", "csrf_token": token(home.text)},
    )
    assert refused.status_code == 403
