"""A passive scan of the HTML app by a crawler of ours (issue 18, "Headers"; the OWASP ZAP
baseline is not available offline), as every role: a browser without a session, one in the
middle of a login (and one whose renewal expired: the second factor), the principal user
(documents of two companies, a pending order), an administrator, a collaborator with
partial rights, an access manager, a third party who accepted an invitation, a user whose
authenticator application awaits its first code, and an invitee who opens its invitation
link and accepts it; and from the pages only a factor of one's own leads to: codes by SMS
and e-mail at login, a first login's change of the one-time code, a blocked user's login,
the demo's CAP reader with the recovery by card, the recovery link mailed. The world has
every factor (``tests/server/security/crawl_world.py``: passkeys, CAP, certificates behind
a trusted proxy, codes by message, secret questions). From each role's entry page it
follows every same-origin ``<a href>`` breadth-first and sends the forms it finds once each
(``GET`` forms with their default values, ``POST`` forms with their hidden fields, the CSRF
token and plausible values: the user's code, a TOTP code of the moment for a step-up, a
valid SIREN, an address), so that the pages behind a form (the login's factors, the
step-up's proof and confirmation, search results, the invitation's pages) are scanned too.
A destructive form (log out, end a session, revoke, execute an order, remove a factor,
change the code) is never sent, but the logout, which is sent last. Forms with a return
address (``back``, ``next``) are also sent with off-site ones (``//evil.example``...) and
every page once with ``?next=//evil.example``: the answer to a probe must neither redirect
nor link off-site. At most :data:`MAX_PAGES` requests a crawl
(``SECUREBOX_CRAWL_PAGES``). On every answer (redirects included) it checks:

* no 5xx; a redirect only to the same origin (no open redirect);
* the security headers of :func:`tests.server.security.test_headers_everywhere.check_headers`
  (CSP without ``unsafe-inline``, ``frame-ancestors``, nosniff, Referrer-Policy,
  ``no-store``, HSTS: the app is served under https);
* no ``Server`` or ``X-Powered-By`` banner;
* the flags of every ``Set-Cookie`` (those of ``tests/server/security/test_sessions.py``);
* no stack trace, exception name, SQL or driver text, framework banner or private IP
  address in a body; no body without a ``Content-Type``;
* no secret in an address reached, linked or redirected to: a ``code``/``password``/token
  parameter, the user's code, a code the crawl typed, a cookie's value;

and on every HTML page:

* every ``POST`` form carries a non-empty ``csrf_token`` field, no ``GET`` form a secret one;
* no form posts to another origin or over plain http, no ``javascript:`` address;
* every form's field names are plain (no quote, space or ``&#34;``) and are the names the
  route answering it reads: none it would drop, no required one missing
  (``tests/server/security/form_fields.py``: a real browser once found the contact forms
  posting ``"address"`` to routes reading ``address``);
* no mixed content (an ``http:`` ``src``, ``action`` or stylesheet), no script from
  another origin, no ``target=_blank`` link without ``rel=noopener``, no suspicious
  comment (``TODO``, ``password``...);
* no inline ``<script>``, event handler (``on...=``) or style, which the CSP forbids;
* no script loaded twice (the passkey pages once did: each copy handled the submission, so
  the browser ran two ceremonies and, when both answered, posted the form twice);
* no password or code field left to the browser's autocomplete;
* the page is in the language asked for (``<html lang>``).

Every request (method, address, status, route) and every finding is written to
``crawl-<who>-<lang>.txt`` in the test's tmp dir and printed (``pytest -s``); a finding fails
the test with its page and rule. After every crawl, each HTML route taking a ``POST`` must
be the target of a form some crawl checked, or be listed in :data:`UNREACHED` with the
reason no page has a form to it: the field-name rule then covers every form of the app.
"""

from __future__ import annotations

import html
import os
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit

import pytest
from fastapi import APIRouter, Depends
from fastapi import Form as FormField
from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import BaseModel
from starlette.routing import BaseRoute

from securebox_auth.factors.totp import code_at
from securebox_auth.identity import Principal
from securebox_server.web.routing import walk
from tests.server.admin.test_matrix_companies import (  # noqa: F401 (a fixture, by name)
    ACCESS_MANAGER,
    INVITEE,
    world,
)
from tests.server.admin.world import (  # noqa: F401 (fixtures, found by name)
    ACCOUNTANT,
    ADMIN,
    C1,
    C2,
    CLIENT,
    COLLABORATOR,
    ORIGIN,
    PRINCIPAL,
    Admin,
    admin,
)
from tests.server.conftest import CODE, TOKEN
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    sms_hook,
    smtp_relay,
)
from tests.server.methods.conftest import enrol  # noqa: F401 (a fixture, found by name)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.server.security.crawl_world import (  # noqa: F401 (fixtures, found by name)
    BLOCKED,
    CARD_HOLDER,
    CERTIFICATE_HEADER,
    EMAIL,
    FIRST,
    MESSAGES,
    PENDING,
    Kit,
    equipment,
    kit,
)
from tests.server.security.form_fields import (
    HAND_READ,
    by_hand,
    field_problems,
    odd_names,
    route_for,
)
from tests.server.security.test_headers_everywhere import _identified, check_headers
from tests.server.security.test_sessions import _parsed as parsed_cookie
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)

#: the crawl's bound in requests (a role's crawl sends about a hundred): a longer crawl
#: with ``SECUREBOX_CRAWL_PAGES``
MAX_PAGES: Final = int(os.environ.get("SECUREBOX_CRAWL_PAGES", "400"))
LANGUAGES: Final = ("fr", "en")
#: the other roles crawl in one language each (alternately), in both with this set to 1
BOTH_LANGUAGES: Final = os.environ.get("SECUREBOX_CRAWL_BOTH_LANGUAGES", "") == "1"
#: addresses never followed: the logout (it would end the crawl's session) and static
#: files (cacheable on purpose, checked by ``tests/server/web/test_headers.py``)
NEVER: Final = re.compile(r"^/(logout|static/)|/logout\b")
#: forms never sent (they end the session, undo a factor, a right or an order, or change
#: the code the crawl logs in with); the logout is sent once, last
DESTRUCTIVE: Final = re.compile(
    r"^/logout|/(execute|revoke|decline|unblock|end)$"
    r"|^/profile/(code|recovery-codes|totp/remove|certificates/remove|passkeys/[^/]+/remove)$"
    r"|^/companies/[^/]+/contact/remove$|^/admin/users/[^/]+/code$"
)
#: autocomplete values allowed on a secret field (``off`` or the right hint for a
#: password manager); a missing attribute means ``on``
SECRET_AUTOCOMPLETE: Final = frozenset({"off", "one-time-code", "current-password", "new-password"})
#: names of fields that carry a code or a secret even when not ``type=password``
SECRET_NAMES: Final = frozenset({"code", "new", "confirm", "pin", "proof", "answer", "secret"})
#: query parameters that must never carry a value (a secret in an address is logged by
#: every proxy and kept in the history)
SECRET_PARAMS: Final = SECRET_NAMES | {"password", "csrf_token", "session", "token", "otp"}
#: fields naming where to go next, and the off-site values the crawl tries in them
RETURN_FIELDS: Final = frozenset({"back", "next", "return", "return_to", "redirect", "url"})
EVIL: Final = ("//evil.example", "https://evil.example/", "/\\evil.example", "/\t/evil.example")
#: what a body must never show: a Python traceback, an exception's name, SQL or driver
#: text, a framework's or server's name and version
LEAKS: Final = {
    "stack trace": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\""),
    "exception name": re.compile(
        r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b|\b(?:sqlalchemy|psycopg|sqlite3)\b"
    ),
    "SQL text": re.compile(
        r"\bSELECT\b[^<]{1,200}\bFROM\b|\bINSERT INTO\b|\bUPDATE\b\s+\w+\s+SET\b"
        r"|\bDELETE FROM\b|syntax error at or near|\bSQLSTATE\b|\bUNIQUE constraint\b",
        re.IGNORECASE,
    ),
    "version banner": re.compile(
        r"\b(?:uvicorn|starlette|werkzeug|gunicorn)\b|\b(?:Python|nginx|Apache)/\d",
        re.IGNORECASE,
    ),
}
#: what an HTML comment must not say (ZAP's "suspicious comments")
SUSPICIOUS: Final = re.compile(
    r"\b(?:TODO|FIXME|XXX|HACK|BUG|debug|password|secret|admin|user(?:name)?|select|where)\b",
    re.IGNORECASE,
)
#: a private address of the hosting network in a body (ZAP's "private IP disclosure")
PRIVATE_IP: Final = re.compile(
    r"\b(?:10\.\d{1,3}|172\.(?:1[6-9]|2\d|3[01])|192\.168)\.\d{1,3}\.\d{1,3}\b"
)
ORDER: Final = re.compile(r"/operations/([A-Za-z0-9_-]+)")
REDIRECTS: Final = (301, 302, 303, 307, 308)
MAIN: Final = re.compile(r"<main[^>]*>(.*?)</main>", re.DOTALL)


