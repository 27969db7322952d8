"""A passive scan of the HTML app by a crawler of ours (issue 18, "Headers"; the OWASP ZAP
baseline is not available offline): from the entry page of a browser logged in as the
principal user of the admin world (a recent strong login, documents of two companies, a
pending order) and of a browser without a session, in French and in English
(``Accept-Language``), it follows every same-origin ``<a href>`` breadth-first, up to
:data:`MAX_PAGES` pages, never a logout, and reads every form without sending it. On every
answer (redirects included) it checks passively:

* no 5xx;
* the security headers of :func:`tests.server.security.test_headers_everywhere.check_headers`;
* the flags of every ``Set-Cookie`` (those of ``tests/server/security/test_sessions.py``);
* no stack trace, exception name or SQL text in a body;

and on every HTML page:

* every ``POST`` form carries a non-empty ``csrf_token`` field;
* no form posts to another origin or over plain http, no ``javascript:`` address;
* no inline ``<script>`` or inline event handler (``on...=``), which the CSP forbids;
* no password or code field left to the browser's autocomplete;
* the page is in the language asked for (``<html lang>``).

Every page reached (address, status, route) and every finding is written to
``crawl-<who>-<lang>.txt`` in the test's tmp dir; a finding fails the test with its page and
rule.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Final
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from securebox_server.web.routing import walk
from tests.server.admin.world import (  # noqa: F401 (fixtures, found by name)
    ADMIN,
    C1,
    C2,
    COLLABORATOR,
    ORIGIN,
    PRINCIPAL,
    Admin,
    admin,
)
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    sms_hook,
    smtp_relay,
)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.server.security.test_headers_everywhere import _identified, check_headers
from tests.server.security.test_sessions import _parsed as parsed_cookie
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)

#: the crawl's bound (the logged-in app has about sixty pages)
MAX_PAGES: Final = 300
LANGUAGES: Final = ("fr", "en")
#: addresses never followed: the logout (it would end the crawl's session) and static
#: files (cacheable on purpose, checked by ``tests/server/web/test_headers.py``)
NEVER: Final = re.compile(r"^/(logout|static/)|/logout\b")
#: autocomplete values allowed on a secret field (``off`` or the right hint for a
#: password manager); a missing attribute means ``on``
SECRET_AUTOCOMPLETE: Final = frozenset({"off", "one-time-code", "current-password", "new-password"})
#: names of fields that carry a code or a secret even when not ``type=password``
SECRET_NAMES: Final = frozenset({"code", "new", "confirm", "pin", "proof", "answer", "secret"})
#: what a body must never show: a Python traceback, an exception's name, SQL text
LEAKS: Final = {
    "stack trace": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\""),
    "exception name": re.compile(
        r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b|\b(?:sqlalchemy|psycopg|sqlite3)\b"
    ),
    "SQL text": re.compile(
        r"\bSELECT\b[^<]{1,200}\bFROM\b|\bINSERT INTO\b|\bUPDATE\b\s+\w+\s+SET\b"
        r"|\bDELETE FROM\b|syntax error at or near",
        re.IGNORECASE,
    ),
}
ORDER: Final = re.compile(r"/operations/([A-Za-z0-9_-]+)")


@pytest.fixture
def box_url(server_sqlite_url: str) -> str:  # noqa: F811
    """SQLite only: the pages do not depend on the database (the admin world runs both)."""
    return server_sqlite_url


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> value


class Page(HTMLParser):
    """What the crawl reads in an HTML page: links, forms, scripts, secret fields."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.problems: list[str] = []
        self.lang = ""
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v or "" for k, v in attrs}
        for name, value in a.items():
            if name.startswith("on") and len(name) > 2:
                self.problems.append(f"inline event handler {name}= on <{tag}>")
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: address in <{tag} {name}>")
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "form":
            self.forms.append(Form(a.get("method", "get").lower(), a.get("action", "")))
        elif tag == "script":
            if not a.get("src"):
                self.problems.append("inline <script>")
            self._script = True
        elif tag in ("input", "textarea", "select", "button"):
            if self.forms and "name" in a:
                self.forms[-1].fields[a["name"]] = a.get("value", "")
            kind = a.get("type", "text").lower()
            if tag == "input" and (kind == "password" or a.get("name") in SECRET_NAMES):
                if kind in ("hidden", "submit", "button"):
                    return
                auto = a.get("autocomplete", "on").lower()
                if auto not in SECRET_AUTOCOMPLETE:
                    self.problems.append(
                        f"secret field {a.get('name')!r} with autocomplete={auto!r}"
                    )

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.problems.append("inline <script> content")


def _cookie_problems(answer: Response) -> list[str]:
    """The flags of ``tests/server/security/test_sessions.py`` under https."""
    wrong = []
    for header in answer.headers.get_list("set-cookie"):
        name, flags = parsed_cookie(header)
        if not name.startswith("__Host-sb-"):
            wrong.append(f"cookie {name} without the __Host-sb- prefix")
        for flag in ("secure", "httponly"):
            if not flags.get(flag):
                wrong.append(f"cookie {name} without {flag}")
        if flags.get("samesite", "").lower() != "strict":
            wrong.append(f"cookie {name} not SameSite=Strict")
        if flags.get("path") != "/" or "domain" in flags:
            wrong.append(f"cookie {name} with a path other than / or a domain")
    return wrong


