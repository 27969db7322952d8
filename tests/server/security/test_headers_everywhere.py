"""Security headers on every HTML page of the server, generated from the app's route table
(issue 18, "Headers"). ``tests/server/web/test_headers.py`` checks the values on ``/login``
and the cookie flags; here every ``GET`` page, logged out and (where the page needs one)
with a session, in the world of the box (a subscription, companies, a published document, a
pending order, an invitation) served under https, must answer with:

* ``Content-Security-Policy`` without ``unsafe-inline``, with ``frame-ancestors 'none'`` and
  ``object-src 'none'``, and ``X-Frame-Options: DENY`` (ASVS 5.0 V3.4.3, V3.4.6);
* ``X-Content-Type-Options: nosniff`` (ASVS 5.0 V3.4.4);
* ``Referrer-Policy: same-origin`` (ASVS 5.0 V3.4.5);
* ``Strict-Transport-Security`` of at least a year (ASVS 5.0 V3.4.1), since the public URL
  is https;
* ``Cache-Control: no-store`` (ASVS 5.0 V14.3.2: pages with personal data are not cached;
  the server marks every page but ``/static``).

A new HTML ``GET`` route without an entry in :data:`PAGES` fails
:func:`test_every_html_page_has_an_entry`.
"""

from __future__ import annotations

import re
from typing import Final

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from securebox_server.web.routing import walk
from tests.server.admin.world import (  # noqa: F401 (fixtures, found by name)
    ADMIN,
    C1,
    C2,
    NEWCOMER,
    PRINCIPAL,
    Admin,
    admin,
)
from tests.server.conftest import AppMaker
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    sms_hook,
    smtp_relay,
)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)

#: routes that are not pages: probes and metrics for the operator (checked below too)
NOT_PAGES: Final = frozenset({"/healthz", "/readyz", "/metrics"})

#: Who asks for each page, and the status the page answers them: ``LOGGING_IN`` is a
#: browser in the middle of a login (client and user identified, nothing proved yet),
#: ``ANONYMOUS`` one without a session, ``USER`` the subscription's principal user logged in,
#: ``INVITEE`` the third party named by a pending invitation, logged in. Every page is also
#: asked by a browser without a session (a page behind the login answers 303 to ``/login``:
#: that answer must carry the headers too). Some statuses are refusals on purpose (a
#: recovery path off by default, an unknown link): error pages carry the same headers.
ANONYMOUS: Final = "anonymous"
LOGGING_IN: Final = "logging in"
USER: Final = "user"
INVITEE: Final = "invitee"
PAGES: Final[dict[str, tuple[str, int]]] = {
    "/": (ANONYMOUS, 303),
    "/login": (ANONYMOUS, 200),
    "/login/forgotten": (ANONYMOUS, 303),
    "/login/method": (LOGGING_IN, 200),
    "/login/strong": (LOGGING_IN, 303),  # the second factor comes after the first
    "/login/change-code": (LOGGING_IN, 303),  # only after a one-time code
    "/login/code": (LOGGING_IN, 200),
    "/login/totp": (LOGGING_IN, 200),
    "/login/cap": (LOGGING_IN, 404),  # the user has no card
    "/login/cap/respond": (LOGGING_IN, 404),  # the user has no card
    "/login/sms": (LOGGING_IN, 409),  # no code is sent before a first factor
    "/login/email": (LOGGING_IN, 409),  # no code is sent before a first factor
    "/login/recovery": (LOGGING_IN, 200),
    "/login/passkey": (LOGGING_IN, 200),
    "/login/certificate": (LOGGING_IN, 200),
    "/demo/cap-reader": (ANONYMOUS, 200),
    "/recovery": (ANONYMOUS, 200),
    "/recovery/code": (ANONYMOUS, 200),
    "/recovery/link/{token}": (ANONYMOUS, 410),
    "/recovery/identifier": (ANONYMOUS, 200),
    "/recovery/card": (ANONYMOUS, 404),  # off by default (settings)
    "/recovery/questions": (ANONYMOUS, 404),  # off by default (settings)
    "/recovery/questions/setup": (USER, 404),  # off by default (settings)
    "/home": (USER, 200),
    "/documents": (USER, 200),
    "/documents/{document_id}": (USER, 200),
    "/documents/{document_id}/view": (USER, 200),
    "/documents/{document_id}/download": (USER, 200),
    "/documents/{document_id}/share": (USER, 200),
    "/companies/{siren}/contact": (USER, 200),
    "/payees": (USER, 200),
    "/orders": (USER, 200),
    "/payees/new": (USER, 200),
    "/cheque-books/new": (USER, 200),
    "/transfers/new": (USER, 200),
    "/batches/new": (USER, 200),
    "/operations/{order_id}": (USER, 200),
    "/operations/{order_id}/proof/{method}": (USER, 200),
    "/entitlements": (USER, 200),
    "/profile": (USER, 200),
    "/profile/preferences": (USER, 200),
    "/profile/contact": (USER, 200),
    "/profile/totp": (USER, 200),
    "/profile/certificates": (USER, 200),
    "/profile/certificates/add": (USER, 200),
    "/profile/recovery-codes": (USER, 200),
    "/profile/passkeys": (USER, 200),
    "/profile/passkeys/add": (USER, 200),
    "/account/passkey": (USER, 200),
    "/profile/code": (USER, 200),
    "/profile/history": (USER, 200),
    "/profile/sessions": (USER, 200),
    "/admin/companies": (USER, 200),
    "/admin/companies/{siren}": (USER, 200),
    "/admin/companies/{siren}/remove": (USER, 200),
    "/admin/third-parties": (USER, 200),
    "/invitations/{token}": (INVITEE, 200),
    "/admin/users": (USER, 200),
    "/admin/users/new": (USER, 200),
    "/admin/users/{user}": (USER, 200),
    "/admin/users/{user}/delete": (USER, 200),
    "/admin/delivery": (USER, 200),
}
#: pages behind a link that answer a browser without a session with a page of their own
#: (the invitation says "log in first" and names nobody) instead of the redirect
OWN_ANSWER_WITHOUT_SESSION: Final = {"/invitations/{token}": 200}
ORDER: Final = re.compile(r"/operations/([A-Za-z0-9_-]+)")
LINK: Final = re.compile(r"https://bank\.example(/invitations/[A-Za-z0-9_-]+)")