@pytest.fixture
def box_url(server_sqlite_url: str) -> str:  # noqa: F811
    """SQLite only: the pages do not depend on the database (the admin world runs both)."""
    return server_sqlite_url


@dataclass
class Form:
    method: str
    action: str
    enctype: str = ""
    #: what a browser sends untouched: name -> default value
    fields: dict[str, str] = field(default_factory=dict)
    #: the kind of every named field (``text``, ``password``, ``select``...)
    kinds: dict[str, str] = field(default_factory=dict)
    #: the first choice of a group of radio buttons none of which is checked
    choices: dict[str, str] = field(default_factory=dict)
    #: the names of its submit buttons (a browser sends the one clicked)
    buttons: set[str] = field(default_factory=set)

    def names(self) -> set[str]:
        """Every name the form can send."""
        return {*self.fields, *self.kinds, *self.buttons}


class Page(HTMLParser):
    """What the crawl reads in an HTML page: links, forms, scripts, secret fields."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.problems: list[str] = []
        self.lang = ""
        self._script = False
        self._scripts: set[str] = set()
        self._form: Form | None = None
        self._select = ""
        self._text = ""  # the textarea or option being read
        self._submitted = False  # the form's first submit button is taken

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v or "" for k, v in attrs}
        for name, value in a.items():
            if name.startswith("on") and len(name) > 2:
                self.problems.append(f"inline event handler {name}= on <{tag}>")
            address = value.strip().lower()
            if name in ("href", "src", "action", "formaction") and address.startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: address in <{tag} {name}>")
            if name == "style":
                self.problems.append(f"inline style= on <{tag}> (the CSP's style-src forbids it)")
            fetched = name in ("src", "action", "formaction", "data", "poster") or (
                tag == "link" and name == "href"
            )
            if fetched and address.startswith("http:"):
                self.problems.append(f"mixed content: <{tag} {name}={value!r}>")
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
            rel = a.get("rel", "").lower().split()
            if a.get("target") == "_blank" and not {"noopener", "noreferrer"} & set(rel):
                self.problems.append(f"target=_blank without rel=noopener: {a['href']!r}")
        elif tag == "form":
            method = a.get("method", "get").lower()
            self._form = Form(method, a.get("action", ""), a.get("enctype", ""))
            self.forms.append(self._form)
            self._submitted = False
        elif tag == "style":
            self.problems.append("inline <style> (the CSP's style-src forbids it)")
        elif tag == "script":
            if not a.get("src"):
                self.problems.append("inline <script>")
            elif urlsplit(urljoin(ORIGIN + "/", a["src"])).netloc != urlsplit(ORIGIN).netloc:
                self.problems.append(f"script from another origin: {a['src']!r}")
            elif a["src"] in self._scripts:  # its handlers would run twice per event
                self.problems.append(f"script loaded twice: {a['src']!r}")
            self._scripts.add(a.get("src", ""))
            self._script = True
        elif tag in ("input", "textarea", "select", "button", "option"):
            self._field(tag, a)

    def _field(self, tag: str, a: dict[str, str]) -> None:
        name = a.get("name", "")
        kind = a.get("type", "submit" if tag == "button" else "text").lower()
        if tag == "input" and (kind == "password" or name in SECRET_NAMES):
            auto = a.get("autocomplete", "on").lower()
            if kind not in ("hidden", "submit", "button") and auto not in SECRET_AUTOCOMPLETE:
                self.problems.append(f"secret field {name!r} with autocomplete={auto!r}")
        form = self._form
        if form is None:
            return
        if tag == "option":
            if self._select and (self._select not in form.fields or "selected" in a):
                form.fields[self._select] = a.get("value", "")
            return
        if not name:
            return
        if tag == "select":
            self._select = name
            form.kinds[name] = "select"
        elif tag == "textarea":
            form.kinds[name], form.fields[name] = "textarea", ""
        elif kind in ("submit", "image"):
            form.buttons.add(name)
            if not self._submitted:
                form.fields[name] = a.get("value", "")
                self._submitted = True
        elif kind in ("checkbox", "radio"):
            form.kinds[name] = kind
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
            elif kind == "radio":
                form.choices.setdefault(name, a.get("value", "on"))
        elif kind not in ("button", "reset"):
            form.kinds[name] = kind
            form.fields[name] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False
        elif tag == "form":
            self._form = None
        elif tag == "select":
            self._select = ""

    def handle_comment(self, data: str) -> None:
        found = SUSPICIOUS.search(data)
        if found is not None:
            self.problems.append(f"suspicious comment: {found.group(0)!r}")

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
    if form.method == "get":
        secret = {n for n, k in form.kinds.items() if k == "password" or n in SECRET_NAMES}
        if secret:
            wrong.append(f"GET form to {form.action!r} with secret fields {sorted(secret)}")
    wrong += [f"form to {form.action!r} sends the odd name {n!r}" for n in odd_names(form.names())]
    return wrong


def _form_target(form: Form, page_url: str) -> tuple[str, str] | None:
    """The method and path a browser sends ``form`` of the page ``page_url`` to (a form of
    any method but ``post`` as a ``GET``); None for another origin."""
    target = urlsplit(urljoin(page_url, form.action or page_url))
    if f"{target.scheme}://{target.netloc}" != ORIGIN:
        return None  # another origin: a finding of its own
    return ("POST" if form.method == "post" else "GET"), target.path


def _route_problems(routes: Sequence[BaseRoute], form: Form, page_url: str) -> list[str]:
    """The names a same-origin form sends against those its route reads (form_fields.py)."""
    target = _form_target(form, page_url)
    if target is None:
        return []
    method, path = target
    return field_problems(routes, method, form.action, path, form.names())


def browser_origin(base: str, location: str) -> str:
    """The origin a browser goes to from ``base`` for ``location``: browsers drop tabs and
    new lines, read a backslash as a slash (so ``/\\evil`` is ``//evil``) and any run of
    slashes before a host as two."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip().replace("\\", "/")
    cleaned = re.sub(r"^/{2,}", "//", cleaned)  # any run of slashes starts a host
    parts = urlsplit(urljoin(base, cleaned))
    return f"{parts.scheme}://{parts.netloc}"


def url_problems(url: str, secrets: frozenset[str]) -> list[str]:
    """A secret in an address: a parameter that carries one, or a known secret value."""
    parts = urlsplit(url)
    wrong = [
        f"secret parameter {name!r} in {url!r}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() in SECRET_PARAMS and value
    ]
    wrong += [f"a secret value in {url!r}" for secret in secrets if secret in url]
    return wrong


def _gist(answer: Response) -> str:
    """What a refusal says: its page's main text, or its JSON, shortened."""
    main = MAIN.search(answer.text)
    text = re.sub(r"<[^>]+>", " ", main.group(1)) if main else answer.text
    return " ".join(text.split())[:160]


def _targets(routes: Sequence[BaseRoute], forms: Sequence[Form], url: str) -> set[tuple[str, str]]:
    """The routes (method, path) answering the same-origin ``forms`` of the page ``url``."""
    found = set()
    for form in forms:
        target = _form_target(form, ORIGIN + url)
        route = route_for(routes, *target) if target is not None else None
        if target is not None and route is not None:
            found.add((target[0], route.path))
    return found


def _route_of(app: object, path: str) -> str:
    for route in walk(app.routes):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            return route.path
    return "?"


@dataclass
class Seen:
    """What one answer shows: its findings, the addresses it leads to, its forms."""

    findings: list[str]
    targets: list[str]
    forms: list[Form]


def examine(
    answer: Response,
    url: str,
    lang: str,
    secrets: frozenset[str] = frozenset(),
    routes: Sequence[BaseRoute] = (),
) -> Seen:
    """The findings of one answer to a request to ``url`` (passive: nothing is sent), the
    addresses it leads to (its redirect, its links) and its forms, whose fields are checked
    against what the app's ``routes`` read (when given)."""
    status = answer.status_code
    found = [f"status {status}"] if status >= 500 else []
    found += check_headers(answer, tls=True)
    found += _cookie_problems(answer)
    for banner in ("server", "x-powered-by"):
        if banner in answer.headers:
            found.append(f"{banner} banner: {answer.headers[banner]!r}")
    kind = answer.headers.get("content-type", "")
    if answer.content and not kind:
        found.append("a body without a Content-Type")
    if kind.startswith("text/") or "json" in kind:
        private = PRIVATE_IP.search(answer.text)
        if private is not None:
            found.append(f"private IP address in the body: {private.group(0)!r}")
        for rule, pattern in LEAKS.items():
            leak = pattern.search(answer.text)
            if leak is not None:
                found.append(f"{rule} in the body: {leak.group(0)!r}")
    found += url_problems(url, secrets)
    seen = Seen(found, [], [])
    if status in REDIRECTS:
        location = answer.headers.get("location", "")
        if browser_origin(ORIGIN + url, location) != ORIGIN:
            found.append(f"redirect off-site: {location!r}")
        seen.targets.append(location)
    if kind.startswith("text/html"):
        page = Page()
        page.feed(answer.text)
        page.close()
        found += page.problems
        for form in page.forms:
            found += _form_problems(form, ORIGIN + url)
            found += _route_problems(routes, form, ORIGIN + url) if routes else []
            found += url_problems(form.action, secrets)
        if page.lang != lang:
            found.append(f"page in {page.lang!r}, asked for {lang!r}")
        seen.targets += page.links
        seen.forms = page.forms
    for target in seen.targets:
        found += url_problems(target, secrets)
    return seen


@dataclass(frozen=True)
class Request:
    """One request of the crawl; a probe's answer is checked, not followed."""

    method: str
    url: str
    data: tuple[tuple[str, str], ...] = ()
    multipart: bool = False
    probe: bool = False
    #: the request whose answer led here (shown with a refusal)
    via: str = ""
    #: a form: the page it was read on (``GET``), reloaded for a fresh CSRF token when
    #: the session changed since (a step-up renews it), and the session then
    page: str = ""
    session: str = ""


@dataclass
class Crawl:
    """One crawl's requests (method, address, status, route), findings (address, rule),
    and the forms it did not send."""

    pages: list[tuple[str, str, int, str]] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)
    unsent: set[str] = field(default_factory=set)
    #: the answers >= 400 with their page's heading (why a form was refused)
    refusals: list[str] = field(default_factory=list)
    #: the routes (method, path) of the forms whose field names were checked
    checked: set[tuple[str, str]] = field(default_factory=set)

    def routes(self) -> set[str]:
        return {route for method, _, status, route in self.pages if status == 200}

    def posted(self) -> set[str]:
        return {route for method, _, status, route in self.pages if method == "POST"}

    def report(self, who: str, lang: str) -> str:
        lines = [f"{who} ({lang}): {len(self.pages)} requests, {len(self.routes())} pages"]
        lines += [f"{status} {method} {url} ({route})" for method, url, status, route in self.pages]
        lines += [f"not sent: {action}" for action in sorted(self.unsent)]
        lines += [f"refused: {refusal}" for refusal in self.refusals]
        lines += [f"findings: {len(self.findings)}"]
        lines += [f"{url}: {rule}" for url, rule in self.findings]
        return "\n".join(lines) + "\n"


