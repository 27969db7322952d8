"""The login as a JSON resource: code then TOTP, the forced code change, unknown users,
expired flows, answers out of order, tampered ids."""

from __future__ import annotations

from datetime import timedelta

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from tests.server.api.conftest import PasskeyApp, enrol_passkey
from tests.server.api.helpers import ORIGIN, answer, bearer, start
from tests.server.conftest import CLIENT, CODE, AppMaker, open_user


def test_code_then_totp_opens_a_bearer_session(make_app: AppMaker) -> None:
    client, box, clock = make_app()
    principal, _ = open_user(box, strong=False)
    totp = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, code_at(totp.credential, clock.now()))
    clock.advance(timedelta(seconds=60))

    flow = start(client)
    assert flow["state"] == "first_factor"
    assert "confidential_code" in flow["offered"]
    actions = {a["method"]: a for a in flow["actions"]}
    assert actions["confidential_code"]["fields"] == ["code"]
    assert actions["confidential_code"]["href"].endswith("/answers")
    assert CLIENT not in flow["id"]
    shown = client.get(f"/api/v1/login/flows/{flow['id']}")
    assert shown.status_code == 200
    assert shown.json()["state"] == "first_factor"

    second = answer(client, flow, method="confidential_code", code=CODE)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["state"] == "second_factor"
    assert "totp" in body["offered"]
    assert "session" not in body

    done = answer(client, body, method="totp", code=code_at(totp.credential, clock.now()))
    assert done.status_code == 200, done.text
    session = done.json()["session"]
    assert session["token_type"] == "Bearer"
    assert session["acr"] == "urn:securebox:acr:sca"
    assert "set-cookie" not in done.headers
    me = client.get("/api/v1/session", headers=bearer(session["token"]))
    assert me.status_code == 200, me.text
    assert sorted(me.json()["methods"]) == ["confidential_code", "totp"]
    # the flow is over: its id names nothing any more
    assert client.get(f"/api/v1/login/flows/{flow['id']}").status_code == 410


