"""RFC 9470 on the API: a protected operation answers 401 insufficient_user_authentication
with a problem naming the step-up; the step-up is proven with TOTP, the session rotates, and
the same request then succeeds."""

from __future__ import annotations

from datetime import timedelta

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from tests.server.api.conftest import PasskeyApp, enrol_passkey
from tests.server.api.helpers import ORIGIN, bearer, login
from tests.server.conftest import CODE, AppMaker, open_user


def test_cheque_books_need_a_fresh_proof_then_succeed(make_app: AppMaker) -> None:
    client, box, clock = make_app()
    principal, _ = open_user(box, strong=False)
    totp = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, code_at(totp.credential, clock.now()))
    clock.advance(timedelta(seconds=60))
    token = login(client, totp.credential, clock)
    clock.advance(timedelta(minutes=3))
    assert client.get("/api/v1/session", headers=bearer(token)).status_code == 200  # activity
    clock.advance(timedelta(minutes=3))  # the strong proof is now older than 5 minutes

    asked = client.post("/api/v1/cheque-book-orders", json={"books": 1}, headers=bearer(token))
    assert asked.status_code == 401, asked.text
    challenge = asked.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert 'acr_values="urn:securebox:acr:sca' in challenge
    assert 'max_age="300"' in challenge
    assert "error_description=" in challenge
    problem = asked.json()
    assert asked.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "insufficient_user_authentication"
    assert problem["max_age"] == 300
    step_up = problem["step_up"]
    assert step_up.startswith("/api/v1/step-ups/")

    flow = client.get(step_up, headers=bearer(token))
    assert flow.status_code == 200, flow.text
    body = flow.json()
    assert body["operation"] == "cheque_book_order"
    assert body["state"] == "challenged"
    assert "totp" in body["methods"]
    clock.advance(timedelta(seconds=30))
    proof = code_at(totp.credential, clock.now())
    wrong = client.post(
        f"{step_up}/answers", json={"method": "totp", "code": "000000"}, headers=bearer(token)
    )
    assert wrong.status_code == 422
    assert wrong.json()["rejected"] is True
    proven = client.post(
        f"{step_up}/answers", json={"method": "totp", "code": proof}, headers=bearer(token)
    )
    assert proven.status_code == 200, proven.text
    assert proven.json()["state"] == "challenged"  # two categories: the code as well
    assert "session" not in proven.json()
    proven = client.post(
        f"{step_up}/answers",
        json={"method": "confidential_code", "code": CODE},
        headers=bearer(token),
    )
    assert proven.status_code == 200, proven.text
    after = proven.json()
    assert after["state"] == "ready"
    new_token = after["session"]["token"]
    assert new_token != token
    # the old token died with the rotation
    stale = client.post("/api/v1/cheque-book-orders", json={"books": 1}, headers=bearer(token))
    assert stale.status_code == 401
    assert stale.json()["code"] == "not_authenticated"
    done = client.post("/api/v1/cheque-book-orders", json={"books": 1}, headers=bearer(new_token))
    assert done.status_code == 201, done.text
    assert done.json() == {"books": 1, "status": "recorded"}
    assert any(e.event.action == "cheque_book.order" for e in box.audit_log())


def test_a_payee_needs_a_passkey_step_up_bound_to_it(passkey_app: PasskeyApp) -> None:
    client, box, clock = passkey_app
    principal, _ = open_user(box)
    auth = enrol_passkey(box, clock, principal)
    token = login(client)
    payee = {"payee": "BE71096123456769"}
    asked = client.post("/api/v1/payees", json=payee, headers=bearer(token))
    assert asked.status_code == 401, asked.text
    assert "insufficient_user_authentication" in asked.headers["www-authenticate"]
    assert 'max_age="0"' in asked.headers["www-authenticate"]  # this operation only
    step_up = asked.json()["step_up"]
    flow = client.get(step_up, headers=bearer(token)).json()
    assert flow["operation"] == "payee_management"
    assert flow["digest"]
    assert [[k.lower(), v.replace(" ", "")] for k, v in flow["display"]] == [
        ["payee", "IBAN:BE71096123456769"]
    ]
    assert "passkey_uv" in flow["methods"]
    totp = client.post(
        f"{step_up}/answers", json={"method": "totp", "code": "123456"}, headers=bearer(token)
    )
    assert totp.status_code == 409

    options = client.post(
        f"{step_up}/challenges", json={"method": "passkey_uv"}, headers=bearer(token)
    )
    assert options.status_code == 201, options.text
    ceremony = options.json()
    proven = client.post(
        f"{step_up}/answers",
        json={
            "method": "passkey_uv",
            "ceremony_id": ceremony["challenge_id"],
            "response": auth.get(ceremony["options"]),
        },
        headers=bearer(token),
    )
    assert proven.status_code == 200, proven.text
    new_token = proven.json()["session"]["token"]
    done = client.post("/api/v1/payees", json=payee, headers=bearer(new_token))
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "recorded"
    again = client.post("/api/v1/payees", json=payee, headers=bearer(new_token))
    assert again.status_code == 401  # single use: the grant was consumed


def test_step_up_resource_and_its_errors(passkey_app: PasskeyApp) -> None:
    client, box, clock = passkey_app
    principal, _ = open_user(box)
    enrol_passkey(box, clock, principal)
    token = login(client)
    denied = client.post(
        "/api/v1/step-ups", json={"operation": "launch_rockets"}, headers=bearer(token)
    )
    assert denied.status_code == 403
    assert denied.json()["code"] == "operation_denied"
    started = client.post(
        "/api/v1/step-ups",
        json={
            "operation": "sepa_instant_transfer",
            "details": {"amount": "1250.50", "currency": "EUR", "payee": "BE71096123456769"},
        },
        headers=bearer(token),
    )
    assert started.status_code == 201, started.text
    flow = started.json()
    assert flow["state"] == "challenged"
    assert any("1" in value for _, value in flow["display"])
    assert started.headers["location"] == f"/api/v1/step-ups/{flow['id']}"
    bad = client.post(
        "/api/v1/step-ups",
        json={
            "operation": "sepa_instant_transfer",
            "details": {"amount": "-3", "currency": "EUR", "payee": "x"},
        },
        headers=bearer(token),
    )
    assert bad.status_code == 400
    assert client.get(f"/api/v1/step-ups/{flow['id']}").status_code == 401
    # a step-up belongs to its session
    other = login(client)
    foreign = client.get(f"/api/v1/step-ups/{flow['id']}", headers=bearer(other))
    assert foreign.status_code == 409


def test_cookie_sessions_need_the_origin_bearer_ones_do_not(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    token = login(client)
    assert not client.cookies
    ok = client.post("/api/v1/assertions", json={"audience": "docs"}, headers=bearer(token))
    assert ok.status_code == 201
    client.cookies.set("sb-session", token)
    refused = client.post("/api/v1/assertions", json={"audience": "docs"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf"
    allowed = client.post("/api/v1/assertions", json={"audience": "docs"}, headers=ORIGIN)
    assert allowed.status_code == 201