def _form_problems(form: Form, page_url: str) -> list[str]:
    wrong = []
    target = urlsplit(urljoin(page_url, form.action))
    if target.scheme != "https":
        wrong.append(f"form to {form.action!r} over {target.scheme}")
    if f"{target.scheme}://{target.netloc}" != ORIGIN:
        wrong.append(f"form to another origin: {form.action!r}")
    if form.method == "post" and not form.fields.get("csrf_token"):
        wrong.append(f"POST form to {form.action!r} without a csrf_token")
    return wrong


def _route_of(app: object, path: str) -> str:
    for route in walk(app.routes):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            return route.path
    return "?"


@dataclass
class Crawl:
    """One crawl's pages (address, status, route) and findings (address, rule)."""

    pages: list[tuple[str, int, str]] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)

    def routes(self) -> set[str]:
        return {route for _, status, route in self.pages if status == 200}

    def write(self, path: Path) -> None:
        lines = [f"{status} {url} ({route})" for url, status, route in self.pages]
        lines += ["", f"findings: {len(self.findings)}"]
        lines += [f"{url}: {rule}" for url, rule in self.findings]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def examine(answer: Response, url: str, lang: str) -> tuple[list[str], list[str]]:
    """The findings of one answer to ``GET url`` (passive: nothing is sent), and the
    addresses it leads to (its redirect, its links)."""
    status = answer.status_code
    found = [f"status {status}"] if status >= 500 else []
    found += check_headers(answer, tls=True)
    found += _cookie_problems(answer)
    kind = answer.headers.get("content-type", "")
    if kind.startswith("text/") or "json" in kind:
        for rule, pattern in LEAKS.items():
            leak = pattern.search(answer.text)
            if leak is not None:
                found.append(f"{rule} in the body: {leak.group(0)!r}")
    targets: list[str] = []
    if status in (301, 302, 303, 307, 308):
        targets.append(answer.headers.get("location", ""))
    if kind.startswith("text/html"):
        page = Page()
        page.feed(answer.text)
        page.close()
        found += page.problems
        for form in page.forms:
            found += _form_problems(form, ORIGIN + url)
        if page.lang != lang:
            found.append(f"page in {page.lang!r}, asked for {lang!r}")
        targets += page.links
    return found, targets


def crawl(client: TestClient, start: str, lang: str) -> Crawl:
    """Breadth-first from ``start``, same origin, GET only, at most :data:`MAX_PAGES`."""
    client.headers["Accept-Language"] = lang
    done = Crawl()
    seen = {start}
    queue = deque([start])
    while queue and len(done.pages) < MAX_PAGES:
        url = queue.popleft()
        answer = client.get(url, follow_redirects=False)
        done.pages.append((url, answer.status_code, _route_of(client.app, urlsplit(url).path)))
        found, targets = examine(answer, url, lang)
        done.findings += [(url, rule) for rule in found]
        for target in targets:
            absolute, _ = urldefrag(urljoin(ORIGIN + url, target))
            parts = urlsplit(absolute)
            if f"{parts.scheme}://{parts.netloc}" != ORIGIN:
                continue  # another origin: not followed (none is expected)
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if NEVER.search(parts.path) or local in seen:
                continue
            seen.add(local)
            queue.append(local)
    return done


def _logged_in(world: Admin) -> TestClient:
    """The principal user (a recent strong login) with documents of both companies and a
    pending order (a user's deletion awaiting its step-up), so that the lists have rows."""
    user = world.login(PRINCIPAL)
    for company in (C1, C1, C2):
        world.publish(company)
    started = world.post(user, "/admin/users/03/delete", "/admin/users/03/delete", {})
    assert ORDER.fullmatch(started.headers.get("location", "")), started.text
    return user


#: pages the logged-in crawl must reach from ``/home`` (the crawl really walks the app)
LOGGED_IN_REACHES: Final = frozenset(
    {
        "/home",
        "/documents",
        "/documents/{document_id}",
        "/documents/{document_id}/view",
        "/documents/{document_id}/download",
        "/companies/{siren}/contact",
        "/orders",
        "/operations/{order_id}",
        "/operations/{order_id}/proof/{method}",
        "/profile",
        "/profile/code",
        "/profile/sessions",
        "/profile/history",
        "/admin/users",
        "/admin/users/{user}",
        "/admin/users/{user}/delete",
        "/admin/companies",
        "/admin/companies/{siren}",
        "/admin/companies/{siren}/remove",
        "/admin/third-parties",
        "/payees",
        "/transfers/new",
    }
)
#: pages the logged-out crawl must reach from ``/`` (the login and its recovery)
LOGGED_OUT_REACHES: Final = frozenset(
    {"/login", "/recovery", "/recovery/code", "/recovery/identifier"}
)