def test_cookie_delivery_sets_the_session_cookie(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    refused = client.post(
        "/api/v1/login/flows",
        json={"client_id": CLIENT, "user_number": "01", "session_delivery": "cookie"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf"
    flow = start(client, session_delivery="cookie", headers=ORIGIN)
    assert answer(client, flow, method="confidential_code", code=CODE).status_code == 403
    done = client.post(
        f"/api/v1/login/flows/{flow['id']}/answers",
        json={"method": "confidential_code", "code": CODE},
        headers=ORIGIN,
    )
    assert done.status_code == 200, done.text
    assert done.json()["session"] == {"token_type": "cookie", "acr": "urn:securebox:acr:simple"}
    assert "sb-session=" in done.headers["set-cookie"]
    assert client.get("/api/v1/session").status_code == 200


def test_unknown_user_gets_the_same_shape(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    known = start(client)
    unknown = start(client, user="07")
    nobody = start(client, client_id="987654321")
    for flow in (unknown, nobody):
        assert set(flow) == set(known)
        assert len(flow["id"]) == len(known["id"])
        assert {k: v for k, v in flow.items() if k not in ("id", "expires_at", "actions")} == {
            k: v for k, v in known.items() if k not in ("id", "expires_at", "actions")
        }
        refused = answer(client, flow, method="confidential_code", code=CODE)
        assert refused.status_code == 422
        assert refused.json()["rejected"] is True
        assert refused.json()["state"] == "first_factor"
    wrong = answer(client, known, method="confidential_code", code="11111111")
    assert wrong.status_code == 422
    assert set(wrong.json()) == set(refused.json())


def test_wrong_method_for_the_state_is_409(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    flow = start(client)
    out_of_order = answer(client, flow, method="totp", code="123456")
    assert out_of_order.status_code == 409
    assert out_of_order.headers["content-type"] == "application/problem+json"
    assert out_of_order.json()["code"] == "flow_out_of_order"
    change = answer(client, flow, method="code_change", current=CODE, new="58203947")
    assert change.status_code == 409


def test_a_login_half_done_when_the_code_changes_or_every_session_ends_is_gone(
    make_app: AppMaker,
) -> None:
    """The code verified, then the code changed (or every session ended) elsewhere: the
    flow's next answer is 410 ``flow_expired`` and opens no session (ADR 0067)."""
    client, box, clock = make_app()
    principal, _ = open_user(box, strong=False)
    totp = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, code_at(totp.credential, clock.now()))
    current = CODE
    for event in ("code changed", "everywhere"):
        clock.advance(timedelta(seconds=60))
        flow = answer(client, start(client), method="confidential_code", code=current)
        assert flow.json()["state"] == "second_factor", flow.text
        clock.advance(timedelta(seconds=1))
        if event == "code changed":
            assert box.codes.change_code(CLIENT, "01", current, "58301926").changed
            current = "58301926"
        else:
            box.end_all(principal)
        clock.advance(timedelta(seconds=30))
        totp_code = code_at(totp.credential, clock.now())
        late = answer(client, flow.json(), method="totp", code=totp_code)
        assert late.status_code == 410, (event, late.text)
        assert late.json()["code"] == "flow_expired"
        assert box.sessions_of(principal) == []


def test_expired_and_forged_flows_are_gone(make_app: AppMaker) -> None:
    client, box, clock = make_app()
    open_user(box)
    flow = start(client)
    clock.advance(timedelta(hours=2))
    late = answer(client, flow, method="confidential_code", code=CODE)
    assert late.status_code == 410
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["code"] == "flow_expired"
    forged = flow["id"][:-2] + ("AA" if not flow["id"].endswith("AA") else "BB")
    for flow_id in (forged, "x", "L:123456789:01:abc"):
        gone = client.get(f"/api/v1/login/flows/{flow_id}")
        assert gone.status_code in (404, 410), (flow_id, gone.text)
        assert gone.headers["content-type"] == "application/problem+json"


def test_forced_code_change(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    _, letter = open_user(box, change=False)
    flow = start(client)
    asked = answer(client, flow, method="confidential_code", code=letter)
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["state"] == "code_change"
    assert body["actions"] == [
        {"method": "code_change", "href": body["actions"][0]["href"], "fields": ["current", "new"]}
    ]
    weak = answer(client, body, method="code_change", current=letter, new="12345678")
    assert weak.status_code == 400
    assert weak.json()["code"] == "weak_code"
    done = answer(client, body, method="code_change", current=letter, new="58203947")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done"
    assert done.json()["session"]["token"]


def test_malformed_bodies_are_problems(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    bad = client.post("/api/v1/login/flows", json={"client_id": "x" * 65, "user_number": "01"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "malformed_input"
    flow = start(client)
    for body in ({"method": "nope", "code": "1"}, {"method": "confidential_code"}, {"x": 1}):
        refused = answer(client, flow, **body)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


def test_a_passkey_login_through_its_challenge(passkey_app: PasskeyApp) -> None:
    client, box, clock = passkey_app
    principal, _ = open_user(box)
    auth = enrol_passkey(box, clock, principal)
    flow = start(client)
    actions = {a["method"]: a for a in flow["actions"]}
    assert actions["passkey_uv"]["challenge"].endswith("/challenges")
    early = answer(client, flow, method="passkey_uv", ceremony_id="x", response={})
    assert early.status_code in (400, 422)
    asked = client.post(actions["passkey_uv"]["challenge"], json={"method": "passkey_uv"})
    assert asked.status_code == 201, asked.text
    ceremony = asked.json()
    assert "challenge" in str(ceremony["options"])
    done = answer(
        client,
        flow,
        method="passkey_uv",
        ceremony_id=ceremony["challenge_id"],
        response=auth.get(ceremony["options"]),
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] in ("done", "second_factor")
    no_challenge = client.post(actions["passkey_uv"]["challenge"], json={"method": "totp"})
    assert no_challenge.status_code in (400, 409, 410)


def test_bad_bearer_tokens_are_401_with_a_challenge(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    for header in ("Bearer garbage", "Bearer " + "a" * 200, "Basic YTpi", "Bearer"):
        refused = client.get("/api/v1/session", headers={"Authorization": header})
        assert refused.status_code == 401, header
        assert refused.json()["code"] == "not_authenticated"
        assert refused.headers["www-authenticate"] == 'Bearer realm="securebox"'
