"""The route index decides as the plain scan of Starlette and FastAPI decides: on made-up
route tables (hypothesis) and on the server's own routes, through the whole app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette._utils import get_route_path  # the reference, private to Starlette
from starlette.routing import BaseRoute, Host, Match, Mount, NoMatchFound, Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from securebox_server.web import route_index
from securebox_server.web.route_index import CHOSEN, RouteIndex, first_segment
from securebox_server.web.routing import walk
from tests.server.conftest import AppMaker

SEGMENTS = ("", "a", "aa", "b", "api", "a.b", "x y", "é")
METHODS = ("GET", "POST", "DELETE")


async def _endpoint(scope: Scope, receive: Receive, send: Send) -> None:  # never called
    raise AssertionError


def _scan(routes: Sequence[BaseRoute], scope: Scope) -> tuple[Match, BaseRoute | None]:
    """What Starlette's ``Router`` decides: the first full match, else the first partial."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return match, route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _decide(index: RouteIndex, scope: Scope) -> tuple[Match, BaseRoute | None]:
    match, child = index.matches(scope)
    return match, child.get(CHOSEN)


def _scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "headers": [(b"host", b"example.org")],
        "query_string": b"",
    }


segment = st.sampled_from(SEGMENTS) | st.sampled_from(("{p}", "{p:path}", "f{p}", "{p:int}"))


@st.composite
def route(draw: st.DrawFn) -> BaseRoute:
    parts = draw(st.lists(segment, min_size=1, max_size=3))
    # one name per parameter, the path converter only last
    names = iter(f"p{i}" for i in range(10))
    parts = [p.replace("{p", "{" + next(names)) if "{" in p else p for p in parts]
    parts = [p.replace(":path", "") for p in parts[:-1]] + parts[-1:]
    path = "/" + "/".join(parts)
    kind = draw(st.sampled_from(("route", "route", "route", "mount", "host")))
    if kind == "mount":
        return Mount(path.rstrip("/") or "/m", app=_endpoint)
    if kind == "host":
        return Host("example.org", app=_endpoint)
    methods = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=2, unique=True))
    return Route(path, _endpoint, methods=methods)


request_path = st.lists(st.sampled_from((*SEGMENTS, "1", "{", "a{")), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
) | st.sampled_from(("", "a", "//", "/a/", "/1/2/3/4/5"))


@settings(max_examples=300, deadline=None)
@given(
    routes=st.lists(route(), max_size=12),
    method=st.sampled_from((*METHODS, "PATCH")),
    path=request_path,
    root_path=st.sampled_from(("", "/root", "/a")),
)
def test_the_index_decides_as_the_scan(
    routes: list[BaseRoute], method: str, path: str, root_path: str
) -> None:
    index = RouteIndex(routes)
    scope = _scope(method, path, root_path)
    assert _decide(index, scope) == _scan(routes, scope)


def test_first_segment() -> None:
    assert first_segment("/login/code") == "login"
    assert first_segment("/") == ""
    assert first_segment("/static") == "static"
    assert first_segment("/{id}/x") is None
    assert first_segment("/file{ext}") is None
    assert first_segment("") is None
    assert first_segment("relative") is None


def test_url_path_for_through_the_index() -> None:
    index = RouteIndex([Route("/a/{x}", _endpoint, name="a"), Mount("/m", app=_endpoint, name="m")])
    assert index.url_path_for("a", x="1") == "/a/1"
    assert index.url_path_for("m", path="/f") == "/m/f"
    with pytest.raises(NoMatchFound):
        index.url_path_for("b")


def _samples(route: BaseRoute) -> list[str]:
    """Request paths that ``route`` matches (its parameters filled in)."""
    path: str = getattr(route, "path", "")
    filled = (
        path.replace("{path:path}", "x/y")
        .replace(":path}", "}")
        .replace(":int}", "}")
        .replace(":uuid}", "}")
    )
    while "{" in filled:
        start = filled.index("{")
        filled = filled[:start] + "7" + filled[filled.index("}", start) + 1 :]
    if isinstance(route, Mount):
        filled += "/app.css"
    return [filled, filled.rstrip("/") + "/" if not filled.endswith("/") else filled[:-1]]


class Probe:
    """The whole app, telling the status and the route template of each request."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.scope: dict[str, Any] = {}
        self.http = TestClient(self, base_url="http://testserver", raise_server_exceptions=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        self.scope = dict(scope)

    def answer(self, method: str, path: str) -> tuple[int, str | None]:
        self.scope = {}
        status = self.http.request(method, path, follow_redirects=False).status_code
        return status, getattr(self.scope.get("route"), "path", None)


def test_the_server_answers_every_route_as_without_the_index(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each route's paths (and with the trailing slash toggled, and with a method the route
    does not declare) reach the same route with the same status with and without the index."""
    indexed, _, _ = make_app()
    with monkeypatch.context() as patch:
        patch.setattr(route_index, "install", lambda app: None)
        plain, _, _ = make_app()
    plain_app: FastAPI = plain.app  # type: ignore[assignment]
    indexed_app: FastAPI = indexed.app  # type: ignore[assignment]
    assert len(indexed_app.router.routes) == 1
    assert isinstance(indexed_app.router.routes[0], RouteIndex)
    assert len(plain_app.router.routes) > 1
    routes = list(walk(indexed_app.routes))
    assert [getattr(r, "path", None) for r in routes] == [
        getattr(r, "path", None) for r in walk(plain_app.routes)
    ]
    with_index, without = Probe(indexed_app), Probe(plain_app)
    checked = 0
    for one in routes:
        methods = sorted(getattr(one, "methods", None) or {"GET"})
        for path in _samples(one):
            for method in (*methods, "PATCH"):
                if method == "POST":
                    continue  # a POST changes state: its route is checked by PATCH (405)
                expected = without.answer(method, path)
                assert with_index.answer(method, path) == expected, (method, path)
                checked += 1
    for path in ("/nope", "/api/v1/nope", "/", "//", "/static/../app.py", "/login/"):
        assert with_index.answer("GET", path) == without.answer("GET", path), path
    assert checked > 300


def test_the_openapi_document_is_unchanged(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed, _, _ = make_app()
    with monkeypatch.context() as patch:
        patch.setattr(route_index, "install", lambda app: None)
        plain, _, _ = make_app()
    document = indexed.get("/api/v1/openapi.json").json()
    assert document == plain.get("/api/v1/openapi.json").json()
    assert len(document["paths"]) > 30


@given(
    path=st.text(alphabet="/ab", max_size=6),
    root_path=st.sampled_from(("", "/", "/a", "/a/", "/ab")),
)
def test_the_path_routes_match_is_starlettes(path: str, root_path: str) -> None:
    """The index reads the path below ``root_path`` as Starlette's routes read it."""
    scope = {"path": root_path + path, "root_path": root_path}
    assert route_index._route_path(scope) == get_route_path(scope)