@pytest.fixture
def box_url(server_sqlite_url: str) -> str:  # noqa: F811
    """SQLite only: headers do not depend on the database (the admin world runs both)."""
    return server_sqlite_url


def _html_get_routes(app: object) -> set[str]:
    found = set()
    for route in walk(app.routes):  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
            continue
        if route.path.startswith("/api/") or route.path in NOT_PAGES:
            continue
        found.add(route.path)
    return found


def check_headers(answer: Response, *, tls: bool) -> list[str]:
    """What is wrong with ``answer``'s security headers (an empty list: nothing)."""
    h, wrong = answer.headers, []
    csp = h.get("content-security-policy", "")
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        if directive not in csp:
            wrong.append(f"CSP without {directive}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        wrong.append("CSP allows unsafe-inline or unsafe-eval")
    if h.get("x-frame-options") != "DENY":
        wrong.append("X-Frame-Options is not DENY")
    if h.get("x-content-type-options") != "nosniff":
        wrong.append("no nosniff")
    if h.get("referrer-policy") != "same-origin":
        wrong.append("Referrer-Policy is not same-origin")
    if h.get("cache-control") != "no-store":
        wrong.append("Cache-Control is not no-store")
    hsts = h.get("strict-transport-security")
    if tls:
        found = re.match(r"max-age=(\d+)", hsts or "")
        if found is None or int(found.group(1)) < 31536000:
            wrong.append(f"HSTS missing or shorter than a year: {hsts!r}")
    elif hsts is not None:
        wrong.append("HSTS over plain http")
    return wrong


def _identified(world: Admin) -> TestClient:
    """A browser in the middle of the principal user's login (nothing proved yet)."""
    return world.identify(PRINCIPAL)


def _invitation(world: Admin) -> str:
    """The token of an invitation of :data:`NEWCOMER`, declared by the administrator
    through the form and its step-up, read from the e-mail the relay received."""
    boss = world.login(ADMIN)
    declared = {
        "siren": "552 100 554",
        "name": "Cabinet Martin",
        "email": "martin@cabinet.example",
        "companies": [C2.value],
        "client_id": NEWCOMER.client_id.value,
        "user_number": NEWCOMER.user_number.value,
    }
    started = world.post(boss, "/admin/third-parties", "/admin/third-parties", declared)
    done = world.approve(boss, started)
    assert done.status_code == 200, done.text
    body = world.mails()[-1].get_body(("plain",))
    assert body is not None
    link = LINK.search(body.get_content())
    assert link is not None
    return link.group(1).rsplit("/", 1)[1]


def _urls(world: Admin, user: TestClient) -> dict[str, str]:
    """Each page's address with real values for its parameters: a published document, a
    pending order (a user's deletion, awaiting its step-up), an invitation."""
    document = world.publish(C1)
    started = world.post(user, "/admin/users/03/delete", "/admin/users/03/delete", {})
    order = ORDER.fullmatch(started.headers.get("location", ""))
    assert order is not None, started.text
    values = {
        "document_id": document,
        "siren": C1.value,
        "order_id": order.group(1),
        "method": "totp",
        "user": "03",
        "token": _invitation(world),
    }
    urls = {path: path.format(**values) for path in PAGES}
    urls["/recovery/link/{token}"] = "/recovery/link/" + "A" * 43  # no such link
    return urls


def test_every_html_page_has_an_entry(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V3.4: the table covers every HTML page of the route table, so a new page
    without an entry fails here."""
    assert _html_get_routes(admin.app) == set(PAGES)


def test_every_page_carries_the_security_headers(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.1 (HSTS), V3.4.3 (CSP with frame-ancestors and object-src), V3.4.4
    (nosniff), V3.4.5 (Referrer-Policy), V3.4.6 (no framing), V14.3.2 (no-store): every
    HTML page, asked by the browser it is for (and reaching the page: the expected status)
    and by a browser without a session, under https."""
    user = admin.login(PRINCIPAL)
    urls = _urls(admin, user)
    browsers = {
        USER: user,
        INVITEE: admin.login(NEWCOMER),
        ANONYMOUS: admin.browser(),
        LOGGING_IN: _identified(admin),
    }
    stranger = admin.browser()
    wrong: list[tuple[str, str, int, list[str]]] = []
    for path, (who, status) in PAGES.items():
        answer = browsers[who].get(urls[path], follow_redirects=False)
        problems = check_headers(answer, tls=True)
        if answer.status_code != status:
            problems.append(f"status {answer.status_code}, expected {status}")
        if problems:
            wrong.append((path, who, answer.status_code, problems))
        if who in (USER, INVITEE):  # behind the login: the redirect carries them too
            refused = stranger.get(urls[path], follow_redirects=False)
            problems = check_headers(refused, tls=True)
            expected = OWN_ANSWER_WITHOUT_SESSION.get(path, 303)
            location = refused.headers.get("location") if expected == 303 else None
            if refused.status_code != expected or (expected == 303 and location != "/login"):
                problems.append(f"status {refused.status_code} without a session")
            if problems:
                wrong.append((path, "no session", refused.status_code, problems))
    assert wrong == []


def test_error_answers_carry_the_headers(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.3, V3.4.4, V3.4.6, V14.3.2: the answers no route table lists (an
    unknown address, a method the route does not take, a refused form) and the operator's
    probes carry the same headers as the pages."""
    client = admin.browser()
    answers = {
        "unknown address": client.get("/no-such-page"),
        "wrong method": client.request("PUT", "/login"),
        "form without its CSRF token": client.post("/login", data={"client_id": "123456789"}),
        "readiness probe": client.get("/readyz"),
        "liveness probe": client.get("/healthz"),
    }
    statuses = {what: answer.status_code for what, answer in answers.items()}
    assert statuses == {
        "unknown address": 404,
        "wrong method": 405,
        "form without its CSRF token": 403,
        "readiness probe": 200,
        "liveness probe": 200,
    }
    wrong = {what: check_headers(answer, tls=True) for what, answer in answers.items()}
    assert {what: problems for what, problems in wrong.items() if problems} == {}


def test_every_json_get_route_carries_the_headers(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.4 (nosniff), V14.3.2 (no-store), V3.4.1 (HSTS): every ``GET`` route of
    the JSON API, from the route table, asked without credentials (its refusal, or the
    public key set) is never sniffed or cached."""
    client = admin.browser()
    wrong = []
    asked = 0
    for route in walk(admin.app.routes):
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
            continue
        if not route.path.startswith("/api/"):
            continue
        url = re.sub(r"\{[a-z_]+\}", "x" * 12, route.path)
        answer = client.get(url, follow_redirects=False)
        asked += 1
        problems = check_headers(answer, tls=True)
        if answer.status_code >= 500:
            problems.append(f"status {answer.status_code}")
        if problems:
            wrong.append((route.path, answer.status_code, problems))
    assert asked >= 15
    assert wrong == []


def test_no_hsts_over_plain_http_and_the_rest_unchanged(make_app: AppMaker) -> None:
    """ASVS 5.0 V3.4.1: HSTS only where the public URL is https (a browser ignores it over
    http, and the local demo must not pin localhost to https); the other headers are the
    same on every logged-out page of the plain-http demo."""
    client, _, _ = make_app()
    wrong = {}
    for path, (who, _status) in PAGES.items():
        if who != ANONYMOUS or "{" in path:
            continue
        problems = check_headers(client.get(path, follow_redirects=False), tls=False)
        if problems:
            wrong[path] = problems
    assert wrong == {}
