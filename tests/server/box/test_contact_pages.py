"""The company's notification address page through the real app: who may manage it (every
document of the company: the principal user and the administrator, not a collaborator
limited to a theme, not a third party: 404 like an unknown company), the code sent to the
new address (the library's one-time code: wrong code refused, single use), the audited
change, the removal, and the link from the home page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from securebox_server.box.reading import BoxReader
from tests.server.box.conftest import ADMIN, C1, C2, CLIENT, PAYSLIP, T0, seed_world
from tests.server.box.test_pages import ACCOUNTANT, COLLABORATOR, PRINCIPAL, Site
from tests.server.conftest import AppMaker, token

CODE_IN = re.compile(r"(\d{6}) is your code")
ADDRESS = "Compta@Acme.example"


@pytest.fixture
def site(make_app: AppMaker, tmp_path: Path) -> Site:
    client, box, clock = make_app(outbox=str(tmp_path / "outbox.jsonl"))
    clock.at = T0
    seed_world(box)
    reader = client.app.state.server.reader  # type: ignore[attr-defined]
    assert isinstance(reader, BoxReader)
    reader.store.define_type(PAYSLIP)
    return Site(client, box, clock, reader)


def _codes(tmp_path: Path) -> list[tuple[str, str]]:
    lines = (tmp_path / "outbox.jsonl").read_text().splitlines()
    sent = [json.loads(line) for line in lines]
    return [(m["to"], CODE_IN.findall(m["body"])[0]) for m in sent if CODE_IN.search(m["body"])]


def test_a_manager_sets_a_verified_address_and_removes_it(site: Site, tmp_path: Path) -> None:
    browser = site.browser(PRINCIPAL)
    home = browser.get("/home")
    assert f'href="/companies/{C1.value}/contact"' in home.text
    url = f"/companies/{C1.value}/contact"
    page = browser.get(url)
    assert page.status_code == 200
    sent = browser.post(url, data={"address": ADDRESS, "csrf_token": token(page.text)})
    assert sent.status_code == 200, sent.text
    [(to, code)] = _codes(tmp_path)
    assert to == ADDRESS
    challenge = re.search(r'name="challenge" value="([^"]+)"', sent.text)
    assert challenge is not None
    form = {"address": ADDRESS, "challenge": challenge.group(1), "csrf_token": token(sent.text)}
    wrong = "000000" if code != "000000" else "111111"
    refused = browser.post(f"{url}/confirm", data={**form, "code": wrong})
    assert refused.status_code == 400
    # another address with the right code: the code is bound to its address
    other = browser.post(f"{url}/confirm", data={**form, "address": "x@evil.example", "code": code})
    assert other.status_code == 400
    assert site.reader.store.company_contact(CLIENT, C1) is None
    done = browser.post(f"{url}/confirm", data={**form, "code": code}, follow_redirects=False)
    assert done.status_code == 303
    assert site.reader.store.company_contact(CLIENT, C1) == ADDRESS
    assert site.reader.store.company_contact(CLIENT, C2) is None
    again = browser.post(f"{url}/confirm", data={**form, "code": code})
    assert again.status_code == 400  # single use
    page = browser.get(url)
    assert ADDRESS in page.text
    gone = browser.post(f"{url}/remove", data={"csrf_token": token(page.text)})
    assert gone.status_code == 200
    assert site.reader.store.company_contact(CLIENT, C1) is None
    events = [
        s.event
        for s in site.reader.store.store.audit_log()
        if s.event.action == "box.company_contact"
    ]
    assert [dict(e.details)["address"] for e in events] == ["set", "removed"]
    assert {e.actor for e in events} == {PRINCIPAL.key}
    assert {e.subject for e in events} == {CLIENT.value}
    assert {dict(e.details)["company"] for e in events} == {C1.value}


def test_a_bad_address_is_refused_and_nothing_sent(site: Site, tmp_path: Path) -> None:
    browser = site.browser(ADMIN)
    url = f"/companies/{C2.value}/contact"
    page = browser.get(url)
    assert page.status_code == 200
    sent = browser.post(url, data={"address": "not an address", "csrf_token": token(page.text)})
    assert sent.status_code == 400
    assert not (tmp_path / "outbox.jsonl").exists() or _codes(tmp_path) == []


@pytest.mark.parametrize("who", [COLLABORATOR, ACCOUNTANT])
def test_others_get_the_unknown_page(site: Site, who: object) -> None:
    browser = site.browser(who)  # type: ignore[arg-type]
    assert "/contact" not in browser.get("/home").text
    missing = browser.get("/companies/999999999/contact")
    for company in (C1, C2):
        page = browser.get(f"/companies/{company.value}/contact")
        assert page.status_code == missing.status_code == 404
        assert page.text.replace(company.value, "X") == missing.text.replace("999999999", "X")
