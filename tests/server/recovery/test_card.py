"""A forgotten code by card, through the real app: the CAP Respond code computed by the
demo reader over the digits the page shows, the one-time code received by the SMS
provider, the e-mail notice received by aiosmtpd, the old code dead, the new one-time code
to be changed at the next login; an unknown user gets the same pages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.code import CodeOutcome
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.app import create_app
from securebox_server.demo_cap import seed_cap_card
from securebox_server.recovery.service import RecoveryService
from securebox_server.wiring import build_securebox
from tests.server.conftest import CLIENT, token
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    SMS_TOKEN,
    SmsProvider,
    SmtpRelay,
    sms_hook,
    smtp_relay,
    verify,
)
from tests.server.methods.conftest import CAP_CODE, CAP_USER, PIN_LINE, CapServer, cap_settings
from tests.server.recovery.conftest import EMAIL, MOBILE

DIGITS = re.compile(r'id="challenge"[^>]*>([0-9]{8})<')
HIDDEN = re.compile(r'name="(flow_id|challenge_id)" value="([A-Za-z0-9_-]+)"')
#: The demo reader's page sets cookies: an API write then needs the portal's Origin.
ORIGIN = {"Origin": "http://testserver"}
ONE_TIME = re.compile(r"\b([0-9]{8})\b")


@pytest.fixture
def card(
    tmp_path: Path,
    migrated_sqlite: Path,
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
) -> Iterator[tuple[CapServer, SmtpRelay, SmsProvider]]:
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    settings = replace(
        cap_settings(tmp_path),
        smtp_url=f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example",
        sms_url=sms_hook.url.replace("http://", f"http://{SMS_TOKEN}@"),
    )
    clock, keys = FixedClock(), DerivedKeys.generate()
    box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING, keys=keys)
    principal = Principal.parse(CLIENT, CAP_USER)
    line = seed_cap_card(box, settings, Operator("back-office"), principal, CAP_CODE)
    assert line is not None
    pin = PIN_LINE.search(line)
    assert pin is not None
    outbox = FileOutbox(tmp_path / "enrol.jsonl")
    verify(box, clock, outbox, principal, Channel.EMAIL, EMAIL)
    verify(box, clock, outbox, principal, Channel.SMS, MOBILE)
    app = create_app(settings, securebox=box, keys=keys)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        assert settings.demo_cards_dir is not None
        yield (
            CapServer(client, box, clock, settings.demo_cards_dir, pin.group(1)),
            smtp_relay,
            sms_hook,
        )


def _challenge(server: CapServer, user: str) -> tuple[str, dict[str, str]]:
    page = server.client.get("/recovery/card")
    assert page.status_code == 200, page.text
    shown = server.client.post(
        "/recovery/card",
        data={"client_id": CLIENT, "user_number": user, "csrf_token": token(page.text)},
    )
    assert shown.status_code == 200, shown.text
    digits = DIGITS.search(shown.text)
    assert digits is not None
    form = dict(HIDDEN.findall(shown.text))
    form["csrf_token"] = token(shown.text)
    return digits.group(1), form


def test_a_card_proof_sends_a_one_time_code(card: tuple[CapServer, SmtpRelay, SmsProvider]) -> None:
    server, smtp, sms = card
    assert 'href="/recovery/card"' in server.client.get("/recovery").text
    digits, form = _challenge(server, CAP_USER)
    wrong = server.client.post("/recovery/card/answer", data={**form, "code": "12345678"})
    assert wrong.status_code == 401
    digits, form = DIGITS.search(wrong.text).group(1), dict(HIDDEN.findall(wrong.text))  # type: ignore[union-attr]
    form["csrf_token"] = token(wrong.text)
    code = server.code("respond", digits)
    done = server.client.post("/recovery/card/answer", data={**form, "code": code})
    assert done.status_code == 200, done.text
    recovery: RecoveryService = server.client.app.state.recovery  # type: ignore[attr-defined]
    recovery.dispatcher.drain()
    assert sms.received[-1]["to"] == MOBILE
    found = ONE_TIME.search(sms.received[-1]["text"])
    assert found is not None
    assert smtp.relay.messages()[-1]["To"] == EMAIL
    assert found.group(1) not in smtp.relay.messages()[-1].get_content()
    assert not server.box.codes.login(CLIENT, CAP_USER, CAP_CODE).authenticated
    fresh = server.box.codes.login(CLIENT, CAP_USER, found.group(1))
    assert fresh.outcome is CodeOutcome.CHANGE_REQUIRED  # a one-time code: changed first
    # the flow is used up
    again = server.client.post("/recovery/card/answer", data={**form, "code": code})
    assert again.status_code in (400, 401, 410)


def test_an_unknown_user_gets_the_same_pages(
    card: tuple[CapServer, SmtpRelay, SmsProvider],
) -> None:
    server, _, sms = card
    _, form = _challenge(server, "77")
    shapes = []
    for _attempt in range(2):
        answer = server.client.post("/recovery/card/answer", data={**form, "code": "12345678"})
        assert answer.status_code == 401
        shapes.append(re.sub(r'value="[^"]*"|[0-9]{8}', "", answer.text))
        form = {**dict(HIDDEN.findall(answer.text)), "csrf_token": token(answer.text)}
    assert shapes[0] == shapes[1]
    assert sms.received == []


def test_a_card_recovery_by_the_api(card: tuple[CapServer, SmtpRelay, SmsProvider]) -> None:
    server, _, sms = card
    made = server.client.post("/api/v1/recovery/flows", json={"kind": "code_card"}, headers=ORIGIN)
    assert made.status_code == 201
    flow_id = made.json()["id"]
    claim = server.client.post(
        f"/api/v1/recovery/flows/{flow_id}/address",
        json={"client_id": CLIENT, "user_number": CAP_USER},
        headers=ORIGIN,
    )
    assert claim.status_code == 202, claim.text
    challenge = claim.json()["challenge"]
    wrong = server.client.post(
        f"/api/v1/recovery/flows/{flow_id}/card",
        json={"challenge_id": challenge["id"], "code": "12345678"},
        headers=ORIGIN,
    )
    assert wrong.status_code == 200
    assert wrong.json()["state"] == "awaiting_code"
    challenge = wrong.json()["challenge"]
    code = server.code("respond", challenge["digits"])
    done = server.client.post(
        f"/api/v1/recovery/flows/{flow_id}/card",
        json={"challenge_id": challenge["id"], "code": code},
        headers=ORIGIN,
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done"
    assert "challenge" not in done.json()
    recovery: RecoveryService = server.client.app.state.recovery  # type: ignore[attr-defined]
    recovery.dispatcher.drain()
    assert sms.received[-1]["to"] == MOBILE
