"""The login pages: identifier -> user number -> code -> home."""

from __future__ import annotations

from tests.server.conftest import AppMaker, identify, open_user, submit_code


def test_code_login_opens_home(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    done = submit_code(client)
    assert done.status_code == 303 and done.headers["location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert "123456789/01" in home.text or "123456789" in home.text
