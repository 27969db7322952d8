"""Codes by e-mail and SMS through the pages: real delivery on loopback (aiosmtpd, an
http.server webhook), the destination taken from the stored account, refusals, resends."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_server.methods.oob import mask
from tests.server.conftest import AppMaker, identify, open_user, submit_code, token
from tests.server.methods.conftest import EMAIL, PHONE, SMS_TOKEN, Enrol, Mailbox, SmsProvider
from tests.server.test_throttle import Recording

TARGET = re.compile(r'name="target" value="([^"]*)"')
CHALLENGE = re.compile(r'name="challenge" value="([^"]*)"')
MASKED_PHONE = "+33 6 •• •• •• 42"


def second_factor(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"
    identify(client)
    done = submit_code(client)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/login/strong"


def send(client: TestClient, channel: str, target: str | None = None) -> tuple[int, str]:
    page = client.get(f"/login/{channel}")
    assert page.status_code == 200, page.text
    found = TARGET.search(page.text)
    chosen = target if target is not None else (found.group(1) if found else "")
    sent = client.post(
        f"/login/{channel}/send", data={"target": chosen, "csrf_token": token(page.text)}
    )
    return sent.status_code, sent.text


def _answer(client: TestClient, channel: str, html: str, code: str):  # type: ignore[no-untyped-def]
    challenge = CHALLENGE.search(html)
    target = TARGET.search(html)
    return client.post(
        f"/login/{channel}",
        data={
            "challenge": challenge.group(1) if challenge else "",
            "target": target.group(1) if target else "",
            "code": code,
            "csrf_token": token(html),
        },
        follow_redirects=False,
    )


def _sms_app(
    make_app: AppMaker, enrol: Enrol, policy: Path, provider: SmsProvider, **extra: object
) -> tuple[TestClient, Securebox, FixedClock]:
    client, box, clock = make_app(policy=policy, sms_url=provider.url, **extra)
    principal, _ = open_user(box, strong=False)
    enrol(box, clock, principal, Channel.SMS, PHONE)
    return client, box, clock


def test_email_code_login_through_a_real_smtp_server(
    make_app: AppMaker, enrol: Enrol, policy: Path, smtp_server: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp_server
    url = f"smtp+plain://127.0.0.1:{port}?from=no-reply@bank.example"
    client, box, clock = make_app(policy=policy, smtp_url=url)
    principal, _ = open_user(box, strong=False)
    enrol(box, clock, principal, Channel.EMAIL, EMAIL)
    second_factor(client)
    strong = client.get("/login/strong").text
    assert "Code by e-mail" in strong
    assert "Code by SMS" not in strong
    page = client.get("/login/email").text
    assert "c•••@e•••.com" in page
    assert EMAIL not in page
    assert "only for logging in" in page  # the code's purpose
    status, html = send(client, "email")
    assert status == 200
    assert "A code was sent to c•••@e•••.com" in html
    (envelope,) = mailbox.received
    assert envelope.rcpt_tos == [EMAIL]
    assert envelope.mail_from == "no-reply@bank.example"
    done = _answer(client, "email", html, mailbox.last_code(EMAIL))
    assert done.status_code == 303
    assert done.headers["location"] == "/home"
    assert client.get("/home").status_code == 200


def test_sms_code_login_through_a_real_webhook(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, _, _ = _sms_app(make_app, enrol, policy, sms_provider)
    second_factor(client)
    page = client.get("/login/sms").text
    assert MASKED_PHONE in page
    assert PHONE not in page
    status, html = send(client, "sms")
    assert status == 200
    assert MASKED_PHONE in html
    ((authorization, body),) = sms_provider.received
    assert authorization == f"Bearer {SMS_TOKEN}"
    assert body["to"] == PHONE
    assert "to log in" in body["text"]
    done = _answer(client, "sms", html, sms_provider.last_code(PHONE))
    assert done.status_code == 303
    assert done.headers["location"] == "/home"


def test_the_destination_comes_from_the_account_not_the_browser(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, _, _ = _sms_app(make_app, enrol, policy, sms_provider)
    second_factor(client)
    status, _ = send(client, "sms", target="+33600000666")
    assert status == 200
    assert [body["to"] for _, body in sms_provider.received] == [PHONE]


def test_a_wrong_code_is_refused_and_counted(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, box, _ = _sms_app(make_app, enrol, policy, sms_provider)
    second_factor(client)
    _, html = send(client, "sms")
    right = sms_provider.last_code(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    before = _failures(box)
    refused = _answer(client, "sms", html, wrong)
    assert refused.status_code == 401
    assert "The code was refused" in refused.text
    assert _failures(box) == before + 1
    done = _answer(client, "sms", refused.text, right)  # the same code, still valid
    assert done.status_code == 303
    assert done.headers["location"] == "/home"


def _failures(box: Securebox) -> int:
    return box.store.get_lockout(Principal.parse("123456789", "01")).value.failures


def test_a_code_sent_for_another_login_is_refused(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, _, clock = _sms_app(make_app, enrol, policy, sms_provider)
    second_factor(client)
    _, first = send(client, "sms")
    code = sms_provider.last_code(PHONE)
    second_factor(client)  # a new login: a new flow
    clock.advance(timedelta(seconds=31))
    old = CHALLENGE.search(first)
    assert old is not None
    page = client.get("/login/sms").text  # a fresh form of the new login, the old challenge
    refused = client.post(
        "/login/sms", data={"challenge": old.group(1), "code": code, "csrf_token": token(page)}
    )
    assert refused.status_code == 401
    assert "The code was refused" in refused.text
    _, second = send(client, "sms")
    done = _answer(client, "sms", second, sms_provider.last_code(PHONE))
    assert done.status_code == 303


def test_resend_within_the_library_limits(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    limits = Recording()
    client, _, clock = _sms_app(make_app, enrol, policy, sms_provider, limits=limits)
    second_factor(client)
    assert send(client, "sms")[0] == 200
    status, html = send(client, "sms")  # at once: too soon
    assert status == 429
    assert "one every 30 seconds" in html
    for _ in range(4):
        clock.advance(timedelta(seconds=31))
        status, html = send(client, "sms")
        assert status == 200
        assert "Send me a new code" in html
    clock.advance(timedelta(seconds=31))
    assert send(client, "sms")[0] == 429  # five an hour
    assert len(sms_provider.received) == 5
    assert ("login.oob.send", "ip:testclient") in limits.hits
    assert any(n == "login.oob.send" and k.startswith("account:") for n, k in limits.hits)
    done = _answer(client, "sms", html, sms_provider.last_code(PHONE))
    assert done.status_code == 303
    assert ("login.oob", "ip:testclient") in limits.hits


def test_nothing_is_shown_or_sent_before_the_first_factor(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, _, _ = _sms_app(make_app, enrol, policy, sms_provider)
    client.headers["Accept-Language"] = "en"
    identify(client)
    page = client.get("/login/sms")
    assert page.status_code == 409
    assert "•" not in page.text
    form = client.get("/login").text
    sent = client.post("/login/sms/send", data={"target": "", "csrf_token": token(form)})
    assert sent.status_code == 409
    assert sms_provider.received == []


def test_no_verified_destination_and_a_failing_provider(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, box, _ = make_app(policy=policy, sms_url=sms_provider.url)
    open_user(box, strong=False)
    identify(client)
    submit_code(client)  # no verified destination: no code by SMS is offered
    page = client.get("/login/sms")
    assert page.status_code in (401, 409), page.status_code
    assert "/login/sms/send" not in page.text
    assert sms_provider.received == []


def test_a_provider_failure_is_a_clear_page(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, _, _ = _sms_app(make_app, enrol, policy, sms_provider)
    second_factor(client)
    sms_provider.fail_with(500)
    status, html = send(client, "sms")
    assert status == 503
    assert "could not be sent" in html


def test_junk_is_refused_without_a_500(
    make_app: AppMaker, enrol: Enrol, policy: Path, sms_provider: SmsProvider
) -> None:
    client, _, _ = _sms_app(make_app, enrol, policy, sms_provider)
    second_factor(client)
    _, html = send(client, "sms")
    csrf = token(html)
    found = CHALLENGE.search(html)
    assert found is not None
    real = found.group(1)
    for data in (
        {"challenge": "", "code": "123456"},
        {"challenge": "x" * 129, "code": "1"},
        {"challenge": "../../etc", "code": "abc"},
        {"challenge": real, "code": "x" * 65},
        {"challenge": real, "code": "\uff11\uff12\uff13\uff14\uff15\uff16"},  # full-width digits
        {"challenge": "\x00", "code": "\x00"},
    ):
        answer = client.post("/login/sms", data={**data, "csrf_token": csrf})
        assert 400 <= answer.status_code < 500, (data, answer.status_code)
    assert client.post("/login/sms/send", data={"target": "\x00" * 200}).status_code == 403
    fresh = TestClient(client.app, base_url="http://testserver")
    assert 400 <= fresh.get("/login/sms", follow_redirects=False).status_code < 500


def test_masks() -> None:
    assert mask(Channel.SMS, "+33612345642") == MASKED_PHONE
    assert mask(Channel.SMS, "+44 7700 900123") == "+44 •••••••• 23"
    assert mask(Channel.SMS, "123") == "••••"
    assert mask(Channel.EMAIL, "jeanne@bank.fr") == "j•••@b•••.fr"
    assert mask(Channel.EMAIL, "x@localhost") == "x•••@l•••"
