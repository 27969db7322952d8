"""CAP login pages through the app: Identify and Respond with codes computed by the
software card behind the virtual reader page, replay refused, failures counted, the same
pages for a user without a card or an unknown user, and no 500 on junk."""

from __future__ import annotations

import re

import pytest

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.identity import Principal
from securebox_auth.stores import factor_codecs as fc
from securebox_server.methods.cap import DECOY_CARD, card_of
from tests.server.conftest import CLIENT, identify, token
from tests.server.methods.conftest import CAP_CODE, CAP_USER, CapServer

#: "12345678" in full-width digits (Python's str.isdigit says yes, the pages must not).
WIDE = "".join(chr(0xFF10 + int(d)) for d in "12345678")
CHALLENGE = re.compile(r'id="challenge"[^>]*>([0-9]{8})<')


def _identify_code(server: CapServer, code: str, user: str = CAP_USER):  # type: ignore[no-untyped-def]
    page = server.client.get("/login/cap")
    assert page.status_code == 200, page.text
    return server.client.post(
        "/login/cap", data={"code": code, "csrf_token": token(page.text)}, follow_redirects=False
    )


def _failures(server: CapServer, user: str = CAP_USER) -> int:
    return server.box.store.get_lockout(Principal.parse(CLIENT, user)).value.failures


def _respond_form(server: CapServer) -> tuple[str, str, str]:
    page = server.client.get("/login/cap/respond")
    assert page.status_code == 200, page.text
    digits = CHALLENGE.search(page.text)
    challenge_id = re.search(r'name="challenge_id" value="([A-Za-z0-9_-]+)"', page.text)
    assert digits is not None, page.text
    assert challenge_id is not None, page.text
    return digits.group(1), challenge_id.group(1), token(page.text)


def test_identify_login_end_to_end(cap_server: CapServer) -> None:
    identify(cap_server.client, user=CAP_USER)
    page = cap_server.client.get("/login/cap")
    assert 'inputmode="numeric"' in page.text
    assert 'autocomplete="one-time-code"' in page.text
    assert '<label for="code">' in page.text
    done = _identify_code(cap_server, cap_server.code())
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"
    assert cap_server.client.get("/home").status_code == 200