#: the forms whose ``code`` (or ``current``) is the user's code
CODE_ACTIONS: Final = frozenset({"/login/code", "/login/change-code", "/recovery/questions/setup"})


@dataclass
class Values:
    """The plausible values a role types in a form's empty fields."""

    world: Admin
    principal: Principal
    #: the user's code (a browser without a session types a wrong one)
    code: str = CODE
    #: the language the crawl asks for (the language form keeps it)
    lang: str = "fr"
    #: what the crawl typed in secret fields (never to be seen in an address)
    typed: set[str] = field(default_factory=set)

    def totp(self) -> str:
        """The principal's TOTP code of the next period (a code is accepted once)."""
        credential = self.world.totp.get(self.principal)
        if credential is None:
            return "000000"
        self.world.clock.advance(timedelta(seconds=30))
        return code_at(credential, self.world.clock.now())

    def value(self, form: Form, name: str, kind: str) -> str:
        action = urlsplit(form.action).path
        plain = {
            "client_id": self.principal.client_id.value,
            "user_number": self.principal.user_number.value,
            "user": "05",
            "siren": "443061841",
            "lang": self.lang,
            "iban": "FR7630006000011234567890189",
            "bic": "AGRIFRPPXXX",
            "amount": "12.50",
            "q": "payslip",
        }
        if name in plain:
            return plain[name]
        if name == "code" and ("totp" in action or action == "/login/strong"):
            return self.totp()
        if name in ("code", "current") and action in CODE_ACTIONS:
            return self.code
        if name in SECRET_NAMES or kind == "password":
            return "000000"
        if kind == "email" or "mail" in name or name == "address":
            return "crawl@acme.example"
        if kind == "tel" or name in ("mobile", "phone"):
            return "+33612345678"
        if kind == "number":
            return "1"
        if kind == "date":
            return self.world.clock.now().date().isoformat()
        return "Crawl"

    def fill(self, form: Form) -> dict[str, str]:
        data = dict(form.fields)
        for name, kind in form.kinds.items():
            if kind == "radio" and name not in data:
                data[name] = form.choices[name]  # the user picks one: the first
            if kind in ("checkbox", "radio", "select"):
                continue  # a browser sends what is checked or chosen, as it is
            if not data.get(name):
                data[name] = self.value(form, name, kind)
                if kind == "password" or name in SECRET_NAMES:
                    self.typed.add(data[name])
        if "lang" in data:  # the language switch keeps the crawl's language
            data["lang"] = self.lang
        return data


def _key(app: object, form: Form, page_url: str) -> tuple[str, str, tuple[str, ...]]:
    path = urlsplit(urljoin(ORIGIN + page_url, form.action)).path
    return form.method, _route_of(app, path), tuple(sorted(form.kinds))


def _local(base: str, target: str) -> str | None:
    """``target`` as a same-origin address (path and query), or None."""
    if target.startswith("#"):
        return None  # a place in the same page: a browser does not ask for it again
    absolute, _ = urldefrag(urljoin(ORIGIN + base, target))
    parts = urlsplit(absolute)
    if f"{parts.scheme}://{parts.netloc}" != ORIGIN:
        return None  # another origin: not followed (none is expected)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _send(client: TestClient, request: Request) -> Response:
    answer: Response
    if request.method == "GET":
        answer = client.get(request.url, follow_redirects=False)
        return answer
    data = dict(request.data)
    files = {"file": ("crawl.csv", b"iban;amount\n", "text/csv")} if request.multipart else None
    answer = client.post(request.url, data=data, files=files, follow_redirects=False)
    return answer


