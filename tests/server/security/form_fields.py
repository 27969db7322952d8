"""The names a form sends are the names its route reads: a rule of the crawl
(``tests/server/security/test_crawl.py``).

A browser sends a form's fields under their ``name``; FastAPI reads a body under the
aliases of the ``Form(...)`` parameters of the endpoint and of its dependencies (a
``Form()`` model under its fields' names), and a query under those of its ``Query``
parameters. A field sent under another name is dropped without a word (an optional
parameter keeps its default): the contact change forms once posted ``"address"``, quotes
included, to routes reading ``address``, and no address could be changed from a real page,
while every server test posted a body of its own making. For every form of a page,
:func:`field_problems` finds the route that answers it (method and path, as Starlette
does) and reports:

* no route answering the form's method and path;
* a field the route does not read, but the CSRF token of a ``POST`` (read by
  :class:`~securebox_server.web.routing.SecureRoute` before the endpoint) and the names
  of :data:`IGNORED`;
* a required parameter (no default) the form does not send;
* a route that reads its body by hand (``await request.form()``, or
  ``request.query_params`` for a ``GET``) in its endpoint or a dependency, without an
  entry in :data:`HAND_READ` (FastAPI cannot tell what it reads). A helper that the
  endpoint calls and that reads the request itself is not seen: such a route's fields are
  then reported as not read, which is a finding too, never a silent pass.

The crawl's per-form rules also report a name no form should send (:func:`odd_names`:
a quote, a space, an HTML character reference such as ``&#34;``), which names the
contact bug directly. Only the forms of the pages a crawl reaches are checked: the crawl
also requires every HTML route taking a ``POST`` to be the target of a checked form, or to
say in its ``UNREACHED`` why no page has one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, Final

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from securebox_server.recovery.questions import QUESTIONS
from securebox_server.web import csrf
from securebox_server.web.routing import walk

#: what a field's name may be (what the app's forms and routes use)
PLAIN_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
#: an endpoint or dependency reading the body (an awaited ``request.form()``), or the
#: query, by hand
BY_HAND: Final = {
    "POST": re.compile(r"\bawait\s+[\w.]+\.form\("),
    "GET": re.compile(r"\.query_params\b"),
}
_ANSWERS: Final = frozenset(f"answer_{question}" for question in QUESTIONS)
#: the names read by hand by the routes that read their body or query themselves, from
#: their code: (method, route path) -> names (none is required: each is read with a default)
HAND_READ: Final[Mapping[tuple[str, str], frozenset[str]]] = {
    # box/pages.py home_values (called by account/home.py): the company switcher
    ("GET", "/home"): frozenset({"company"}),
    # box/pages.py documents: _FIELDS, and "after" (the next page's cursor, a link's)
    ("GET", "/documents"): frozenset(
        {"from", "to", "theme", "label", "sender", "read", "company", "after"}
    ),
    # recovery/question_pages.py questions_submit: _field(form, "siren"), "name", _answers
    ("POST", "/recovery/questions"): frozenset({"siren", "name", *_ANSWERS}),
    # recovery/question_pages.py setup_submit: "code", "name", _answers
    ("POST", "/recovery/questions/setup"): frozenset({"code", "name", *_ANSWERS}),
    # admin/third_parties.py declare: text(...) and form.getlist("companies")
    ("POST", "/admin/third-parties"): frozenset(
        {"siren", "name", "email", "companies", "client_id", "user_number", "mobile"}
    ),
}
#: names a form sends that its route does not read, on purpose: (method, route path) ->
#: {name: why}
IGNORED: Final[Mapping[tuple[str, str], Mapping[str, str]]] = {
    # templates/macros.html certificate_form, filled by static/js/certificate.js
    ("POST", "/operations/{order_id}/proof/{method}"): {
        "certificate": "the certificate the signing agent read from the token: the step-up "
        "checks the signature against the enrolled certificate only (the login reads the "
        "same field and drops it)",
    },
}


def _params(dependant: Dependant, method: str) -> Iterator[Any]:
    """The body's form fields (a query's for ``GET``) of ``dependant`` and its own
    dependencies, recursively (FastAPI's ``ModelField``)."""
    own = dependant.query_params if method == "GET" else dependant.body_params
    yield from (p for p in own if method == "GET" or isinstance(p.field_info, params.Form))
    for inner in dependant.dependencies:
        yield from _params(inner, method)


def _calls(dependant: Dependant) -> Iterator[object]:
    if dependant.call is not None:
        yield dependant.call
    for inner in dependant.dependencies:
        yield from _calls(inner)


def _names(param: Any) -> Iterator[tuple[str, bool]]:
    """``(name, required)`` of what a parameter reads: a model's fields, else its alias."""
    model = param.field_info.annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, info in model.model_fields.items():
            yield info.alias or name, info.is_required()
    else:
        yield param.alias, param.field_info.is_required()


def reads(route: APIRoute, method: str) -> tuple[frozenset[str], frozenset[str]]:
    """The names ``route`` reads from a form sent with ``method``, and the required ones."""
    found = [pair for param in _params(route.dependant, method) for pair in _names(param)]
    names = {name for name, _ in found} | HAND_READ.get((method, route.path), frozenset())
    return frozenset(names), frozenset(name for name, required in found if required)


def by_hand(route: APIRoute, method: str) -> bool:
    """Whether the endpoint or a dependency of ``route`` reads the request by hand."""
    pattern = BY_HAND.get(method)
    if pattern is None:
        return False
    for call in _calls(route.dependant):
        try:
            source = inspect.getsource(call)  # type: ignore[arg-type]
        except (OSError, TypeError):
            continue  # a builtin or a class without source: nothing read by hand
        if pattern.search(source):
            return True
    return False


def route_for(routes: Iterable[BaseRoute], method: str, path: str) -> APIRoute | None:
    """The route that answers ``method path``: the first matching both, as Starlette."""
    for route in walk(routes):
        if not isinstance(route, APIRoute) or method not in (route.methods or ()):
            continue
        if route.path_regex.match(path):
            return route
    return None


def odd_names(names: Iterable[str]) -> list[str]:
    """The names no form should send: a quote, a space, an HTML character reference
    (``&#34;``)... (the crawl's per-form rules report them)."""
    return sorted({name for name in names if not PLAIN_NAME.fullmatch(name)})


def field_problems(
    routes: Iterable[BaseRoute], method: str, action: str, path: str, names: Collection[str]
) -> list[str]:
    """What is wrong between a form sending ``names`` with ``method`` to ``path`` (its
    ``action`` as written) and the route answering it."""
    method = method.upper()
    route = route_for(routes, method, path)
    if route is None:
        return [f"form to {action!r}: no route answers {method} {path}"]
    wrong = []
    said = f"form to {action!r} ({method} {route.path})"
    key = (method, route.path)
    if key not in HAND_READ and by_hand(route, method):
        wrong.append(f"{said}: the route reads the request by hand; list its names in HAND_READ")
    known, required = reads(route, method)
    ignored = set(IGNORED.get(key, {})) | ({csrf.FIELD} if method != "GET" else set())
    extra = set(names) - known - ignored
    if extra:
        wrong.append(f"{said} sends {sorted(extra)}, which the route does not read")
    missing = required - set(names)
    if missing:
        wrong.append(f"{said} lacks {sorted(missing)}, which the route requires")
    return wrong
