"""The README's demo through the real pages, on the demo's own seeded data: user 01 adds a
collaborator with rights on one company and one theme, approves with a strong proof; the
one-time code lands in the demo outbox; the collaborator logs in through the login pages
(code, forced change, a code by SMS to the mobile the administrator registered), sees only
those documents, and another document answers 404. The same first access for a third
party's new account opened by an invitation; accepting it (a change of rights) then asks a
stronger factor, which the strong session adds on the profile's TOTP page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_server.app import create_app
from securebox_server.demo_box_plan import BAKERY, TRANSPORT
from securebox_server.demo_data import CLIENT, DEMO_USERS, prepare, seed
from securebox_server.settings import load_settings
from securebox_server.wiring import build_securebox
from tests.server.admin.conftest import PROFILE
from tests.server.box.test_pages import listed
from tests.server.conftest import identify, submit_code, token

CODE_IN = re.compile(r"one-time confidential code: ([0-9]+)")
SIX = re.compile(r"\b([0-9]{6})\b")
NEW_CODE = "80461937"


@dataclass
class Demo:
    client: TestClient
    box: Securebox
    outbox: Path
    boss_totp: TotpCredential

    def browser(self) -> TestClient:
        fresh = TestClient(self.client.app, base_url="http://testserver")
        fresh.headers["Accept-Language"] = "en"
        return fresh

    def sent_to(self, to: str) -> list[str]:
        lines = self.outbox.read_text(encoding="utf-8").splitlines()
        return [m["body"] for m in map(json.loads, lines) if m["to"] == to]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    environ = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "SECUREBOX_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "SECUREBOX_PUBLIC_URL": "http://testserver",
        "SECUREBOX_DEMO": "true",
        **prepare(tmp_path),
    }
    seed(environ, fast=True)
    settings = load_settings(environ)
    box = build_securebox(settings, argon2=PROFILE_TESTING)
    # the demo gives 01 a certificate for strong proofs (through the signing agent); a
    # TOTP enrolled by the back office stands in for it here
    boss = Principal.parse(CLIENT, "01")
    enrolled = box.enrol_first_totp(Operator("demo-back-office"), boss)
    earlier = box.clock.now() - timedelta(seconds=30)  # this step's code stays for the proof
    assert box.confirm_totp(boss, totp_code_at(enrolled.credential, earlier))
    app = create_app(settings, argon2=PROFILE_TESTING)
    with TestClient(app, base_url="http://testserver") as client:
        assert settings.outbox is not None
        yield Demo(client, app.state.server.box, settings.outbox, enrolled.credential)


def _approve(
    demo: Demo,
    browser: TestClient,
    order: str,
    totp: TotpCredential | None = None,
    code: str = DEMO_USERS[0].code,
) -> str:
    """Walk the approval with a code and a TOTP (01's by default); the page the execution
    answers."""
    totp = totp or demo.boss_totp
    for _ in range(3):
        page = browser.get(order).text
        if "/execute" in page:
            break
        method = "totp" if f"{order}/proof/totp" in page else "confidential_code"
        given = totp_code_at(totp, demo.box.clock.now()) if method == "totp" else code
        proof = browser.get(f"{order}/proof/{method}")
        answer = browser.post(
            f"{order}/proof/{method}",
            data={"code": given, "csrf_token": token(proof.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
    done = browser.post(f"{order}/execute", data={"csrf_token": token(browser.get(order).text)})
    assert done.status_code == 200, done.text
    answered: str = done.text
    return answered


def first_login(browser: TestClient, client_id: str, user: str, one_time: str, demo: Demo) -> None:
    """Code, forced change, then a code by SMS to the registered mobile, then home."""
    identify(browser, client_id, user)
    answer = submit_code(browser, one_time)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/login/change-code"
    page = browser.get("/login/change-code")
    changed = browser.post(
        "/login/change-code",
        data={
            "current": one_time,
            "new": NEW_CODE,
            "confirm": NEW_CODE,
            "csrf_token": token(page.text),
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    assert changed.headers["location"] == "/login/strong"
    strong = browser.get("/login/strong").text
    assert "Code by SMS" in strong
    page = browser.get("/login/sms")
    target = re.search(r'name="target" value="([^"]*)"', page.text)
    assert target is not None
    sent = browser.post(
        "/login/sms/send", data={"target": target.group(1), "csrf_token": token(page.text)}
    )
    assert sent.status_code == 200, sent.text
    body = demo.sent_to(PROFILE["mobile"])[-1]
    assert "to log in" in body
    code = SIX.search(body)
    assert code is not None
    challenge = re.search(r'name="challenge" value="([^"]*)"', sent.text)
    assert challenge is not None
    done = browser.post(
        "/login/sms",
        data={
            "challenge": challenge.group(1),
            "target": target.group(1),
            "code": code.group(1),
            "csrf_token": token(sent.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"
    assert browser.get("/home").status_code == 200


def _box_documents(box: Securebox) -> list[tuple[str, str, str]]:
    engine = box.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, company, theme FROM box_documents")).all()
    return [(str(i), str(c), str(t)) for i, c, t in rows]


def test_the_readme_demo_through_the_login_pages(demo: Demo) -> None:
    admin = demo.browser()
    identify(admin, CLIENT, "01")
    assert submit_code(admin, DEMO_USERS[0].code).headers["location"] == "/home"
    docs = _box_documents(demo.box)
    theme = sorted(t for _, company, t in docs if company == TRANSPORT.value)[
        0
    ]  # seeds vary by date
    form = admin.get("/admin/users/new")
    assert "cannot complete a first login" not in form.text  # the demo's policy accepts SMS
    data = {
        **PROFILE,
        "user_number": "06",
        "role": "user",
        "companies": "chosen",
        "chosen": [TRANSPORT.value],
        "documents": "partial",
        "themes": [theme],
        "operations": ["view", "download"],
        "channel": "sms",
        "csrf_token": token(form.text),
    }
    sent = admin.post("/admin/users/new", data=data, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    done = _approve(demo, admin, sent.headers["location"])
    notice, letter = demo.sent_to(PROFILE["mobile"])
    (mail,) = demo.sent_to(PROFILE["email"])
    assert "registered for your account by an administrator" in notice
    assert mail == notice  # told on each channel, the code on one only
    one_time = CODE_IN.search(letter)
    assert one_time is not None
    assert one_time.group(1) not in done  # never on the administrator's page
    new = Principal.parse(CLIENT, "06")
    registered = {(d.channel, d.destination) for d in demo.box.factors.oob.destinations(new)}
    assert registered == {(Channel.SMS, PROFILE["mobile"]), (Channel.EMAIL, PROFILE["email"])}

    collaborator = demo.browser()
    first_login(collaborator, CLIENT, "06", one_time.group(1), demo)
    expected = {i for i, company, t in docs if company == TRANSPORT.value and t == theme}
    assert expected
    seen: set[str] = set()
    for page in range(1, 20):
        found = listed(collaborator.get(f"/documents?page={page}").text)
        if not found or set(found) <= seen:
            break
        seen.update(found)
    assert seen == expected
    other = next(i for i, company, _ in docs if company == BAKERY.value)
    assert collaborator.get(f"/documents/{other}").status_code == 404
    assert collaborator.get(f"/documents/{sorted(expected)[0]}").status_code == 200
    history = collaborator.get("/profile/history").text
    assert "Contact address registered by an administrator" in history


def test_a_third_partys_new_account_logs_in_then_accepts(demo: Demo) -> None:
    admin = demo.browser()
    identify(admin, CLIENT, "01")
    assert submit_code(admin, DEMO_USERS[0].code).headers["location"] == "/home"
    form = admin.get("/admin/third-parties")
    data = {
        "siren": "552 100 554",
        "name": "Cabinet Martin",
        "email": PROFILE["email"],
        "mobile": PROFILE["mobile"],
        "companies": [TRANSPORT.value],
        "csrf_token": token(form.text),
    }
    sent = admin.post("/admin/third-parties", data=data, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    _approve(demo, admin, sent.headers["location"])
    (mail,) = demo.sent_to(PROFILE["email"])
    (sms,) = demo.sent_to(PROFILE["mobile"])
    client_id = re.search(r"client identifier: ([0-9]+)", mail)
    link = re.search(r"http://testserver(/invitations/[A-Za-z0-9_-]+)", mail)
    code = re.search(r"code is ([0-9]+)", sms)
    assert client_id is not None
    assert link is not None
    assert code is not None
    invitee = demo.browser()
    first_login(invitee, client_id.group(1), "01", code.group(1), demo)
    # accepting is a change of rights: its step-up wants a stronger factor than a code by
    # SMS; the refusal says so and links to the pages that add one (the profile's TOTP page)
    page = invitee.get(link.group(1))
    refused = invitee.post(
        f"{link.group(1)}/accept", data={"csrf_token": token(page.text)}, follow_redirects=False
    )
    assert refused.status_code == 403, refused.text
    assert "None of your authentication methods can approve this operation" in refused.text
    assert 'href="/profile/totp"' in refused.text
    form = invitee.get("/profile/totp")
    begun = invitee.post("/profile/totp", data={"csrf_token": token(form.text)})
    assert begun.status_code == 200, begun.text
    principal = Principal.parse(client_id.group(1), "01")
    found = demo.box.store.get_factor_state(principal, fc.TOTP, "default")
    assert found is not None
    totp = fc.totp_from_dict(
        found.value, keys=demo.box.factors.totp.wrapping, principal=principal, item="default"
    )
    earlier = demo.box.clock.now() - timedelta(seconds=30)  # this step's code for the proof
    confirmed = invitee.post(
        "/profile/totp/confirm",
        data={"code": totp_code_at(totp, earlier), "csrf_token": token(begun.text)},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303, confirmed.text
    page = invitee.get(link.group(1))
    assert page.status_code == 200, page.text
    started = invitee.post(
        f"{link.group(1)}/accept", data={"csrf_token": token(page.text)}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    _approve(demo, invitee, started.headers["location"], totp, NEW_CODE)
    seen = listed(invitee.get("/documents").text)
    assert seen
    docs = {i: company for i, company, _ in _box_documents(demo.box)}
    assert {docs[i] for i in seen} == {TRANSPORT.value}
