"""Every route of the profile, from the route table: a browser without a session is sent
to the login (pages) or refused (API, forms), never served; a route added without an entry
here fails."""

from __future__ import annotations

from fastapi.routing import APIRoute

from securebox_server.web.routing import walk
from tests.server.profile.conftest import ORIGIN, Profile

KNOWN = {
    ("GET", "/profile"),
    ("GET", "/profile/contact"),
    ("POST", "/profile/contact/{channel}"),
    ("POST", "/profile/contact/confirm/{change_id}"),
    ("GET", "/profile/totp"),
    ("POST", "/profile/totp"),
    ("POST", "/profile/totp/confirm"),
    ("POST", "/profile/totp/remove"),
    ("GET", "/profile/certificates"),
    ("POST", "/profile/certificates/remove"),
    ("GET", "/profile/certificates/add"),
    ("POST", "/profile/certificates/add"),
    ("GET", "/profile/recovery-codes"),
    ("POST", "/profile/recovery-codes"),
    ("GET", "/profile/passkeys"),
    ("GET", "/profile/passkeys/add"),
    ("POST", "/profile/passkeys/add"),
    ("GET", "/account/passkey"),
    ("POST", "/account/passkey"),
    ("POST", "/profile/passkeys/{passkey}/name"),
    ("POST", "/profile/passkeys/{passkey}/remove"),
    ("GET", "/profile/code"),
    ("POST", "/profile/code"),
    ("GET", "/profile/history"),
    ("GET", "/profile/sessions"),
    ("POST", "/profile/sessions/others/end"),
    ("POST", "/profile/sessions/{ref}/end"),
    ("GET", "/profile/preferences"),
    ("POST", "/profile/preferences"),
    ("GET", "/api/v1/profile"),
    ("PUT", "/api/v1/profile/preferences"),
    ("GET", "/api/v1/profile/sessions"),
    ("POST", "/api/v1/profile/sessions/end-others"),
    ("DELETE", "/api/v1/profile/sessions/{ref}"),
    ("GET", "/api/v1/profile/history"),
}


def _routes(profile: Profile) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in walk(profile.client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and (
            route.path.startswith(("/profile", "/api/v1/profile"))
            or route.path == "/account/passkey"
        ):
            found.update((method, route.path) for method in route.methods or ())
    return found


def test_every_profile_route_is_listed(profile: Profile) -> None:
    assert _routes(profile) == KNOWN


def test_no_profile_route_serves_a_browser_without_a_session(profile: Profile) -> None:
    anonymous = profile.other_browser()
    for method, path in sorted(KNOWN):
        url = path.format(channel="email", change_id="x", passkey="x", ref="0" * 16)
        answer = anonymous.request(method, url, headers={"Origin": ORIGIN}, follow_redirects=False)
        if method == "GET" and not path.startswith("/api/"):
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/login"), (method, path)
        else:
            assert answer.status_code in (401, 403), (method, path, answer.status_code)