def _scan(world: Admin, browser: TestClient, start: str, who: str, tmp_path: Path) -> set[str]:
    """Crawl in each language; the routes reached in both; fails on any finding."""
    reached: set[str] | None = None
    findings: list[tuple[str, str, str]] = []
    for lang in LANGUAGES:
        done = crawl(browser, start, lang)
        done.write(tmp_path / f"crawl-{who}-{lang}.txt")
        assert len(done.pages) < MAX_PAGES, "the crawl hit its bound: raise it or look why"
        findings += [(lang, url, rule) for url, rule in done.findings]
        routes = done.routes()
        reached = routes if reached is None else reached & routes
    assert findings == []
    assert reached is not None
    return reached


def test_a_crawl_of_the_logged_in_app_finds_nothing(admin: Admin, tmp_path: Path) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.3 to V3.4.6, V14.3.2 (headers and no-store on every page reached),
    V3.3.1, V3.3.2, V3.3.4 (cookie flags), V3.5.1 (a CSRF token in every form that posts),
    V3.4.3 (no inline script or handler: the CSP forbids them), V6.2.7 (secret fields
    carry the password manager's hint or autocomplete off), V16.5.1 (no stack trace,
    exception or SQL shown), V12.2.1 (forms post over https, same origin): a passive crawl
    of every page linked from the home page of the principal user, strongly logged in, in
    French and English, reaching the box, the orders, the profile and the administration."""
    user = _logged_in(admin)
    reached = _scan(admin, user, "/home", "user", tmp_path)
    assert LOGGED_IN_REACHES - reached == set()
    assert user.get("/home", follow_redirects=False).status_code == 200  # still logged in


def test_a_crawl_without_a_session_finds_nothing(admin: Admin, tmp_path: Path) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1, V16.5.1,
    V12.2.1: the same passive crawl from ``/`` by a browser without a session (the login,
    the recovery pages), in French and English."""
    reached = _scan(admin, admin.browser(), "/", "anonymous", tmp_path)
    assert LOGGED_OUT_REACHES - reached == set()


#: pages the crawl of a browser in the middle of a login must reach from the method page
LOGGING_IN_REACHES: Final = frozenset(
    {"/login/method", "/login/code", "/login/passkey", "/login/certificate"}
)


def test_a_crawl_in_the_middle_of_a_login_finds_nothing(admin: Admin, tmp_path: Path) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1, V16.5.1,
    V12.2.1, V6.2.7 (the code fields of the login are not autocompleted): the same
    passive crawl from ``/login/method`` by a browser that named the principal user and
    proved nothing yet (the login's method pages), in French and English."""
    reached = _scan(admin, _identified(admin), "/login/method", "logging-in", tmp_path)
    assert LOGGING_IN_REACHES - reached == set()


BAD_PAGE: Final = """<!doctype html><html lang="en"><body>
<script>alert(1)</script><a href="/x" onclick="go()">x</a><a href="javascript:go()">y</a>
<form method="post" action="/keep"><input name="code" type="password"></form>
<form method="post" action="http://bank.example/plain">
<input type="hidden" name="csrf_token" value="t"></form>
<form method="post" action="https://evil.example/steal">
<input type="hidden" name="csrf_token" value="t"></form>
<p>ValueError: SELECT secret FROM users</p></body></html>"""


def test_the_scanner_sees_every_rule_broken(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.3, V3.5.1, V6.2.7, V12.2.1, V16.5.1, V3.3.1: the checks above can
    fail: a page breaking each rule, served without the headers and with a bare cookie,
    gets one finding per rule."""
    answer = Response(
        500,
        headers={"content-type": "text/html; charset=utf-8", "set-cookie": "sid=1; Path=/"},
        text=BAD_PAGE,
    )
    found, targets = examine(answer, "/bad", "fr")
    text = "\n".join(found)
    for rule in (
        "status 500",
        "CSP without default-src",
        "no nosniff",
        "Cache-Control is not no-store",
        "cookie sid without the __Host-sb- prefix",
        "cookie sid without secure",
        "cookie sid not SameSite=Strict",
        "exception name in the body: 'ValueError'",
        "SQL text in the body",
        "inline event handler onclick=",
        "javascript: address in <a href>",
        "inline <script>",
        "secret field 'code' with autocomplete='on'",
        "POST form to '/keep' without a csrf_token",
        "form to 'http://bank.example/plain' over http",
        "form to another origin: 'https://evil.example/steal'",
        "page in 'en', asked for 'fr'",
    ):
        assert rule in text, rule
    assert targets == ["/x", "javascript:go()"]


def test_the_companies_page_is_linked_for_who_may_open_it(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V8.2.1 (function-level access shown as enforced): the crawl found
    ``/admin/companies`` linked from no page; the users' page now links it for whoever may
    open it (the principal user, an administrator), and not for a collaborator, who is
    refused the page."""
    for who, may in ((PRINCIPAL, True), (ADMIN, True), (COLLABORATOR, False)):
        browser = admin.login(who)
        users = browser.get("/admin/users")
        assert users.status_code == 200, who
        assert ('href="/admin/companies"' in users.text) is may, who
        assert browser.get("/admin/companies").status_code == (200 if may else 403), who
