"""Sessions (OWASP ASVS 5.0 V7; PSD2 RTS art. 4(3)(d) and 13), extending
``tests/server/web/test_sessions.py`` (logout, logout everywhere, the idle timeout's
edge) and ``tests/server/web/test_headers.py`` (the session cookie's flags):

* fixation: a planted identifier is never adopted, and the identifier changes with every
  level (code login, each step-up proof, the second factor of a strong login), every older
  one dead;
* the flags of every cookie the app sets or clears along a whole journey;
* the absolute lifetime, the idle timeout ending the session server-side;
* logout: the old identifier replayed on pages, forms and the JSON API is anonymous;
* downgrade: a session that proved only the code never gets a sensitive operation run.
"""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Final

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.errors import NotAuthenticated
from securebox_auth.shell.securebox import Securebox
from tests.server.conftest import CLIENT, CODE, AppMaker, identify, open_user, submit_code, token
from tests.server.stepup.conftest import (  # noqa: F401 (fixtures, found by name)
    ORIGIN,
    World,
    stepup_sqlite,
    world,
)

SESSION: Final = "__Host-sb-session"  # under https (the step-up world's origin)
PLANTED: Final = "attacker-chosen-session-identifier-0123456789"
IBAN: Final = "DE89370400440532013000"
CHEQUES: Final = {"account": "12345678901", "books": "1", "delivery": "post"}


def _anonymous(client: TestClient, session_id: str, name: str = SESSION) -> bool:
    """``session_id`` replayed alone: the home page sends to the login."""
    probe = TestClient(client.app, base_url=str(client.base_url), raise_server_exceptions=False)
    probe.cookies.set(name, session_id)
    answer = probe.get("/home", follow_redirects=False)
    probe.close()
    location: str = answer.headers.get("location", "")
    return answer.status_code == 303 and location == "/login"


def _dead(box: Securebox, session_id: str) -> bool:
    try:
        box.touch(session_id)
    except NotAuthenticated:
        return True
    return False


# --- fixation ----------------------------------------------------------------------------


def test_a_planted_identifier_is_never_adopted_and_every_level_rotates(world: World) -> None:  # noqa: F811
    """ASVS 5.0 7.2.4 (a new session token on authentication and re-authentication), RTS
    art. 4(3)(c): a session cookie planted before the login is ignored; the code login
    issues a new identifier; the step-up proof (TOTP, a cheque-book order) rotates it; a
    second step-up (passkey, a payee) rotates it again. Every older identifier, the
    planted one included, answers as anonymous and is dead in the library."""
    world.client.cookies.set(SESSION, PLANTED, domain="bank.example")
    world.login()
    code_level = world.client.cookies.get(SESSION)
    assert code_level
    assert code_level != PLANTED
    assert _dead(world.box, PLANTED)
    order, _ = world.enter("/cheque-books/new", CHEQUES)
    assert world.prove(order, "totp", code=world.totp_code()).status_code == 303
    stepped = world.client.cookies.get(SESSION)
    assert stepped
    assert stepped != code_level
    assert world.execute(order).status_code == 200
    payee, _ = world.enter("/payees/new", {"name": "Muller GmbH", "iban": IBAN})
    assert world.prove(payee, "passkey_uv").status_code == 303
    second = world.client.cookies.get(SESSION)
    assert second
    assert second not in (code_level, stepped)
    assert world.execute(payee).status_code == 200
    for old in (PLANTED, code_level, stepped):
        assert _anonymous(world.client, old), old
        assert _dead(world.box, old)
    assert world.client.get("/home", follow_redirects=False).status_code == 200
    assert len(world.box.sessions_of(world.principal)) == 1