def _session(client: TestClient) -> str:
    return client.cookies.get(client.app.state.server.cookies.session) or ""  # type: ignore[attr-defined]


def _reloaded(client: TestClient, request: Request) -> Request:
    """``request`` with the CSRF token of its page loaded again, as a browser reloads a
    form whose token expired (the session changed since the page was read)."""
    page = client.get(request.page or "/home")
    found = TOKEN.search(page.text)
    data = dict(request.data)
    if found is not None and "csrf_token" in data:
        data["csrf_token"] = found.group(1)
    return replace(request, data=tuple(data.items()), session=_session(client))


def _probes(form_request: Request, data: dict[str, str]) -> list[Request]:
    """The form sent again with an off-site address in each of its return fields."""
    probes = []
    for name in RETURN_FIELDS & set(data):
        for evil in EVIL:
            sent = tuple({**data, name: evil}.items())
            probes.append(replace(form_request, data=sent, probe=True))
    return probes


def _reflected(seen: Seen, url: str) -> list[str]:
    """A probe's off-site address given back in a page's link, form or return field."""
    given = [*seen.targets, *(form.action for form in seen.forms)]
    given += [v for form in seen.forms for k, v in form.fields.items() if k in RETURN_FIELDS]
    return [
        f"the probe's off-site address is reflected: {g!r}"
        for g in given
        if "evil." in g and browser_origin(ORIGIN + url, g) != ORIGIN
    ]


def _secrets(client: TestClient, values: Values | None) -> frozenset[str]:
    cookies = {value for value in client.cookies.values() if len(value) >= 16}
    typed = values.typed if values is not None else set()
    return frozenset({CODE, *typed, *cookies})


def crawl(
    client: TestClient,
    start: str,
    lang: str,
    values: Values | None = None,
    stop: re.Pattern[str] | None = None,
) -> Crawl:
    """Breadth-first from ``start``, same origin, at most :data:`MAX_PAGES` requests: every
    link followed, every form (but the destructive ones) sent once when ``values`` types
    its fields; the addresses ``stop`` matches are checked, not followed; the logout last."""
    app = client.app
    client.headers["Accept-Language"] = lang
    done = Crawl()
    seen = {start}
    sent: set[tuple[str, str, tuple[str, ...]]] = set()
    probed: set[str] = set()
    revisited: set[str] = set()
    logout: Request | None = None
    queue = deque([Request("GET", start)])
    while len(done.pages) < MAX_PAGES:
        if not queue:
            if logout is None:
                break
            queue.append(logout)  # the last thing the role does
            logout = None
        request = queue.popleft()
        if request.method == "POST" and _session(client) != request.session:
            request = _reloaded(client, request)
        answer = _send(client, request)
        path = urlsplit(request.url).path
        route = _route_of(app, path)
        done.pages.append((request.method, request.url, answer.status_code, route))
        if answer.status_code >= 400:
            said = f"{answer.status_code} {request.method} {request.url} (from {request.via})"
            done.refusals.append(f"{said}: {_gist(answer)}")
        found = examine(answer, request.url, lang, _secrets(client, values), app.routes)  # type: ignore[attr-defined]
        done.findings += [(f"{request.method} {request.url}", rule) for rule in found.findings]
        done.checked |= _targets(app.routes, found.forms, request.url)  # type: ignore[attr-defined]
        if request.probe:
            if answer.status_code not in REDIRECTS:  # a redirect's target is checked above
                reflected = _reflected(found, request.url)
                done.findings += [(f"{request.method} {request.url}", r) for r in reflected]
            continue
        if stop is not None and stop.search(path):
            continue
        if request.method == "GET" and answer.status_code == 200 and route not in probed:
            probed.add(route)
            joined = "&" if "?" in request.url else "?"
            evil = urlencode({"next": EVIL[0], "back": EVIL[0]})
            queue.append(Request("GET", f"{request.url}{joined}{evil}", probe=True))
        # a form's redirect shows its result (an order's page once its step-up is proved):
        # followed even when seen before, once per address
        again = request.method == "POST" and answer.status_code in REDIRECTS
        for target in found.targets:
            local = _local(request.url, target)
            if local is None or NEVER.search(urlsplit(local).path):
                continue
            if local in seen and not (again and local not in revisited):
                continue
            if local in seen:
                revisited.add(local)
            seen.add(local)
            queue.append(Request("GET", local, via=f"{request.method} {request.url}"))
        for form in found.forms if values is not None else ():
            local = _local(request.url, form.action or request.url)
            key = _key(app, form, request.url)
            if local is None or key in sent:
                continue
            sent.add(key)
            if DESTRUCTIVE.search(urlsplit(local).path):
                if urlsplit(local).path == "/logout" and form.method == "post":
                    logout = Request("POST", local, tuple(form.fields.items()), page="/home")
                else:
                    done.unsent.add(f"{form.method.upper()} {key[1]}")
                continue
            data = values.fill(form) if values is not None else {}
            if form.method == "get":
                url = f"{local.split('?')[0]}?{urlencode(data)}" if data else local
                if url not in seen:
                    seen.add(url)
                    queue.append(Request("GET", url))
                continue
            multipart = form.enctype == "multipart/form-data"
            page = request.url if request.method == "GET" else ""
            via = f"{request.method} {request.url}"
            sent_form = Request(
                "POST", local, tuple(data.items()), multipart, False, via, page, _session(client)
            )
            queue.append(sent_form)
            queue.extend(_probes(sent_form, data))
    return done


def _logged_in(world: Admin) -> TestClient:  # noqa: F811
    """The principal user (a recent strong login) with a pending order (a user's deletion
    awaiting its step-up), so that the list of orders has a row."""
    user = world.login(PRINCIPAL)
    started = world.post(user, "/admin/users/03/delete", "/admin/users/03/delete", {})
    assert ORDER.fullmatch(started.headers.get("location", "")), started.text
    return user


def _documents(world: Admin) -> None:  # noqa: F811
    for company in (C1, C1, C2):
        world.publish(company)


