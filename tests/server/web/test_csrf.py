"""CSRF: every state-changing form needs a token bound to this browser; JSON writes need
the right Origin."""

from __future__ import annotations

from securebox_server.web.routing import UNSAFE, SecureRoute, walk
from tests.server.conftest import CLIENT, AppMaker, identify, open_user, submit_code, token


def test_a_form_without_a_token_is_refused(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    client.get("/login")
    refused = client.post("/login", data={"client_id": CLIENT})
    assert refused.status_code == 403
    assert "expired" in refused.text or "expiré" in refused.text


def test_a_token_from_another_browser_is_refused(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    stolen = token(client.get("/login").text)
    client.cookies.clear()
    client.get("/login")  # a new "pre" binding
    refused = client.post("/login", data={"client_id": CLIENT, "csrf_token": stolen})
    assert refused.status_code == 403


def test_the_login_changes_the_binding(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    before = token(client.get("/login/code").text)
    submit_code(client)
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 403
    assert client.get("/home").status_code == 200


def test_json_writes_need_the_origin(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    submit_code(client)
    assert client.delete("/api/v1/session").status_code == 403
    other = client.delete("/api/v1/session", headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "csrf"
    done = client.delete("/api/v1/session", headers={"Origin": "http://testserver"})
    assert done.status_code == 204
    assert client.get("/api/v1/session").status_code == 401


def test_every_unsafe_route_is_checked(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    checked = 0
    for route in walk(client.app.routes):  # type: ignore[attr-defined]
        methods: set[str] = getattr(route, "methods", set()) or set()
        if methods & UNSAFE:
            assert isinstance(route, SecureRoute), route
            assert not getattr(route.endpoint, "__securebox_csrf_exempt__", False), route.path
            checked += 1
    assert checked >= 8
