"""Passkeys from the profile: added (the library's software authenticator answers the
page's options), named, renamed, removed (after a strong login only; a removed passkey
never logs in again); another user's passkey is not found."""

from __future__ import annotations

import json
import re

from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.server.conftest import identify, token
from tests.server.methods.test_passkey import answer, page_options
from tests.server.profile.conftest import ORIGIN, Profile

ROW = re.compile(r'action="/profile/passkeys/([A-Za-z0-9_-]+)/remove"')


def add(profile: Profile, name: str) -> SoftAuthenticator:
    form = profile.client.get("/profile/passkeys/add")
    assert form.status_code == 200, form.text
    options, ceremony = page_options(form.text)
    device = SoftAuthenticator(origin=ORIGIN, rp_id="bank.example")
    added = profile.client.post(
        "/profile/passkeys/add",
        data={
            "csrf_token": token(form.text),
            "ceremony": ceremony,
            "credential": json.dumps(device.create(options)),
            "name": name,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    return device


def ids(profile: Profile) -> list[str]:
    return ROW.findall(profile.client.get("/profile/passkeys").text)


def test_a_passkey_is_added_renamed_and_removed(profile: Profile) -> None:
    profile.login()
    device = add(profile, "Laptop")
    listed = profile.client.get("/profile/passkeys").text
    assert "Laptop" in listed
    [passkey] = ids(profile)
    renamed = profile.post(
        "/profile/passkeys", f"/profile/passkeys/{passkey}/name", {"name": "Work laptop"}
    )
    assert renamed.status_code == 303
    assert "Work laptop" in profile.client.get("/profile/passkeys").text
    removed = profile.post("/profile/passkeys", f"/profile/passkeys/{passkey}/remove")
    assert removed.status_code == 303
    assert ids(profile) == []  # listed as removed, no action left
    assert "passkey.revoke" in profile.actions()
    # the removed passkey no longer opens a session
    other = profile.other_browser()
    identify(other)
    login = other.get("/login/passkey")
    refused = answer(other, login.text, device.get(page_options(login.text)[0]))
    assert refused.headers.get("location") != "/home"


def test_removing_a_passkey_needs_a_strong_login(profile: Profile) -> None:
    profile.login()
    add(profile, "Phone")
    [passkey] = ids(profile)
    profile.client.cookies.clear()
    profile.login(strong=False)
    assert "Add a passkey" in profile.client.get("/profile/passkeys").text
    assert profile.client.get("/profile/passkeys/add").status_code == 403
    refused = profile.post("/profile/passkeys", f"/profile/passkeys/{passkey}/remove")
    assert refused.status_code == 403
    assert ids(profile) == [passkey]


def test_another_users_or_an_unknown_passkey_is_not_found(profile: Profile) -> None:
    profile.login()
    add(profile, "Laptop")
    [passkey] = ids(profile)
    profile.second_user()
    other = profile.login(client=profile.other_browser(), user="02", strong=False)
    csrf = token(other.get("/profile/passkeys").text)
    renamed = other.post(
        f"/profile/passkeys/{passkey}/name", data={"name": "x", "csrf_token": csrf}
    )
    assert renamed.status_code == 400
    bad = profile.post("/profile/passkeys", "/profile/passkeys/AAAA/remove")
    assert bad.status_code == 404
    assert "Laptop" in profile.client.get("/profile/passkeys").text
