"""Changing the e-mail address and the mobile number through the real pages: the code goes
to the NEW address (received by a real SMTP server, or the local SMS provider), the change
is made only when it comes back, the OLD address is told; a pending change is single use,
expires, and needs a recent strong authentication."""

from __future__ import annotations

import re
from datetime import timedelta

from securebox_auth.factors.oob import Channel
from tests.server.conftest import token
from tests.server.profile.conftest import OLD_EMAIL, OLD_MOBILE, Profile

NEW_EMAIL = "new@client.example"
NEW_MOBILE = "+33622222222"
CONFIRM = re.compile(r'action="(/profile/contact/confirm/[A-Za-z0-9_-]+)"')
CODE = re.compile(r"\b(\d{6})\b")


def addresses(profile: Profile, channel: Channel) -> list[str]:
    found = profile.box.factors.oob.destinations(profile.principal)
    return sorted(d.destination for d in found if d.channel is channel)


def begin(profile: Profile, channel: str, address: str) -> tuple[str, str]:
    """Ask for the change; the confirmation form's action and its CSRF token."""
    sent = profile.post("/profile/contact", f"/profile/contact/{channel}", {"address": address})
    assert sent.status_code == 200, sent.text
    found = CONFIRM.search(sent.text)
    assert found is not None
    return found.group(1), token(sent.text)


def mail_code(profile: Profile, to: str) -> str:
    for message in profile.smtp.relay.messages():
        if message["To"] == to:
            found = CODE.search(message.get_content())
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no mail to {to}")


