"""``/api/v1/companies/{siren}/contact`` through the real app on SQLite and PostgreSQL: the
principal user sets the address once the code sent there comes back (a wrong code and a
used one are refused), reads it, removes it; a collaborator limited to a theme and a
company outside the portfolio get the same 404 problem; a malformed address is a 400."""

from __future__ import annotations

import json
import re
from pathlib import Path

from securebox_auth.shell.gateways import FileOutbox
from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import BoxApi
from tests.server.box.conftest import C1, CLIENT, COLLABORATOR, PRINCIPAL

ADDRESS = "compta@acme.example"
CODE_IN = re.compile(r"(\d{6}) is your code")


def _url(siren: str) -> str:
    return f"/api/v1/companies/{siren}/contact"


def test_set_confirm_read_and_remove(box_api: BoxApi, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    box_api.world.box.gateways["email"] = FileOutbox(outbox)
    user = box_api.user_token(PRINCIPAL)
    http = box_api.client
    assert http.get(_url(C1.value), headers=user).json() == {"company": C1.value, "address": None}
    bad = http.post(_url(C1.value), json={"address": "nope"}, headers=user)
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    begun = http.post(_url(C1.value), json={"address": ADDRESS}, headers=user)
    assert begun.status_code == 202, begun.text
    [sent] = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sent["to"] == ADDRESS
    [code] = CODE_IN.findall(sent["body"])
    form = {"address": ADDRESS, "challenge": begun.json()["challenge"]}
    wrong = "000000" if code != "000000" else "111111"
    refused = http.post(f"{_url(C1.value)}/confirm", json={**form, "code": wrong}, headers=user)
    assert refused.status_code == 400
    assert box_api.world.documents.company_contact(CLIENT, C1) is None
    done = http.post(f"{_url(C1.value)}/confirm", json={**form, "code": code}, headers=user)
    assert done.status_code == 200, done.text
    assert done.json() == {"company": C1.value, "address": ADDRESS}
    again = http.post(f"{_url(C1.value)}/confirm", json={**form, "code": code}, headers=user)
    assert again.status_code == 400
    assert http.get(_url(C1.value), headers=user).json()["address"] == ADDRESS
    assert http.delete(_url(C1.value), headers=user).status_code == 204
    assert box_api.world.documents.company_contact(CLIENT, C1) is None


def test_who_may_not_gets_404(box_api: BoxApi) -> None:
    http = box_api.client
    collaborator = box_api.user_token(COLLABORATOR)
    principal = box_api.user_token(PRINCIPAL)
    unknown = http.get(_url("999999999"), headers=principal)
    assert unknown.status_code == 404
    for answer in (
        http.get(_url(C1.value), headers=collaborator),
        http.post(_url(C1.value), json={"address": ADDRESS}, headers=collaborator),
        http.delete(_url(C1.value), headers=collaborator),
    ):
        assert answer.status_code == 404
        assert answer.json()["code"] == unknown.json()["code"] == "not_found"
    assert http.get(_url(C1.value)).status_code == 401  # no session