#: what a crawl checks but does not follow nor send forms from: for the login's crawl the
#: home page (the user's crawl covers the app), the first page of the login and recovery
#: (the anonymous crawl covers them; sending them would start the login again); for a
#: logged-in crawl the login and recovery pages (logging in again starts another session)
HOME: Final = re.compile(r"^/(home|login)$|^/recovery(/|$)")
LOGIN: Final = re.compile(r"^/(login|recovery)(/|$)")
#: pages the logged-in crawl must reach from ``/home`` (the crawl really walks the app)
LOGGED_IN_REACHES: Final = frozenset(
    {
        "/home",
        "/documents",
        "/documents/{document_id}",
        "/documents/{document_id}/view",
        "/documents/{document_id}/download",
        "/documents/{document_id}/share",
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
#: forms the logged-in crawl must send (the pages behind them are scanned)
LOGGED_IN_POSTS: Final = frozenset(
    {
        "/operations/{order_id}/proof/{method}",
        "/transfers/new",
        "/payees/new",
        "/admin/companies",
        "/preferences/language",
        "/logout",
    }
)
PROOF: Final = "/operations/{order_id}/proof/{method}"
#: pages the logged-out crawl must reach from ``/`` (the login and its recovery)
LOGGED_OUT_REACHES: Final = frozenset(
    {"/login", "/recovery", "/recovery/code", "/recovery/identifier"}
)


def _scan(
    browser: Callable[[], TestClient],
    start: str,
    who: str,
    tmp_path: Path,
    values: Callable[[str], Values | None],
    stop: re.Pattern[str] | None = None,
    languages: tuple[str, ...] = LANGUAGES,
    *,
    into: Crawled,
) -> Crawl:
    """Crawl in each language, each with a fresh ``browser()`` (the crawl ends with the
    logout) and ``values`` of the language to type in the forms; every language's
    requests and forms not sent together, the routes of the forms checked kept in
    ``into`` under ``who``; fails on any finding."""
    every = Crawl()
    for lang in languages:
        done = crawl(browser(), start, lang, values(lang), stop)
        text = done.report(who, lang)
        (tmp_path / f"crawl-{who}-{lang}.txt").write_text(text, encoding="utf-8")
        print(text)  # the pages visited, shown with -s or on a failure
        assert len(done.pages) < MAX_PAGES, "the crawl hit its bound: raise it or look why"
        every.pages += done.pages
        every.findings += [(f"{lang} {url}", rule) for url, rule in done.findings]
        every.unsent |= done.unsent
        every.checked |= done.checked
    into[who] = every.checked
    assert every.findings == []
    return every


#: the routes (method, path) of the forms each crawl of the module checked, by crawl
Crawled = dict[str, set[tuple[str, str]]]


@pytest.fixture(scope="module")
def crawled() -> Crawled:
    """Filled by every crawl of the module, read after them all by
    :func:`test_every_html_post_route_is_the_target_of_a_crawled_form`."""
    return {}


def _typing(world: Admin, principal: Principal) -> Callable[[str], Values]:  # noqa: F811
    return lambda lang: Values(world, principal, lang=lang)


def test_a_crawl_of_the_logged_in_app_finds_nothing(
    world: Admin,  # noqa: F811
    tmp_path: Path,
    crawled: Crawled,
) -> None:
    """ASVS 5.0 V3.4.1, V3.4.3 to V3.4.6, V14.3.2 (headers and no-store on every answer),
    V3.3.1, V3.3.2, V3.3.4 (cookie flags), V3.5.1 (a CSRF token in every form that posts),
    V3.4.3 (no inline script or handler: the CSP forbids them), V6.2.7 (secret fields
    carry the password manager's hint or autocomplete off), V16.5.1 (no stack trace,
    exception, SQL or banner shown), V12.2.1 (forms post over https, same origin, no
    mixed content), V14.2.1 (no secret in an address), V3.7.2 (no open redirect): a crawl
    of the principal user's app, strongly logged in, in French and English, following
    every link and sending every form but the destructive ones (a step-up proved with a
    TOTP code, a transfer, a payee, a company), the logout last."""
    _documents(world)
    users: list[TestClient] = []

    def user() -> TestClient:
        users.append(_logged_in(world))
        return users[-1]

    values = _typing(world, PRINCIPAL)
    done = _scan(user, "/home", "user", tmp_path, values, LOGIN, into=crawled)
    assert LOGGED_IN_REACHES - done.routes() == set()
    assert LOGGED_IN_POSTS - done.posted() == set()
    # behind the forms: the search's results, the step-up proved (its confirmation shows
    # the execute form, not sent), the order a transfer starts refused without a reader
    searched = [url for _, url, status, _ in done.pages if url.startswith("/documents?from=")]
    assert searched, "the search form was not sent"
    assert "POST /operations/{order_id}/execute" in done.unsent
    proved = {s for m, _, s, r in done.pages if (m, r) == ("POST", PROOF)}
    assert proved == {303}, proved
    for browser in users:  # logged out last
        assert browser.get("/home", follow_redirects=False).status_code == 303


def test_a_crawl_without_a_session_finds_nothing(
    world: Admin,  # noqa: F811
    tmp_path: Path,
    crawled: Crawled,
) -> None:
    """ASVS 5.0 V3.4.1, V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1,
    V16.5.1, V12.2.1, V14.2.1, V3.7.2: the same crawl from ``/`` by a browser without a
    session (the login, the recovery pages), sending their forms with a subscription's
    identifiers and a wrong code, in French and English."""
    values = lambda lang: Values(world, PRINCIPAL, code="00000000", lang=lang)  # noqa: E731
    done = _scan(world.browser, "/", "anonymous", tmp_path, values, into=crawled)
    assert LOGGED_OUT_REACHES - done.routes() == set()
    assert {"/login", "/login/user", "/recovery/identifier"} - done.posted() == set()


#: pages the crawl of a browser in the middle of a login must reach from the method page
LOGGING_IN_REACHES: Final = frozenset(
    {
        "/login/method",
        "/login/code",
        "/login/cap",
        "/login/passkey",
        "/login/certificate",
    }
)


def _presenting(world: Admin, kit: Kit) -> TestClient:  # noqa: F811
    """A browser in the middle of the principal user's login, whose TLS client
    certificate the trusted reverse proxy forwards (the certificate page offers it)."""
    browser = world.identify(PRINCIPAL)
    browser.headers[CERTIFICATE_HEADER] = kit.presented
    return browser


def test_a_crawl_in_the_middle_of_a_login_finds_nothing(
    world: Admin,  # noqa: F811
    tmp_path: Path,
    crawled: Crawled,
    kit: Kit,  # noqa: F811
) -> None:
    """ASVS 5.0 V3.4.1, V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1,
    V16.5.1, V12.2.1, V6.2.7 (the code fields of the login are not autocompleted),
    V14.2.1, V3.7.2: the same crawl from ``/login/method`` by a browser that named the
    principal user and proved nothing yet (behind a proxy forwarding a TLS client
    certificate), sending the factors' forms (the code logs in: the home page is checked,
    not crawled again; the CAP, passkey and certificate forms, checked, are sent after it
    and refused), in French and English."""
    values = _typing(world, PRINCIPAL)
    browser = lambda: _presenting(world, kit)  # noqa: E731
    done = _scan(browser, "/login/method", "logging-in", tmp_path, values, HOME, into=crawled)
    assert LOGGING_IN_REACHES - done.routes() == set()
    assert "/login/code" in done.posted()
    assert ("GET", "/home", 200, "/home") in done.pages  # the code logged in


#: pages the crawl of a login whose renewal expired must reach: the second factor's
SECOND_FACTOR_REACHES: Final = frozenset({"/login/strong", "/login/totp"})


def test_a_crawl_of_a_login_that_needs_a_second_factor_finds_nothing(
    world: Admin,  # noqa: F811
    tmp_path: Path,
    crawled: Crawled,
) -> None:
    """ASVS 5.0 V3.4.1, V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1,
    V16.5.1, V12.2.1, V6.2.7, V14.2.1, V3.7.2; PSD2 RTS art. 10 (the renewal of the strong
    authentication): the same crawl of a login whose last strong authentication is older
    than the renewal period, so that the code leads to the second factor's pages; the
    crawl types the user's code then a TOTP code of the moment (the home page is checked,
    not crawled again), in French and English."""
    world.clock.advance(timedelta(days=400))
    values = _typing(world, PRINCIPAL)
    browser = lambda: _identified(world)  # noqa: E731
    done = _scan(browser, "/login/method", "second-factor", tmp_path, values, HOME, into=crawled)
    assert SECOND_FACTOR_REACHES - done.routes() == set()
    assert "/login/totp" in done.posted()
    assert ("GET", "/home", 200, "/home") in done.pages  # the TOTP code logged in


#: the other roles: who logs in, the entry page, the pages and forms the crawl must reach
ROLES: Final = {
    "administrator": (ADMIN, "/home", {"/admin/users", "/admin/companies"}, set(), "fr"),
    "collaborator": (COLLABORATOR, "/home", {"/documents/{document_id}"}, set(), "en"),
    "access_manager": (ACCESS_MANAGER, "/home", {"/admin/users/{user}"}, set(), "en"),
    "third_party": (ACCOUNTANT, "/home", {"/documents/{document_id}"}, set(), "fr"),
    # an authenticator application awaiting its first code: its page asks for it
    "pending_totp": (PENDING, "/home", {"/profile/totp"}, set(), "en"),
    "invitee": (
        INVITEE,
        "/invitations/" + "t" * 43,
        {"/invitations/{token}", "/operations/{order_id}/proof/{method}"},
        {"/invitations/{token}/accept", "/operations/{order_id}/proof/{method}"},
        "fr",
    ),
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_crawl_as_each_other_role_finds_nothing(
    world: Admin,  # noqa: F811
    tmp_path: Path,
    crawled: Crawled,
    role: str,
) -> None:
    """ASVS 5.0 V3.4.1, V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1,
    V6.2.7, V16.5.1, V12.2.1, V14.2.1, V3.7.2, and V8.2.1 (each role is shown only its
    pages, none of which fails): the same crawl of the app, links and forms, as an
    administrator, a collaborator with partial rights (payroll, view and download), an
    access manager, a third party after acceptance, a user whose authenticator application
    awaits its first code, and an invitee from its invitation link (it accepts it and
    proves it with a TOTP code), each in one language (in both with
    ``SECUREBOX_CRAWL_BOTH_LANGUAGES=1``)."""
    principal, start, reaches, posts, lang = ROLES[role]
    _documents(world)
    if principal == INVITEE:
        world.enrol_totp(principal)  # the invitee proves its acceptance with a TOTP code
    browser = lambda: world.login(principal)  # noqa: E731
    languages = LANGUAGES if BOTH_LANGUAGES else (lang,)
    values = _typing(world, principal)
    done = _scan(browser, start, role, tmp_path, values, LOGIN, languages, into=crawled)
    assert reaches - done.routes() == set()
    assert posts - done.posted() == set()


@dataclass(frozen=True)
class Entry:
    """A crawl that starts outside the logged-in app: its browser, its first page, the
    pages it checks but does not follow, what it types, and the pages (answered 200) and
    forms (sent) it must reach."""

    browser: Callable[[], TestClient]
    start: str
    stop: re.Pattern[str] | None
    values: Callable[[str], Values]
    reaches: frozenset[str]
    posts: frozenset[str]


RECOVERY_LINK: Final = re.compile(re.escape(ORIGIN) + r"(/recovery/link/[A-Za-z0-9_-]+)")


def _recovery_link(world: Admin) -> str:  # noqa: F811
    """The address of the recovery link mailed to :data:`MESSAGES`, asked for through
    the form."""
    data = {
        "client_id": MESSAGES.client_id.value,
        "user_number": MESSAGES.user_number.value,
        "email": EMAIL,
    }
    asked = world.post(world.browser(), "/recovery/code", "/recovery/code", data)
    assert asked.status_code == 200, asked.text
    world.app.state.recovery.dispatcher.drain()  # the mail is sent on its thread
    body = world.mails()[-1].get_body(("plain",))
    assert body is not None
    found = RECOVERY_LINK.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


def _entry(world: Admin, kit: Kit, name: str) -> Entry:  # noqa: F811
    def identified(principal: Principal) -> Callable[[], TestClient]:
        return lambda: world.identify(principal)

    def typing(principal: Principal, code: str = CODE) -> Callable[[str], Values]:
        return lambda lang: Values(world, principal, code=code, lang=lang)

    match name:
        case "messages":  # the code, then codes by SMS and e-mail (sent, then mistyped)
            return Entry(
                identified(MESSAGES),
                "/login/method",
                HOME,
                typing(MESSAGES),
                frozenset({"/login/strong", "/login/sms", "/login/email"}),
                frozenset({"/login/code", "/login/sms/send", "/login/email/send"}),
            )
        case "first_login":  # the letter's one-time code, then the change it asks for
            return Entry(
                identified(FIRST),
                "/login/method",
                HOME,
                typing(FIRST, kit.first_code),
                frozenset({"/login/change-code"}),
                frozenset({"/login/code", "/login/change-code"}),
            )
        case "blocked":  # the right code, answered by the blocked page
            return Entry(
                identified(BLOCKED),
                "/login/method",
                HOME,
                typing(BLOCKED),
                frozenset({"/login/method"}),
                frozenset({"/login/code"}),
            )
        case "card_holder":  # the demo's reader, the login and the recovery by card
            return Entry(
                world.browser,
                "/demo/cap-reader",
                None,
                typing(CARD_HOLDER, "00000000"),
                frozenset({"/demo/cap-reader", "/login/cap/respond", "/recovery/card"}),
                frozenset({"/demo/cap-reader", "/recovery/card", "/recovery/card/answer"}),
            )
        case _:  # the recovery link mailed, where a new code is chosen (too weak: refused)
            assert name == "recovery_link", name
            return Entry(
                world.browser,
                _recovery_link(world),
                None,
                typing(MESSAGES),
                frozenset({"/recovery/link/{token}"}),
                frozenset({"/recovery/link/{token}"}),
            )


#: the crawls from an entry page of :func:`_entry`, and the language of each
ENTRIES: Final = {
    "messages": "en",
    "first_login": "fr",
    "blocked": "en",
    "card_holder": "fr",
    "recovery_link": "en",
}


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_a_crawl_from_each_entry_page_finds_nothing(
    world: Admin,  # noqa: F811
    kit: Kit,  # noqa: F811
    tmp_path: Path,
    crawled: Crawled,
    name: str,
) -> None:
    """ASVS 5.0 V3.4.1, V3.4.3 to V3.4.6, V14.3.2, V3.3.1, V3.3.2, V3.3.4, V3.5.1,
    V6.2.7, V16.5.1, V12.2.1, V14.2.1, V3.7.2: the same crawl of the pages that only a
    user with a factor of their own reaches: codes by SMS and e-mail at the second factor
    (sent, then mistyped), a first login's change of the one-time code, a blocked user's
    login, the demo's CAP reader with the login and the recovery by card (its challenge
    answered wrong), the recovery link mailed, each in one language (in both with
    ``SECUREBOX_CRAWL_BOTH_LANGUAGES=1``)."""
    entry = _entry(world, kit, name)
    languages = LANGUAGES if BOTH_LANGUAGES else (ENTRIES[name],)
    done = _scan(
        entry.browser,
        entry.start,
        name,
        tmp_path,
        entry.values,
        entry.stop,
        languages,
        into=crawled,
    )
    assert entry.reaches - done.routes() == set()
    assert entry.posts - done.posted() == set()
    if name == "blocked":  # the right code, refused
        assert {s for m, _, s, r in done.pages if (m, r) == ("POST", "/login/code")} == {403}


BAD_PAGE: Final = """<!doctype html><html lang="en"><body>
<script>alert(1)</script><a href="/x" onclick="go()">x</a><a href="javascript:go()">y</a>
<a href="/documents?code=47120938">z</a><img src="http://cdn.example/a.png" style="x">
<style>p {}</style><script src="https://cdn.example/x.js"></script>
<script src="/static/js/a.js"></script><script src="/static/js/a.js"></script>
<a href="/y" target="_blank">t</a><!-- TODO: remove the admin password -->
<form method="post" action="/keep"><input name="code" type="password"></form>
<form method="post" action="http://bank.example/plain">
<input type="hidden" name="csrf_token" value="t"></form>
<form method="post" action="https://evil.example/steal">
<input type="hidden" name="csrf_token" value="t"></form>
<form method="get" action="/search"><input name="pin" autocomplete="off"></form>
<p>ValueError: SELECT secret FROM users, uvicorn on 10.0.3.7</p></body></html>"""


def test_the_scanner_sees_every_rule_broken(world: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V3.4.3, V3.5.1, V6.2.7, V12.2.1, V16.5.1, V3.3.1, V14.2.1, V3.7.2: the
    checks above can fail: a page breaking each rule, served without the headers, with a
    server banner and a bare cookie, gets one finding per rule; a redirect off-site (also
    written the ways a browser reads as off-site) is found."""
    answer = Response(
        500,
        headers={
            "content-type": "text/html; charset=utf-8",
            "set-cookie": "sid=1; Path=/",
            "server": "uvicorn",
        },
        text=BAD_PAGE,
    )
    seen = examine(answer, "/bad?token=abc", "fr", frozenset({"47120938"}))
    text = "\n".join(seen.findings)
    for rule in (
        "status 500",
        "CSP without default-src",
        "no nosniff",
        "Cache-Control is not no-store",
        "HSTS missing",
        "server banner: 'uvicorn'",
        "cookie sid without the __Host-sb- prefix",
        "cookie sid without secure",
        "cookie sid not SameSite=Strict",
        "exception name in the body: 'ValueError'",
        "SQL text in the body",
        "version banner in the body: 'uvicorn'",
        "inline event handler onclick=",
        "javascript: address in <a href>",
        "mixed content: <img src='http://cdn.example/a.png'>",
        "inline <script>",
        "inline style= on <img>",
        "inline <style>",
        "script from another origin: 'https://cdn.example/x.js'",
        "script loaded twice: '/static/js/a.js'",
        "target=_blank without rel=noopener: '/y'",
        "suspicious comment: 'TODO'",
        "private IP address in the body: '10.0.3.7'",
        "secret field 'code' with autocomplete='on'",
        "POST form to '/keep' without a csrf_token",
        "form to 'http://bank.example/plain' over http",
        "form to another origin: 'https://evil.example/steal'",
        "GET form to '/search' with secret fields ['pin']",
        "secret parameter 'token' in '/bad?token=abc'",
        "secret parameter 'code' in '/documents?code=47120938'",
        "a secret value in '/documents?code=47120938'",
        "page in 'en', asked for 'fr'",
    ):
        assert rule in text, rule
    assert seen.targets == ["/x", "javascript:go()", "/documents?code=47120938", "/y"]
    bare = examine(Response(200, content=b"x"), "/x", "fr").findings
    assert "a body without a Content-Type" in bare
    assert [form.action for form in seen.forms] == [
        "/keep",
        "http://bank.example/plain",
        "https://evil.example/steal",
        "/search",
    ]
    for evil in (*EVIL, "/\\/evil.example", " //evil.example"):
        moved = Response(303, headers={"location": evil})
        assert f"redirect off-site: {evil!r}" in examine(moved, "/x", "fr").findings, evil
    home = Response(303, headers={"location": "/home"})
    assert not [f for f in examine(home, "/x", "fr").findings if "redirect" in f]


def test_the_crawl_sends_forms_with_their_defaults_and_plausible_values(
    world: Admin,  # noqa: F811
) -> None:
    """ASVS 5.0 V3.5.1 (the crawl sends what a browser would: the CSRF token, the chosen
    option, the checked box, the first submit button, no unchecked box), V14.2.1 (what it
    typed in a secret field is then looked for in every address)."""
    page = Page()
    page.feed(
        """<form method="post" action="/f"><input type="hidden" name="csrf_token" value="t">
        <select name="s"><option value="a">A</option><option value="b" selected>B</option>
        </select><input type="checkbox" name="yes" value="1" checked>
        <input type="checkbox" name="no" value="1"><input name="code" type="password"
        autocomplete="one-time-code"><input type="email" name="to"><textarea name="t">
        </textarea><button name="go" value="1">Go</button><button name="other" value="2">
        </button></form><input name="outside">"""
    )
    (form,) = page.forms
    assert form.fields == {
        "csrf_token": "t",
        "s": "b",
        "yes": "1",
        "code": "",
        "to": "",
        "t": "",
        "go": "1",
    }
    values = Values(world, PRINCIPAL, lang="en")
    sent = values.fill(form)
    assert sent == {**form.fields, "code": "000000", "to": "crawl@acme.example", "t": "Crawl"}
    assert "000000" in values.typed


TRAP: Final = """<!doctype html><html lang="en"><body>
<a href="/trap/leak">leak</a><a href="/trap#top">here</a>
<form method="post" action="/trap/back"><input type="hidden" name="csrf_token" value="t">
<input type="hidden" name="back" value="/home"><button>Back</button></form>
<form method="get" action="/trap/search"><input name="code" autocomplete="off"></form>
</body></html>"""


def _trap() -> APIRouter:
    """Pages of the app that break the rules the way a regression would: a stack trace, a
    return field followed anywhere, a code asked for in a GET form, a link to a parameter."""
    router = APIRouter()

    @router.get("/trap")
    def trap() -> HTMLResponse:
        return HTMLResponse(TRAP)

    @router.get("/trap/leak")
    def leak() -> HTMLResponse:
        return HTMLResponse("Traceback (most recent call last):", status_code=500)

    @router.post("/trap/back")
    def back(to: str = FormField(alias="back")) -> RedirectResponse:
        return RedirectResponse(to, status_code=303)

    @router.get("/trap/search")
    def search(next: str = "/trap") -> HTMLResponse:
        link = html.escape(next)
        return HTMLResponse(f'<!doctype html><html lang="en"><a href="{link}">back</a></html>')

    return router


def test_the_crawl_finds_what_pages_of_the_app_break(world: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V16.5.1, V3.7.2, V14.2.1 (the crawl itself can fail): pages added to the
    real app (its middleware sets the headers) that show a stack trace, redirect to the
    ``back`` field unchecked, ask for a code in a GET form and link to their ``next``
    parameter are found by the crawl
    (and nothing else: the middleware's headers pass),
    following the link, sending the forms and probing the return field; a link to a place
    in the same page is not asked for again."""
    world.app.include_router(_trap())
    done = crawl(world.browser(), "/trap", "en", Values(world, PRINCIPAL, lang="en"))
    found = {(url, rule.split(":")[0]) for url, rule in done.findings}
    assert ("GET /trap/leak", "status 500") in found
    assert ("GET /trap/leak", "stack trace in the body") in found
    assert ("GET /trap", "GET form to '/trap/search' with secret fields ['code']") in found
    assert (
        "GET /trap",
        "form to '/trap/search' (GET /trap/search) sends ['code'], which the route does not read",
    ) in done.findings
    assert (
        "GET /trap/search?code=000000",
        "secret parameter 'code' in '/trap/search?code=000000'",
    ) in found
    assert any(
        url == "POST /trap/back" and rule == "redirect off-site: '//evil.example'"
        for url, rule in done.findings
    ), done.findings
    sent = [(method, url) for method, url, _, _ in done.pages]
    assert ("POST", "/trap/back") in sent
    assert sent.count(("GET", "/trap")) == 1, sent
    kinds = {re.match(r"[^':]*", rule).group(0).strip() for _, rule in done.findings}  # type: ignore[union-attr]
    assert kinds == {
        "GET form to",
        "form to",  # the search page reads no code
        "status 500",
        "stack trace in the body",
        "page in",  # the trap's leak page has no <html lang>
        "redirect off-site",
        "secret parameter",
        "a secret value in",
        "the probe",  # the search page links to its next parameter
    }, done.findings
    # Starlette quotes the backslash and the tab (%5C, %09): those two stay on the site
    off_site = [rule for url, rule in done.findings if url == "POST /trap/back"]
    assert off_site == [f"redirect off-site: {evil!r}" for evil in EVIL[:2]], off_site


class Contact(BaseModel):
    name: str = ""
    kind: str


def _fields_router() -> APIRouter:
    """Routes reading their form as the app's do: ``Form`` parameters, a dependency's,
    a ``Form()`` model, and one reading its body by hand."""
    router = APIRouter()

    def back(back: str = FormField(default="/home")) -> str:
        return back

    @router.post("/f/{channel}")
    def change(channel: str, address: str = FormField(), to: str = Depends(back)) -> None: ...

    @router.post("/contacts")
    def contact(form: Annotated[Contact, FormField()]) -> None: ...

    @router.post("/by-hand")
    async def by_hand(request: HttpRequest) -> None:
        await request.form()

    return router


FIELDS_PAGE: Final = """<!doctype html><html lang="en"><body>
<form method="post" action="/f/email"><input type="hidden" name="csrf_token" value="t">
<input name="address"><input type="hidden" name="back" value="/x"><button>Go</button></form>
<form method="post" action="/f/sms"><input type="hidden" name="csrf_token" value="t">
<input name="address"><input name="mobile"><button name="go">Go</button>
<button name="other">Other</button></form>
<form method="post" action="/f/sms"><input type="hidden" name="csrf_token" value="t">
<input name="&#34;address&#34;"><input name="a b"><input name="&amp;#34;x"></form>
<form method="post" action="/contacts"><input type="hidden" name="csrf_token" value="t">
<input name="name"><select name="kind"><option value="1">1</option></select></form>
<form method="post" action="/contacts"><input type="hidden" name="csrf_token" value="t">
<input name="name"></form>
<form method="post" action="/by-hand"><input type="hidden" name="csrf_token" value="t">
<input name="anything"></form>
<form method="post" action="/nowhere"><input type="hidden" name="csrf_token" value="t"></form>
<form method="get" action="/contacts"></form>
</body></html>"""


def test_a_form_sends_the_names_its_route_reads() -> None:
    """The rule of ``tests/server/security/form_fields.py`` on a synthetic page and router:
    a form sending what its route reads (its parameters, a dependency's, a model's fields;
    the CSRF token) passes; an extra name (a second submit button's too), a required
    parameter missing, a quoted or escaped name, a route reading its body by hand and a
    form to no route are found, each naming the form's action and the route."""
    page = Response(200, headers={"content-type": "text/html"}, text=FIELDS_PAGE)
    routes = _fields_router().routes
    seen = examine(page, "/page", "en", routes=routes).findings
    headers = set(check_headers(page, tls=True))
    assert [rule for rule in seen if rule not in headers] == [
        "form to '/f/sms' (POST /f/{channel}) sends ['go', 'mobile', 'other'], which the route"
        " does not read",
        "form to '/f/sms' sends the odd name '\"address\"'",
        "form to '/f/sms' sends the odd name '&#34;x'",
        "form to '/f/sms' sends the odd name 'a b'",
        "form to '/f/sms' (POST /f/{channel}) sends ['\"address\"', '&#34;x', 'a b'], which the"
        " route does not read",
        "form to '/f/sms' (POST /f/{channel}) lacks ['address'], which the route requires",
        "form to '/contacts' (POST /contacts) lacks ['kind'], which the route requires",
        "form to '/by-hand' (POST /by-hand): the route reads the request by hand; list its names"
        " in HAND_READ",
        "form to '/by-hand' (POST /by-hand) sends ['anything'], which the route does not read",
        "form to '/nowhere': no route answers POST /nowhere",
        "form to '/contacts': no route answers GET /contacts",
    ]
    alone = [rule for rule in examine(page, "/page", "en").findings if rule not in headers]
    assert alone == [rule for rule in seen if "odd name" in rule]  # no routes: names only


def test_the_routes_read_by_hand_are_listed(world: Admin) -> None:  # noqa: F811
    """Every entry of :data:`HAND_READ` is a route of the app, and every route whose
    endpoint or dependency reads a posted form by hand has an entry (or the forms sent to
    it would be found sending names it does not read)."""
    routes = [r for r in walk(world.app.routes) if isinstance(r, APIRoute)]
    for method, path in HAND_READ:
        assert any(r.path == path and method in (r.methods or ()) for r in routes), path
    reading = {
        ("POST", r.path)
        for r in routes
        if "POST" in (r.methods or ()) and not r.path.startswith("/api/") and by_hand(r, "POST")
    }
    assert reading <= HAND_READ.keys(), reading - HAND_READ.keys()


def test_the_companies_page_is_linked_for_who_may_open_it(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 V8.2.1 (function-level access shown as enforced): the crawl found
    ``/admin/companies`` linked from no page; the home and users' pages now link it for
    every user of the subscription (a collaborator sees the companies assigned to them,
    seed 002), and only those who may change companies (the principal user, an
    administrator) get the form that adds one."""
    for who, may in ((PRINCIPAL, True), (ADMIN, True), (COLLABORATOR, False)):
        browser = admin.login(who)
        users = browser.get("/admin/users")
        assert users.status_code == 200, who
        assert 'href="/admin/companies"' in users.text, who
        assert 'href="/admin/companies"' in browser.get("/home").text, who
        page = browser.get("/admin/companies")
        assert page.status_code == 200, who
        assert ('action="/admin/companies"' in page.text) is may, who


#: the HTML routes that take a ``POST`` which no crawled form targets, and why: none is
#: posted by a form of a page
UNREACHED: Final = {
    "/account/passkey": "the alias of /profile/passkeys/add kept for the old address "
    "(ADR 0041): its page, the same, posts to /profile/passkeys/add",
    "/hooks/sms/reports": "the SMS provider's delivery reports: JSON posted by a server "
    "with a bearer token (CSRF-exempt), never by a browser",
    "/login/recovery": "the library never offers a recovery code at login (it counts for "
    "no category of strong authentication: tests/server/methods/test_recovery.py), so its "
    "page shows no form; the route only refuses",
}


def html_posts(routes: Sequence[BaseRoute]) -> set[str]:
    """The paths of the app's routes that take a ``POST`` outside ``/api/``."""
    return {
        route.path
        for route in walk(routes)
        if isinstance(route, APIRoute)
        and "POST" in (route.methods or ())
        and not route.path.startswith("/api/")
    }


def targeted(crawls: Crawled) -> set[str]:
    """The route paths that a form checked by ``crawls`` posts to."""
    return {path for checked in crawls.values() for method, path in checked if method == "POST"}


def unreached(routes: Sequence[BaseRoute], crawls: Crawled) -> set[str]:
    """The HTML ``POST`` routes that no form checked by ``crawls`` targets, but those of
    :data:`UNREACHED`."""
    return html_posts(routes) - targeted(crawls) - UNREACHED.keys()


#: every crawl of the module (the names :func:`_scan` keeps their forms under)
CRAWLS: Final = frozenset({"user", "anonymous", "logging-in", "second-factor", *ROLES, *ENTRIES})


def test_every_html_post_route_is_the_target_of_a_crawled_form(
    world: Admin,  # noqa: F811
    crawled: Crawled,
) -> None:
    """The rule on field names (form_fields.py) holds only for the forms a crawl sees:
    after every crawl of the module, each HTML route taking a ``POST`` is the target of a
    form some crawl checked, or has an entry of :data:`UNREACHED` saying why no page has
    one (an entry whose route a crawled form targets, or that is no route, fails too)."""
    missing = CRAWLS - crawled.keys()
    if missing:
        pytest.skip(f"run with every crawl of the module (not run: {sorted(missing)})")
    routes = world.app.routes
    assert unreached(routes, crawled) == set(), "POST routes no crawled form targets"
    assert UNREACHED.keys() <= html_posts(routes), "UNREACHED names no such route"
    assert UNREACHED.keys() & targeted(crawled) == set(), "reached now: take it off UNREACHED"


def test_a_new_post_route_that_no_crawled_form_targets_is_caught(world: Admin) -> None:  # noqa: F811
    """:func:`unreached` names an HTML route taking a ``POST`` that no crawled form targets
    (an API route is not its business)."""
    world.app.include_router(_fields_router())
    crawls: Crawled = {"x": {("POST", path) for path in html_posts(world.app.routes)}}
    assert unreached(world.app.routes, crawls) == set()
    crawls["x"] -= {("POST", "/f/{channel}"), ("POST", "/contacts")}
    world.app.add_api_route("/api/v1/new", lambda: None, methods=["POST"])
    assert unreached(world.app.routes, crawls) == {"/f/{channel}", "/contacts"}