def test_a_new_email_address_is_proved_and_the_old_one_is_told(profile: Profile) -> None:
    profile.login()
    action, csrf = begin(profile, "email", NEW_EMAIL)
    assert addresses(profile, Channel.EMAIL) == [OLD_EMAIL]  # nothing changed yet
    code = mail_code(profile, NEW_EMAIL)
    done = profile.client.post(
        action,
        data={"address": NEW_EMAIL, "code": code, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert addresses(profile, Channel.EMAIL) == [NEW_EMAIL]
    assert addresses(profile, Channel.SMS) == [OLD_MOBILE]
    told = [m for m in profile.smtp.relay.messages() if m["To"] == OLD_EMAIL]
    assert len(told) == 1
    assert "a été modifiée" in told[0].get_content()  # the user's language: French by default
    assert NEW_EMAIL not in told[0].get_content()
    assert "profile.contact.change" in profile.actions()
    # single use: the same change cannot be confirmed again
    again = profile.client.post(
        action, data={"address": NEW_EMAIL, "code": code, "csrf_token": csrf}
    )
    assert again.status_code == 400
    assert "expired or was already used" in again.text


def test_a_new_mobile_is_proved_by_sms_and_the_old_one_is_told(profile: Profile) -> None:
    profile.login()
    saved = profile.post(
        "/profile/preferences", "/profile/preferences", {"new_documents": "sms", "language": "en"}
    )
    assert saved.status_code == 303
    action, csrf = begin(profile, "sms", NEW_MOBILE)
    sent = [m for m in profile.sms.received if m["to"] == NEW_MOBILE]
    assert len(sent) == 1
    found = CODE.search(sent[0]["text"])
    assert found is not None
    done = profile.client.post(
        action,
        data={"address": NEW_MOBILE, "code": found.group(1), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert addresses(profile, Channel.SMS) == [NEW_MOBILE]
    told = [m for m in profile.sms.received if m["to"] == OLD_MOBILE]
    assert len(told) == 1
    assert told[0]["text"].startswith("The mobile number of your Digital Box account was changed")


def test_a_code_only_session_may_not_change_an_address(profile: Profile) -> None:
    profile.login(strong=False)
    sent = profile.post("/profile/contact", "/profile/contact/email", {"address": NEW_EMAIL})
    assert sent.status_code == 403
    assert "strong authentication" in sent.text
    assert profile.smtp.relay.messages() == []
    assert addresses(profile, Channel.EMAIL) == [OLD_EMAIL]


def test_a_wrong_code_or_another_address_changes_nothing(profile: Profile) -> None:
    profile.login()
    action, csrf = begin(profile, "email", NEW_EMAIL)
    code = mail_code(profile, NEW_EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    bad = profile.client.post(
        action, data={"address": NEW_EMAIL, "code": wrong, "csrf_token": csrf}
    )
    assert bad.status_code == 400
    other = profile.client.post(
        action, data={"address": "thief@evil.example", "code": code, "csrf_token": csrf}
    )
    assert other.status_code == 400
    assert addresses(profile, Channel.EMAIL) == [OLD_EMAIL]
    assert [m["To"] for m in profile.smtp.relay.messages()] == [NEW_EMAIL]


def test_a_pending_change_expires(profile: Profile) -> None:
    profile.login()
    action, csrf = begin(profile, "email", NEW_EMAIL)
    code = mail_code(profile, NEW_EMAIL)
    profile.clock.advance(timedelta(minutes=16))
    profile.client.cookies.clear()  # the session timed out too: log in again
    profile.login()
    csrf = token(profile.client.get("/profile/contact").text)  # a new browser binding
    late = profile.client.post(
        action, data={"address": NEW_EMAIL, "code": code, "csrf_token": csrf}
    )
    assert late.status_code == 400
    assert addresses(profile, Channel.EMAIL) == [OLD_EMAIL]


def test_a_newer_request_supersedes_the_older(profile: Profile) -> None:
    profile.login()
    first, csrf = begin(profile, "email", NEW_EMAIL)
    code = mail_code(profile, NEW_EMAIL)
    profile.clock.advance(timedelta(minutes=1))  # past the library's send interval
    begin(profile, "email", "newer@client.example")
    old = profile.client.post(first, data={"address": NEW_EMAIL, "code": code, "csrf_token": csrf})
    assert old.status_code == 400
    assert addresses(profile, Channel.EMAIL) == [OLD_EMAIL]


def test_another_users_change_is_not_found(profile: Profile) -> None:
    profile.login()
    action, _ = begin(profile, "email", NEW_EMAIL)
    code = mail_code(profile, NEW_EMAIL)
    profile.second_user()
    other = profile.login(strong=False, client=profile.other_browser(), user="02")
    csrf = token(other.get("/profile/contact").text)
    stolen = other.post(action, data={"address": NEW_EMAIL, "code": code, "csrf_token": csrf})
    assert stolen.status_code == 400
    assert "expired or was already used" in stolen.text
    assert addresses(profile, Channel.EMAIL) == [OLD_EMAIL]


def test_a_bad_address_or_channel_is_refused(profile: Profile) -> None:
    profile.login()
    bad = profile.post("/profile/contact", "/profile/contact/email", {"address": "not an address"})
    assert bad.status_code == 400
    assert "No code could be sent" in bad.text
    page = profile.client.get("/profile/contact")
    unknown = profile.client.post(
        "/profile/contact/fax", data={"address": "1", "csrf_token": token(page.text)}
    )
    assert unknown.status_code == 400


def test_each_form_posts_the_address_under_the_name_the_route_reads(profile: Profile) -> None:
    """The page's own forms, not a hand-made body: each change form's fields are the CSRF
    token and ``address`` (a Jinja ``replace`` on the field's markup once escaped the new
    name, and every browser posted ``"address"``, quotes included: no change could be
    made from a real page)."""
    profile.login()
    page = profile.client.get("/profile/contact").text
    for channel in ("email", "sms"):
        form = re.search(
            rf'<form[^>]*action="/profile/contact/{channel}"[^>]*>(.*?)</form>', page, re.S
        )
        assert form is not None, channel
        names = re.findall(r'<input[^>]*\bname="([^"]*)"', form.group(1))
        assert sorted(names) == ["address", "csrf_token"], (channel, names)