def test_respond_login_with_the_shown_challenge(cap_server: CapServer) -> None:
    identify(cap_server.client, user=CAP_USER)
    digits, challenge_id, csrf = _respond_form(cap_server)
    code = cap_server.code("respond", digits)
    done = cap_server.client.post(
        "/login/cap/respond",
        data={"code": code, "challenge_id": challenge_id, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"


def test_respond_code_over_other_digits_is_refused(cap_server: CapServer) -> None:
    identify(cap_server.client, user=CAP_USER)
    digits, challenge_id, csrf = _respond_form(cap_server)
    other = "12345678" if digits != "12345678" else "87654321"
    refused = cap_server.client.post(
        "/login/cap/respond",
        data={"code": cap_server.code("respond", other), "challenge_id": challenge_id,
              "csrf_token": csrf},
    )  # fmt: skip
    assert refused.status_code == 401
    assert 'role="alert"' in refused.text
    assert CHALLENGE.search(refused.text) is not None  # a new challenge is shown
    assert _failures(cap_server) == 1


def test_replayed_code_is_refused(cap_server: CapServer) -> None:
    code = cap_server.code()
    identify(cap_server.client, user=CAP_USER)
    assert _identify_code(cap_server, code).status_code == 303
    cap_server.client.cookies.clear()
    identify(cap_server.client, user=CAP_USER)
    again = _identify_code(cap_server, code)
    assert again.status_code == 401, again.text
    assert _failures(cap_server) == 1


def test_wrong_code_is_counted(cap_server: CapServer) -> None:
    identify(cap_server.client, user=CAP_USER)
    wrong = _identify_code(cap_server, "00000000")
    assert wrong.status_code == 401
    assert 'role="alert"' in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert _failures(cap_server) == 1


def _page_shape(html: str) -> str:
    """A page without what differs between any two renderings (token, digits, ids, user)."""
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    html = re.sub(r"[0-9]{6,}", "", html)
    return re.sub(r"<strong>[^<]*</strong>", "", html)


@pytest.mark.parametrize("user", ["01", "77"])
def test_user_without_card_gets_the_same_pages(cap_server: CapServer, user: str) -> None:
    """User 01 has a code and no card, 77 does not exist: the same pages, digits too."""
    if user == "01":
        who = Principal.parse(CLIENT, "01")
        cap_server.box.codes.create_account(Operator("back-office"), who, Role.USER)
    identify(cap_server.client, user=CAP_USER)
    carded_identify = cap_server.client.get("/login/cap").text
    carded_respond = cap_server.client.get("/login/cap/respond").text
    cap_server.client.cookies.clear()
    identify(cap_server.client, user=user)
    assert _page_shape(cap_server.client.get("/login/cap").text) == _page_shape(carded_identify)
    _digits, challenge_id, csrf = _respond_form(cap_server)
    assert _page_shape(cap_server.client.get("/login/cap/respond").text) == _page_shape(
        carded_respond
    )
    refused = cap_server.client.post(
        "/login/cap/respond",
        data={"code": "12345678", "challenge_id": challenge_id, "csrf_token": csrf},
    )
    assert refused.status_code == 401
    assert CHALLENGE.search(refused.text)
    wrong = _identify_code(cap_server, "12345678", user)
    assert wrong.status_code == 401
    assert _failures(cap_server, user) == 2
    assert card_of(cap_server.box, Principal.parse(CLIENT, user)) == DECOY_CARD


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/login/cap", {"code": "abc"}),
        ("/login/cap", {"code": "1" * 200}),
        ("/login/cap", {"code": "12"}),
        ("/login/cap", {}),
        ("/login/cap/respond", {"code": "12345678", "challenge_id": "../../etc"}),
        ("/login/cap/respond", {"code": "12345678", "challenge_id": "x" * 500}),
        ("/login/cap/respond", {"code": WIDE, "challenge_id": "a" * 32}),
        ("/demo/cap-reader", {"card": "../../x", "pin": "1234"}),
        ("/demo/cap-reader", {"card": "demo-cap-card", "pin": "12ab"}),
        ("/demo/cap-reader", {"card": "demo-cap-card", "pin": "1234", "mode": "respond",
                              "challenge": "99999999999"}),
        ("/demo/cap-reader", {"card": "demo-cap-card", "pin": "1234", "mode": "sign"}),
    ],
)  # fmt: skip
def test_no_500_on_junk(cap_server: CapServer, path: str, form: dict[str, str]) -> None:
    identify(cap_server.client, user=CAP_USER)
    page = cap_server.client.get(path)
    answer = cap_server.client.post(path, data={**form, "csrf_token": token(page.text)})
    assert 400 <= answer.status_code < 500, answer.text
    assert _failures(cap_server) == 0  # nothing was verified


def test_card_of_prefers_the_card_used_last(cap_server: CapServer) -> None:
    principal = Principal.parse(CLIENT, CAP_USER)
    found = cap_server.box.store.get_factor_state(principal, fc.CAP_CARD, "demo-cap-card")
    assert found is not None
    assert card_of(cap_server.box, principal) == "demo-cap-card"


def test_pages_in_french_and_english(cap_server: CapServer) -> None:
    identify(cap_server.client, user=CAP_USER)
    french = {"accept-language": "fr"}
    page = cap_server.client.get("/login/cap", headers=french)
    assert "Se connecter par lecteur CAP" in page.text
    assert "touche CODE" in page.text
    respond = cap_server.client.get("/login/cap/respond", headers=french)
    assert "Défi à saisir dans le lecteur" in respond.text
    reader = cap_server.client.get("/demo/cap-reader", headers=french)
    assert "Lecteur CAP virtuel" in reader.text
    english = cap_server.client.get("/login/cap", headers={"accept-language": "en"})
    assert "press the CODE key" in english.text


def test_choice_page_and_the_90_day_prompt_offer_cap(cap_server: CapServer) -> None:
    """The code alone is not strong (no strong login yet): the prompt lists the CAP page,
    and a reader's code there opens the session."""
    client = cap_server.client
    identify(client, user=CAP_USER)
    assert 'href="/login/cap"' in client.get("/login/method").text
    page = client.get("/login/code")
    prompt = client.post("/login/code", data={"code": CAP_CODE, "csrf_token": token(page.text)})
    assert prompt.status_code == 200, prompt.text
    assert str(prompt.url).endswith("/login/strong")
    assert 'href="/login/cap"' in prompt.text
    done = _identify_code(cap_server, cap_server.code())
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"
