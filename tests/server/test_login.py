"""The login pages: identifier -> user number -> code -> home."""

from __future__ import annotations

from datetime import timedelta

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from tests.server.conftest import CLIENT, CODE, AppMaker, identify, open_user, submit_code, token


def test_code_login_opens_home(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    done = submit_code(client)
    assert done.status_code == 303
    assert done.headers["location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert "123456789/01" in home.text or "123456789" in home.text


def test_wrong_code_shows_the_page_again_with_the_error_linked(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    refused = submit_code(client, "11111111")
    assert refused.status_code == 401
    assert 'href="#code"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    malformed = submit_code(client, "abc")
    assert malformed.status_code == 400
    assert 'href="#code"' in malformed.text


def test_forced_change_of_a_one_time_code(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    _, one_time = open_user(box, change=False)
    identify(client)
    asked = submit_code(client, one_time)
    assert asked.headers["location"] == "/login/change-code"
    page = client.get("/login/change-code")
    weak = client.post(
        "/login/change-code",
        data={
            "current": one_time,
            "new": "11111111",
            "confirm": "11111111",
            "csrf_token": token(page.text),
        },
    )
    assert weak.status_code == 400
    assert 'href="#new"' in weak.text
    done = client.post(
        "/login/change-code",
        data={
            "current": one_time,
            "new": CODE,
            "confirm": CODE,
            "csrf_token": token(page.text),
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/home"  # a strong login is recent (open_user)
    assert client.get("/home").status_code == 200


def test_first_access_without_a_strong_method_is_refused(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box, strong=False)
    identify(client)
    refused = submit_code(client)
    assert refused.status_code == 403
    assert "Contact" in refused.text or "Contactez" in refused.text


def test_ninety_day_prompt_lists_the_users_methods_then_totp_logs_in(make_app: AppMaker) -> None:
    client, box, clock = make_app()
    principal, _ = open_user(box, strong=False)
    totp = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, code_at(totp.credential, clock.now()))
    clock.advance(timedelta(seconds=60))
    identify(client)
    asked = submit_code(client)
    assert asked.headers["location"] == "/login/strong"
    prompt = client.get("/login/strong")
    assert "/login/totp" in prompt.text
    assert "90" in prompt.text
    page = client.get("/login/totp")
    done = client.post(
        "/login/totp",
        data={"code": code_at(totp.credential, clock.now()), "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/home"
    assert client.get("/home").status_code == 200


def test_remember_my_identifier(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    page = client.get("/login")
    client.post(
        "/login", data={"client_id": CLIENT, "remember": "1", "csrf_token": token(page.text)}
    )
    again = client.get("/login")
    assert f'value="{CLIENT}"' in again.text
    assert "checked" in again.text
    assert client.get("/login/forgotten").status_code == 200


def test_a_malformed_identifier_is_refused_on_the_page(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    page = client.get("/login")
    refused = client.post("/login", data={"client_id": "12ab", "csrf_token": token(page.text)})
    assert refused.status_code == 400
    assert 'href="#client_id"' in refused.text
