"""``/api/v1/recovery/flows`` through the real app: the flow as a resource, the same 202
body for a matching and an unknown claim, the link's token used once, problems for bad
input; a recovery code never completes a login (timing: ``test_timing.py``)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import securebox_auth
from tests.server.conftest import AppMaker, identify, open_user, submit_code, token
from tests.server.recovery.conftest import EMAIL, Rig

NEW = "58301917"
TOKEN_IN_LINK = re.compile(r"/recovery/link/(\S+)")


def start(rig: Rig) -> dict[str, Any]:
    made = rig.client.post("/api/v1/recovery/flows", json={"kind": "code_email"})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    assert body["state"] == "awaiting_address"
    return body


def claim(rig: Rig, flow_id: str, user: str = "01") -> dict[str, Any]:
    answer = rig.client.post(
        f"/api/v1/recovery/flows/{flow_id}/address",
        json={"client_id": "123456789", "user_number": user, "email": EMAIL},
    )
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_flow_as_a_resource(rig: Rig) -> None:
    known, unknown = start(rig), start(rig)
    a, b = claim(rig, known["id"]), claim(rig, unknown["id"], user="07")
    assert {k: v for k, v in a.items() if k != "id"} == {k: v for k, v in b.items() if k != "id"}
    assert a["state"] == "awaiting_code"
    assert rig.client.get(f"/api/v1/recovery/flows/{known['id']}").json()["state"] == (
        "awaiting_code"
    )
    rig.drain()
    link = TOKEN_IN_LINK.search(rig.smtp.relay.messages()[-1].get_content())
    assert link is not None
    body = {"token": link.group(1), "new_code": NEW}
    wrong_flow = rig.client.post(f"/api/v1/recovery/flows/{unknown['id']}/code", json=body)
    assert wrong_flow.status_code == 410
    assert wrong_flow.headers["content-type"].startswith("application/problem+json")
    used = rig.client.post(f"/api/v1/recovery/flows/{known['id']}/code", json=body)
    assert used.status_code == 200
    assert used.json()["state"] == "done"
    again = rig.client.post(f"/api/v1/recovery/flows/{known['id']}/code", json=body)
    assert again.status_code == 410
    assert rig.box.codes.login("123456789", "01", NEW).authenticated


def test_bad_input_is_a_problem(rig: Rig) -> None:
    bad = rig.client.post("/api/v1/recovery/flows", json={"kind": "session"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    flow = start(rig)
    answer = rig.client.post(
        f"/api/v1/recovery/flows/{flow['id']}/address",
        json={"client_id": "x", "user_number": "01", "email": EMAIL},
    )
    assert answer.status_code == 400
    assert rig.client.get("/api/v1/recovery/flows/nope").status_code == 410


def test_a_recovery_code_alone_is_not_two_factors(rig: Rig) -> None:
    """Recovery codes enrolled, the login never takes one: not first, not after the code."""
    codes = rig.box.factors.recovery.generate(rig.principal).reveal()
    identify(rig.client)
    page = rig.client.get("/login/method")
    assert "/login/recovery" not in page.text
    form = rig.client.get("/login/recovery")
    tried = rig.client.post(
        "/login/recovery", data={"code": codes[0], "csrf_token": token(form.text)}
    )
    assert tried.status_code >= 400
    assert rig.box.sessions_of(rig.principal) == []


def test_code_and_recovery_code_are_not_strong(make_app: AppMaker, tmp_path: Path) -> None:
    """Even under a policy that lets recovery codes into the login, a recovery code proves
    no category: with the renewal due and only recovery codes enrolled besides the code,
    the login is denied after the code (nothing can complete it), no session opens, and a
    recovery code posted anyway is refused without a strong login recorded."""
    shipped = Path(securebox_auth.__file__).parent / "policies" / "psd2-default.toml"
    text = shipped.read_text("utf-8").replace(
        '    "totp",\n]', '    "totp",\n    "recovery_code",\n]'
    )
    assert "recovery_code" in text
    policy = tmp_path / "with-recovery-codes.toml"
    policy.write_text(text, "utf-8")
    client, box, clock = make_app(policy=policy)
    principal, _ = open_user(box)
    codes = box.factors.recovery.generate(principal).reveal()
    before = box.factors.last_sca(principal, "web")
    clock.advance(timedelta(days=91))  # the 90-day renewal is due
    identify(client)
    assert submit_code(client).status_code == 403
    form = client.get("/recovery")
    answer = client.post("/login/recovery", data={"code": codes[0], "csrf_token": token(form.text)})
    assert answer.status_code >= 400
    assert box.factors.last_sca(principal, "web") == before  # no strong login recorded
    assert box.sessions_of(principal) == []
