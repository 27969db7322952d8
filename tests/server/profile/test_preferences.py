"""Notification preferences and the profile's overview, through the pages and the API
(RFC 9457 problems on bad input, Origin-checked writes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput
from securebox_server.profile.model import NewDocuments, Preferences, parse_preferences
from tests.server.profile.conftest import OLD_EMAIL, OLD_MOBILE, ORIGIN, Profile


def test_the_overview_shows_contacts_and_factors(profile: Profile) -> None:
    profile.login(strong=False)
    page = profile.client.get("/profile")
    assert OLD_EMAIL in page.text
    assert OLD_MOBILE in page.text
    assert 'href="/profile/history"' in page.text
    assert 'href="/profile"' in profile.client.get("/home").text
    body = profile.client.get("/api/v1/profile").json()
    assert body["principal"] == "123456789:01"
    assert body["contacts"] == {"email": [OLD_EMAIL], "sms": [OLD_MOBILE]}
    assert body["totp"] == "active"
    assert body["preferences"] == {"new_documents": "email", "language": "fr"}
    assert body["passkeys"] == []
    assert body["certificate"] is None


def test_preferences_are_saved_from_the_page(profile: Profile) -> None:
    profile.login(strong=False)
    page = profile.client.get("/profile/preferences")
    assert 'value="email" checked' in page.text
    saved = profile.post(
        "/profile/preferences", "/profile/preferences", {"new_documents": "sms", "language": "en"}
    )
    assert saved.headers["location"] == "/profile/preferences?saved=1"
    again = profile.client.get("/profile/preferences?saved=1")
    assert 'value="sms" checked' in again.text
    assert 'value="en" checked' in again.text
    assert "Your preferences are saved." in again.text
    bad = profile.post(
        "/profile/preferences", "/profile/preferences", {"new_documents": "fax", "language": "en"}
    )
    assert bad.status_code == 400
    assert "profile.preferences" in profile.actions()


def test_preferences_through_the_api(profile: Profile) -> None:
    profile.login(strong=False)
    origin = {"Origin": ORIGIN}
    body = {"new_documents": "none", "language": "en"}
    done = profile.client.put("/api/v1/profile/preferences", json=body, headers=origin)
    assert done.status_code == 200
    assert done.json() == body
    bad = profile.client.put(
        "/api/v1/profile/preferences", json={**body, "language": "de"}, headers=origin
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    cross = profile.client.put("/api/v1/profile/preferences", json=body)
    assert cross.status_code == 403
    anonymous = profile.other_browser().get("/api/v1/profile")
    assert anonymous.status_code == 401


@given(
    st.one_of(st.text(max_size=8), st.none(), st.integers()),
    st.one_of(st.text(max_size=3), st.none()),
)
def test_parse_preferences_accepts_only_the_choices(choice: object, language: object) -> None:
    try:
        parsed = parse_preferences(choice, language)
    except MalformedInput:
        assert choice not in {c.value for c in NewDocuments} or language not in ("fr", "en")
    else:
        assert parsed == Preferences(NewDocuments(choice), str(language))
