"""The security history: the user's own events, newest first, paged, labelled in French
and English; another user's events never appear (pages and API)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.audit import AuditEvent, SealedEvent
from securebox_auth.identity import Principal
from securebox_server.profile.history import LABELS, PAGE_SIZE, history_of
from securebox_server.profile.model import Preferences
from tests.server.conftest import token
from tests.server.profile.conftest import Profile

ROW = re.compile(r"<tr><td>([^<]+)</td><td>([^<]+)</td>")
ME = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")


def test_the_history_shows_the_users_events_newest_first(profile: Profile) -> None:
    profile.login()
    rows = ROW.findall(profile.client.get("/profile/history").text)
    labels = [label for _, label in rows]
    assert labels[0] == "Login"  # the newest
    assert "Authenticator application set up" in labels
    assert "Confidential code changed" in labels
    assert [when for when, _ in rows] == sorted((when for when, _ in rows), reverse=True)
    french = profile.client.get("/profile/history", headers={"Accept-Language": "fr"})
    assert "Connexion" in french.text


def test_another_users_events_are_never_shown(profile: Profile) -> None:
    profile.second_user()
    other = profile.login(client=profile.other_browser(), user="02", strong=False)
    csrf = other.get("/profile/preferences")
    saved = other.post(
        "/profile/preferences",
        data={"new_documents": "sms", "language": "en", "csrf_token": token(csrf.text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    profile.login(strong=False)
    mine = profile.client.get("/api/v1/profile/history").json()["events"]
    assert "profile.preferences" not in [e["action"] for e in mine]
    theirs = other.get("/api/v1/profile/history").json()["events"]
    assert theirs[0]["action"] == "profile.preferences"
    assert "totp.enrol" not in [e["action"] for e in theirs]  # user 01's


def test_the_history_is_paged(profile: Profile) -> None:
    profile.login(strong=False)
    store = profile.client.app.state.profile  # type: ignore[attr-defined]
    for _ in range(PAGE_SIZE + 5):
        profile.clock.advance(timedelta(seconds=1))
        store.set_preferences(profile.principal, Preferences(), profile.clock.now())
    first = profile.client.get("/api/v1/profile/history").json()
    assert len(first["events"]) == PAGE_SIZE
    assert first["more"] is True
    second = profile.client.get("/api/v1/profile/history?page=2").json()
    assert second["more"] is False
    assert first["events"][-1]["at"] >= second["events"][0]["at"]
    page = profile.client.get("/profile/history?page=2")
    assert 'rel="prev"' in page.text
    assert 'rel="next"' not in page.text
    assert profile.client.get("/profile/history?page=0").status_code == 400


_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _sealed(n: int, action: str, subject: str) -> SealedEvent:
    event = AuditEvent.make(
        _AT + timedelta(seconds=n), action, actor=subject, subject=subject, outcome="success"
    )
    return SealedEvent(n, event, "", "")


@given(
    st.lists(
        st.tuples(
            st.sampled_from([*LABELS, "assertion.issue", "oob.issue"]),
            st.sampled_from([ME.key, OTHER.key, "123456789"]),
        ),
        max_size=40,
    )
)
def test_history_of_keeps_only_the_users_labelled_events_newest_first(
    events: list[tuple[str, str]],
) -> None:
    sealed = [_sealed(n, action, subject) for n, (action, subject) in enumerate(events)]
    shown = history_of(sealed, ME)
    expected = [s for s in sealed if s.event.subject == ME.key and s.event.action in LABELS]
    assert [s.at for s in shown] == [s.event.at for s in reversed(expected)]
    assert all(s.label == LABELS[s.action] for s in shown)
