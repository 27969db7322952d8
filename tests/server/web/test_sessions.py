"""Server-side sessions: log out, log out everywhere, idle timeout from the policy."""

from __future__ import annotations

from datetime import timedelta

from tests.server.conftest import AppMaker, identify, open_user, submit_code, token


def _logged_in(make_app: AppMaker):  # type: ignore[no-untyped-def]
    client, box, clock = make_app()
    open_user(box)
    identify(client)
    submit_code(client)
    return client, box, clock


def test_log_out_ends_the_session_server_side(make_app: AppMaker) -> None:
    client, _, _ = _logged_in(make_app)
    stolen = client.cookies.get("sb-session")
    out = client.post(
        "/logout", data={"csrf_token": token(client.get("/home").text)}, follow_redirects=False
    )
    assert out.headers["location"] == "/login"
    client.cookies.set("sb-session", stolen or "")
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_log_out_everywhere_ends_every_session(make_app: AppMaker) -> None:
    client, _, _ = _logged_in(make_app)
    first = client.cookies.get("sb-session")
    client.cookies.clear()
    identify(client)
    submit_code(client)
    assert client.cookies.get("sb-session") != first
    client.post("/logout/everywhere", data={"csrf_token": token(client.get("/home").text)})
    client.cookies.set("sb-session", first or "")
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_idle_timeout_comes_from_the_policy(make_app: AppMaker) -> None:
    client, box, clock = _logged_in(make_app)
    clock.advance(box.policy.session.idle_timeout - timedelta(seconds=1))
    assert client.get("/home").status_code == 200
    clock.advance(box.policy.session.idle_timeout + timedelta(seconds=1))
    assert client.get("/home", follow_redirects=False).status_code == 303
