"""Active sessions through the pages and the API: listed with the current one marked,
"end this one" (another browser, or this one: a log out), "end all others"; the
confidential code change ends every other session."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.server.conftest import CODE, token
from tests.server.profile.conftest import ORIGIN, Profile

END = re.compile(r'action="/profile/sessions/([0-9a-f]+)/end"')


def logged_out(client: TestClient) -> bool:
    status: int = client.get("/home", follow_redirects=False).status_code
    return status != 200


def test_another_session_is_ended_from_the_list(profile: Profile) -> None:
    profile.login(strong=False)
    other = profile.login(strong=False, client=profile.other_browser())
    page = profile.client.get("/profile/sessions")
    refs = END.findall(page.text)
    assert len(refs) == 2
    assert page.text.count("(this session)") == 1
    mine = profile.client.get("/api/v1/profile/sessions").json()
    [theirs] = [s["ref"] for s in mine if not s["current"]]
    ended = profile.post("/profile/sessions", f"/profile/sessions/{theirs}/end")
    assert ended.status_code == 303
    assert logged_out(other)
    assert not logged_out(profile.client)
    again = profile.post("/profile/sessions", f"/profile/sessions/{theirs}/end")
    assert again.status_code == 404


def test_all_other_sessions_end_and_this_one_ends_as_a_log_out(profile: Profile) -> None:
    profile.login(strong=False)
    others = [profile.login(strong=False, client=profile.other_browser()) for _ in range(2)]
    done = profile.post("/profile/sessions", "/profile/sessions/others/end")
    assert done.headers["location"] == "/profile/sessions?ended=2"
    assert all(logged_out(o) for o in others)
    [current] = END.findall(profile.client.get("/profile/sessions").text)
    out = profile.post("/profile/sessions", f"/profile/sessions/{current}/end")
    assert out.headers["location"] == "/login"
    assert logged_out(profile.client)


def test_the_api_lists_and_ends_sessions(profile: Profile) -> None:
    profile.login(strong=False)
    other = profile.login(strong=False, client=profile.other_browser())
    origin = {"Origin": ORIGIN}
    listed = profile.client.get("/api/v1/profile/sessions").json()
    assert len(listed) == 2
    [theirs] = [s["ref"] for s in listed if not s["current"]]
    assert (
        profile.client.delete(f"/api/v1/profile/sessions/{theirs}", headers=origin).status_code
        == 204
    )
    missing = profile.client.delete(f"/api/v1/profile/sessions/{theirs}", headers=origin)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert logged_out(other)
    third = profile.login(strong=False, client=profile.other_browser())
    ended = profile.client.post("/api/v1/profile/sessions/end-others", headers=origin)
    assert ended.json() == {"ended": 1}
    assert logged_out(third)
    cross = profile.client.post("/api/v1/profile/sessions/end-others")  # no Origin
    assert cross.status_code == 403


def test_changing_the_code_ends_the_other_sessions(profile: Profile) -> None:
    profile.login(strong=False)
    other = profile.login(strong=False, client=profile.other_browser())
    mismatch = profile.post(
        "/profile/code", "/profile/code", {"current": CODE, "new": "58203716", "confirm": "1"}
    )
    assert mismatch.status_code == 400
    wrong = profile.post(
        "/profile/code",
        "/profile/code",
        {"current": "11111111", "new": "58203716", "confirm": "58203716"},
    )
    assert wrong.status_code == 400
    assert "not correct" in wrong.text
    weak = profile.post(
        "/profile/code",
        "/profile/code",
        {"current": CODE, "new": "12345678", "confirm": "12345678"},
    )
    assert weak.status_code == 400
    assert "too easy" in weak.text
    assert not logged_out(other)
    done = profile.post(
        "/profile/code",
        "/profile/code",
        {"current": CODE, "new": "58203716", "confirm": "58203716"},
    )
    assert done.status_code == 303, done.text
    assert logged_out(other)
    assert not logged_out(profile.client)
    assert profile.box.codes.login("123456789", "01", "58203716").authenticated
    csrf = token(profile.client.get("/profile/code").text)
    assert csrf