def test_the_second_factor_of_a_login_issues_the_session(world: World) -> None:  # noqa: F811
    """ASVS 5.0 7.2.4, RTS art. 4: with a strong login due, the code alone sets no session
    cookie (the flow cookie is no session: replayed as one it is anonymous); the session
    identifier appears only after the second factor, new, and the planted one stays dead."""
    client = world.client
    client.cookies.set(SESSION, PLANTED, domain="bank.example")
    old = world.clock.now() - timedelta(days=200)  # the renewal is due: a second factor
    world.box.store.commit([world.box.factors.renewal_change(world.principal, "web", old)], [])
    page = client.get("/login")
    page = client.post("/login", data={"client_id": CLIENT, "csrf_token": token(page.text)})
    client.post(
        "/login/user",
        data={"client_id": CLIENT, "user_number": "01", "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    page = client.get("/login/code")
    after_code = client.post(
        "/login/code", data={"code": CODE, "csrf_token": token(page.text)}, follow_redirects=False
    )
    assert after_code.headers["location"] == "/login/strong"
    assert not any(SESSION in c for c in after_code.headers.get_list("set-cookie"))
    flow = client.cookies.get("__Host-sb-flow")
    assert flow
    assert _anonymous(client, flow)
    assert world.box.sessions_of(world.principal) == []
    page = client.get("/login/totp")
    done = client.post(
        "/login/totp",
        data={"code": world.totp_code(), "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/home"
    session = client.cookies.get(SESSION)
    assert session
    assert session not in (PLANTED, flow)
    assert _anonymous(client, PLANTED)
    assert client.cookies.get("__Host-sb-flow") is None  # the flow cookie was cleared
    assert _dead(world.box, PLANTED)


# --- cookie flags ------------------------------------------------------------------------


def _journey(make_app: AppMaker, public_url: str) -> list[str]:
    """Every Set-Cookie of a journey: the login (remembering the identifier), a wrong
    code, the session, the language and accessibility preferences, the logout."""
    client, box, _ = make_app(public_url=public_url)
    open_user(box)
    seen: list[str] = []

    def keep(answer: Response) -> Response:
        seen.extend(answer.headers.get_list("set-cookie"))
        return answer

    page = keep(client.get("/login"))
    page = keep(
        client.post(
            "/login",
            data={"client_id": CLIENT, "remember": "1", "csrf_token": token(page.text)},
        )
    )
    keep(
        client.post(
            "/login/user",
            data={"client_id": CLIENT, "user_number": "01", "csrf_token": token(page.text)},
            follow_redirects=False,
        )
    )
    page = keep(client.get("/login/code"))
    keep(client.post("/login/code", data={"code": "69204718", "csrf_token": token(page.text)}))
    page = keep(client.get("/login/code"))
    keep(
        client.post(
            "/login/code",
            data={"code": CODE, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
    )
    home = keep(client.get("/home"))
    for path, field in (("language", {"lang": "en"}), ("accessible", {"on": "1"})):
        keep(
            client.post(
                f"/preferences/{path}",
                data={**field, "back": "/home", "csrf_token": token(home.text)},
                follow_redirects=False,
            )
        )
    home = keep(client.get("/home"))
    keep(client.post("/logout", data={"csrf_token": token(home.text)}, follow_redirects=False))
    return seen


def _parsed(header: str) -> tuple[str, dict[str, str]]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    ((name, morsel),) = jar.items()
    flags = {k.lower(): str(v) for k, v in morsel.items() if v}
    lowered = header.lower()
    for flag in ("secure", "httponly"):  # valueless attributes
        if f"; {flag}" in lowered:
            flags[flag] = "true"
    return name, flags


def test_every_cookie_has_host_prefix_and_flags_under_https(make_app: AppMaker) -> None:
    """ASVS 5.0 3.3.1 (Secure, ``__Host-``), 3.3.2 (SameSite), 3.3.4 (HttpOnly): every
    cookie the app sets or clears along a whole journey (pre-login token, flow, session,
    remembered identifier, preferences, logout) is ``__Host-``-prefixed, Secure,
    HttpOnly, SameSite=Strict, Path=/, without Domain."""
    seen = _journey(make_app, "https://testserver")
    names = set()
    for header in seen:
        name, flags = _parsed(header)
        names.add(name)
        assert name.startswith("__Host-sb-"), header
        assert flags.get("secure"), header
        assert flags.get("httponly"), header
        assert flags.get("samesite", "").lower() == "strict", header
        assert flags.get("path") == "/", header
        assert "domain" not in flags, header
    expected = {"pre", "flow", "session", "remember", "lang", "a11y"}
    assert {f"__Host-sb-{n}" for n in expected} <= names, names


def test_plain_http_cookies_keep_httponly_and_samesite(make_app: AppMaker) -> None:
    """ASVS 5.0 3.3.2, 3.3.4 (the local demo over http, ADR 0024): the same cookies
    without the prefix and without Secure (a browser would drop them), still HttpOnly and
    SameSite=Strict; no cookie under http claims ``__Host-``."""
    for header in _journey(make_app, "http://testserver"):
        name, flags = _parsed(header)
        assert name.startswith("sb-"), header
        assert "secure" not in flags, header
        assert flags.get("httponly"), header
        assert flags.get("samesite", "").lower() == "strict", header


# --- timeouts ----------------------------------------------------------------------------


def _logged_in(make_app: AppMaker):  # type: ignore[no-untyped-def]
    client, box, clock = make_app()
    principal, _ = open_user(box)
    identify(client)
    assert submit_code(client).headers["location"] == "/home"
    return client, box, clock, principal


def test_the_absolute_lifetime_ends_an_active_session(make_app: AppMaker) -> None:
    """ASVS 5.0 7.3.2 (absolute timeout), policy ``session.absolute_lifetime``: a session
    used every minute (never idle) still ends at its lifetime: alive one idle step before,
    anonymous after, and its identifier dead server-side."""
    client, box, clock, principal = _logged_in(make_app)
    rules = box.policy.session
    step = rules.idle_timeout / 2
    session = client.cookies.get("sb-session")
    assert session
    began = clock.now()
    while clock.now() + step < began + rules.absolute_lifetime:  # active: never idle
        clock.advance(step)
        assert client.get("/home", follow_redirects=False).status_code == 200, clock.now()
    clock.advance(began + rules.absolute_lifetime + timedelta(seconds=1) - clock.now())
    assert client.get("/home", follow_redirects=False).status_code == 303
    assert _dead(box, session)
    assert box.sessions_of(principal) == []


def test_the_idle_timeout_ends_the_session_server_side(make_app: AppMaker) -> None:
    """ASVS 5.0 7.3.1 (idle timeout), RTS art. 4(3)(d), policy ``session.idle_timeout``:
    after the idle timeout the identifier is dead in the library too (a later request,
    whatever the clock says, cannot revive it), and a state-changing form answers as
    anonymous (no change recorded)."""
    client, box, clock, principal = _logged_in(make_app)
    session = client.cookies.get("sb-session")
    assert session
    home = client.get("/home")
    clock.advance(box.policy.session.idle_timeout + timedelta(seconds=1))
    refused = client.post(
        "/logout/everywhere", data={"csrf_token": token(home.text)}, follow_redirects=False
    )
    assert refused.status_code in (303, 401, 403)
    assert _dead(box, session)
    assert box.sessions_of(principal) == []  # not listed as live (was, before the fix)
    client.cookies.clear()
    identify(client)
    submit_code(client)
    assert len(box.sessions_of(principal)) == 1


# --- logout ------------------------------------------------------------------------------


def test_a_logged_out_identifier_is_anonymous_everywhere(make_app: AppMaker) -> None:
    """ASVS 5.0 7.4.1 (logout invalidates the session server-side): after ``/logout`` the
    old identifier replayed as a cookie on a page and on a form, and as a bearer token on
    the JSON API, is anonymous; the library has no session left for the user."""
    client, box, _, principal = _logged_in(make_app)
    stolen = client.cookies.get("sb-session")
    assert stolen
    home = client.get("/home")
    client.post("/logout", data={"csrf_token": token(home.text)})
    assert box.sessions_of(principal) == []
    assert _dead(box, stolen)
    assert _anonymous(client, stolen, "sb-session")
    client.cookies.set("sb-session", stolen)
    form = client.post(
        "/logout/everywhere", data={"csrf_token": token(home.text)}, follow_redirects=False
    )
    assert form.status_code in (303, 401, 403), form.text
    api = client.get("/api/v1/documents", headers={"Authorization": f"Bearer {stolen}"})
    assert api.status_code == 401, api.text


# --- downgrade ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/payees/new", {"name": "Muller GmbH", "iban": IBAN}),
        (
            "/transfers/new",
            {"amount": "10.00", "name": "Muller GmbH", "iban": IBAN, "reference": "X"},
        ),
        ("/cheque-books/new", CHEQUES),
    ],
)
def test_a_code_only_session_never_executes_a_sensitive_operation(
    world: World,  # noqa: F811
    path: str,
    data: dict[str, str],
) -> None:
    """ASVS 5.0 6.3.3 / 7.5.x (re-authentication before sensitive operations), RTS art. 4
    and 13 (payees), 5 (transfers): a session that proved only the code enters an order
    and posts its execution without any proof: refused (403 or 409), the order is not
    done, no payee is saved, the library consumes no grant (no ``grant.consume`` audited)."""
    world.login()
    order, page = world.enter(path, data)
    assert f"/operations/{order}/execute" not in page.text
    refused = world.execute(order)
    assert refused.status_code in (403, 409), refused.text
    assert world.book().get(world.principal, order).status != "done"
    assert world.book().payees(world.principal) == []
    actions = [e.event.action for e in world.box.audit_log()]
    assert "grant.consume" not in actions, actions


def test_a_code_only_session_gets_no_operation_through_the_api(world: World) -> None:  # noqa: F811
    """ASVS 5.0 6.3.3, RTS art. 13 and 4: the JSON API with the code-only session's token:
    adding a payee or ordering cheque books answers the RFC 9470 challenge (401), never
    201, and audits no ``payee.add`` / ``cheque_book.order``."""
    world.login()
    session = world.client.cookies.get(SESSION)
    api = TestClient(world.client.app, base_url=ORIGIN, raise_server_exceptions=False)
    api.headers["Authorization"] = f"Bearer {session}"  # a JSON client: no cookie
    payee = api.post("/api/v1/payees", json={"payee": IBAN})
    books = api.post("/api/v1/cheque-book-orders", json={"books": 1})
    api.close()
    for answer in (payee, books):
        assert answer.status_code == 401, answer.text
        assert "insufficient_user_authentication" in answer.headers["www-authenticate"]
    actions = {e.event.action for e in world.box.audit_log()}
    assert not actions & {"payee.add", "cheque_book.order"}, actions
