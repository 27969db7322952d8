"""Recovery is rate-limited by its named limits (``recovery.*`` in ``DEFAULT_LIMITS``), its
audit events name the flow by reference and never carry a token, a code or an address,
and the identifier path of the API answers the same for a match and a miss."""

from __future__ import annotations

import json
import re

from securebox_server.rate_limits.limiter import DEFAULT_LIMITS
from securebox_server.recovery.service import NOBODY
from tests.server.conftest import CODE, AppMaker, open_user, token
from tests.server.recovery.conftest import EMAIL, MOBILE, SIREN, Rig
from tests.server.recovery.test_pages import ask_link, choose, last_link

NEW = "58301917"


def test_the_limits_are_named() -> None:
    for name in (
        "recovery.source",
        "recovery.account",
        "recovery.identifier.source",
        "recovery.identifier.account",
        "recovery.card.source",
        "recovery.card.account",
        "recovery.link.source",
    ):
        assert name in DEFAULT_LIMITS


def test_requests_for_one_account_are_limited(make_app: AppMaker) -> None:
    client, box, _ = make_app(rate_limits_enabled=True)
    open_user(box)
    page = client.get("/recovery/code")
    form = {"client_id": "123456789", "user_number": "01", "email": EMAIL}
    statuses = [
        client.post("/recovery/code", data={**form, "csrf_token": token(page.text)}).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]  # recovery.account: 5 a day


def test_audit_events_hold_no_secret(rig: Rig) -> None:
    ask_link(rig)
    link = last_link(rig)
    assert choose(rig, link).status_code == 200
    page = rig.client.get("/recovery/identifier")
    form = {"siren": SIREN, "mobile": MOBILE, "code": NEW, "csrf_token": token(page.text)}
    assert rig.client.post("/recovery/identifier", data=form).status_code == 200
    events = [e.event for e in rig.box.audit_log() if e.event.action.startswith("recovery.")]
    actions = {e.action for e in events}
    assert {"recovery.request", "recovery.code_reset", "recovery.identifier"} <= actions
    text = json.dumps([[e.action, e.actor, e.subject, e.outcome, dict(e.details)] for e in events])
    for secret in (link, NEW, CODE, EMAIL, MOBILE):
        assert secret not in text


def test_identifier_by_the_api(rig: Rig) -> None:
    bodies = []
    for code in (CODE, "69204718"):
        made = rig.client.post("/api/v1/recovery/flows", json={"kind": "identifier_sms"})
        assert made.status_code == 201
        flow_id = made.json()["id"]
        answer = rig.client.post(
            f"/api/v1/recovery/flows/{flow_id}/address",
            json={"siren": SIREN, "mobile": MOBILE, "code": code},
        )
        assert answer.status_code == 202, answer.text
        bodies.append({k: v for k, v in answer.json().items() if k != "id"})
        again = rig.client.post(
            f"/api/v1/recovery/flows/{flow_id}/address",
            json={"siren": SIREN, "mobile": MOBILE, "code": code},
        )
        assert again.status_code == 410  # single use
    assert bodies[0] == bodies[1]
    assert bodies[0]["state"] == "done"
    rig.drain()
    assert len(rig.sms.received) == 1
    assert re.search(r"123456789", rig.sms.received[0]["text"])


def test_identifier_claims_count_on_the_account_only(rig: Rig) -> None:
    """A wrong code for a matching SIREN and mobile counts on that account's lockout (the
    same count as a login's); claims that match nobody leave no lockout state anywhere
    (they would otherwise block a shared decoy and stop doing the argon2 work)."""
    page = rig.client.get("/recovery/identifier")
    form = {"siren": SIREN, "mobile": MOBILE, "code": "69204718", "csrf_token": token(page.text)}
    assert rig.client.post("/recovery/identifier", data=form).status_code == 200
    assert rig.box.store.get_lockout(rig.principal).value.failures == 1
    for _ in range(6):
        other = {**form, "siren": "552100554"}
        assert rig.client.post("/recovery/identifier", data=other).status_code == 200
    assert rig.box.store.get_lockout(NOBODY).version == 0
