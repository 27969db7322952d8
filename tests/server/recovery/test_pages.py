"""The recovery pages through the real app: the e-mail received by aiosmtpd and its link
followed, the SMS received by the provider, identical answers for unknown claims, single
use, a newer request invalidating an older link, sessions ended, the other channel told,
and the next login following the policy."""

from __future__ import annotations

import re
from datetime import timedelta

from securebox_auth.policy.session import Session  # noqa: F401 (type of sessions_of)
from tests.server.conftest import CODE, identify, submit_code, token
from tests.server.recovery.conftest import EMAIL, MOBILE, SIREN, Rig

NEW = "58301917"
LINK = re.compile(r"https?://\S+/recovery/link/(\S+)")


def ask_link(rig: Rig, user: str = "01", email: str = EMAIL) -> str:
    page = rig.client.get("/recovery/code")
    assert page.status_code == 200
    answer = rig.client.post(
        "/recovery/code",
        data={
            "client_id": "123456789",
            "user_number": user,
            "email": email,
            "csrf_token": token(page.text),
        },
    )
    assert answer.status_code == 200, answer.text
    text: str = answer.text
    return text


def last_link(rig: Rig) -> str:
    rig.drain()
    body = str(rig.smtp.relay.messages()[-1].get_content())
    found = LINK.search(body)
    assert found is not None, body
    return found.group(1)


def choose(rig: Rig, link: str, code: str = NEW, confirm: str | None = None):  # type: ignore[no-untyped-def]
    page = rig.client.get(f"/recovery/link/{link}")
    csrf = token(page.text) if page.status_code == 200 else token(rig.client.get("/recovery").text)
    return rig.client.post(
        f"/recovery/link/{link}",
        data={"code": code, "confirm": confirm or code, "csrf_token": csrf},
    )


def test_login_page_links_to_recovery(rig: Rig) -> None:
    assert 'href="/login/forgotten"' in rig.client.get("/login").text
    identify(rig.client)
    assert 'href="/recovery/code"' in rig.client.get("/login/code").text
    page = rig.client.get("/login/forgotten")
    assert page.url.path == "/recovery"
    assert 'href="/recovery/identifier"' in page.text
    assert 'href="/recovery/code"' in page.text


def test_email_link_resets_the_code_once(rig: Rig) -> None:
    ask_link(rig)
    link = last_link(rig)
    mail = rig.smtp.relay.messages()[-1]
    assert mail["To"] == EMAIL
    opened = rig.client.get(f"/recovery/link/{link}")
    assert opened.status_code == 200
    assert opened.headers["referrer-policy"] == "same-origin"
    assert opened.headers["cache-control"] == "no-store"
    done = choose(rig, link)
    assert done.status_code == 200, done.text
    rig.drain()
    # told on the other channel (SMS), and the code works
    assert rig.sms.received[-1]["to"] == MOBILE
    assert "code" in rig.sms.received[-1]["text"].lower()
    assert rig.box.codes.login("123456789", "01", NEW).authenticated
    # single use: the link is dead, and the page says how to get a new one
    gone = rig.client.get(f"/recovery/link/{link}")
    assert gone.status_code == 410
    assert 'href="/recovery/code"' in gone.text
    assert "login took too long" not in gone.text
    assert choose(rig, link, "69204718").status_code == 410
    assert choose(rig, link, "69204718", "69204719").status_code == 410
    assert rig.box.codes.login("123456789", "01", NEW).authenticated


def test_unknown_claims_get_the_same_page(rig: Rig) -> None:
    known = ask_link(rig)
    unknown_user = ask_link(rig, user="07")
    wrong_mail = ask_link(rig, email="mallory@example.org")
    strip = re.compile(r'name="csrf_token" value="[0-9a-f]+"')
    assert strip.sub("", known) == strip.sub("", unknown_user) == strip.sub("", wrong_mail)
    rig.drain()
    assert len(rig.smtp.relay.messages()) == 1  # only the real address got a mail


def test_a_newer_request_invalidates_the_older_link(rig: Rig) -> None:
    ask_link(rig)
    first = last_link(rig)
    ask_link(rig)
    second = last_link(rig)
    assert first != second
    assert rig.client.get(f"/recovery/link/{first}").status_code == 410
    assert choose(rig, second).status_code == 200


def test_the_link_expires_after_three_hours(rig: Rig) -> None:
    ask_link(rig)
    link = last_link(rig)
    rig.clock.advance(timedelta(hours=3))
    assert rig.client.get(f"/recovery/link/{link}").status_code == 410


def test_a_weak_code_does_not_use_the_link(rig: Rig) -> None:
    ask_link(rig)
    link = last_link(rig)
    assert choose(rig, link, "11111111").status_code == 400
    assert choose(rig, link, CODE).status_code == 400  # the current code: refused
    assert choose(rig, link, NEW, "58301918").status_code == 400
    assert choose(rig, link).status_code == 200


def test_every_session_ends(rig: Rig) -> None:
    identify(rig.client)
    assert submit_code(rig.client).status_code == 303
    assert rig.box.sessions_of(rig.principal)
    ask_link(rig)
    assert choose(rig, last_link(rig)).status_code == 200
    assert rig.box.sessions_of(rig.principal) == []


def test_recovery_is_not_a_strong_login(rig: Rig) -> None:
    """After a reset the login asks for what the policy asks: the code alone is not a
    strong authentication: with the renewal due (older than 90 days) and no second factor
    enrolled, the login is denied, and no session opens."""
    rig.clock.advance(timedelta(days=91))
    ask_link(rig)
    assert choose(rig, last_link(rig)).status_code == 200
    rig.clock.advance(timedelta(seconds=1))  # a login begun at the reset's instant is refused
    identify(rig.client)
    answer = submit_code(rig.client, NEW)
    assert answer.status_code == 403, answer.text[-600:]
    assert rig.box.sessions_of(rig.principal) == []
    events = [e.event.action for e in rig.box.audit_log()]
    assert "recovery.code_reset" in events
    assert "recovery.request" in events


def test_identifier_by_sms_after_the_code(rig: Rig) -> None:
    page = rig.client.get("/recovery/identifier")
    form = {"siren": SIREN, "mobile": MOBILE, "code": CODE, "csrf_token": token(page.text)}
    right = rig.client.post("/recovery/identifier", data=form)
    wrong = rig.client.post("/recovery/identifier", data={**form, "code": "69204718"})
    unknown = rig.client.post("/recovery/identifier", data={**form, "siren": "552100554"})
    assert right.status_code == wrong.status_code == unknown.status_code == 200
    assert right.text == wrong.text == unknown.text
    rig.drain()
    assert len(rig.sms.received) == 1
    assert "123456789" in rig.sms.received[0]["text"]
    assert "01" in rig.sms.received[0]["text"]
    assert rig.sms.received[0]["to"] == MOBILE
    notice = rig.smtp.relay.messages()[-1]
    assert notice["To"] == EMAIL
    assert "123456789" not in notice.get_content()


def test_pages_in_french(rig: Rig) -> None:
    page = rig.client.get("/recovery", headers={"Accept-Language": "fr"})
    assert "Identifiant ou code oublié" in page.text
    code = rig.client.get("/recovery/code", headers={"Accept-Language": "fr"})
    assert "Envoyer le lien" in code.text


def test_a_link_asked_before_every_session_was_ended_is_not_valid_any_more(rig: Rig) -> None:
    """ "Log out everywhere" (or a removal) after the link was sent overtakes the recovery:
    the link answers like a used one and the code stays (ADR 0069); a new link works."""
    ask_link(rig)
    link = last_link(rig)
    rig.clock.advance(timedelta(minutes=1))
    rig.box.end_all(rig.principal)
    rig.clock.advance(timedelta(minutes=1))
    assert choose(rig, link).status_code == 410
    assert rig.box.codes.login("123456789", "01", CODE).authenticated
    ask_link(rig)
    assert choose(rig, last_link(rig)).status_code == 200
    assert rig.box.codes.login("123456789", "01", NEW).authenticated
