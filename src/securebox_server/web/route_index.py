"""The server's routes behind one index by first path segment (ADR 0061).

Starlette and FastAPI match a request against the routes one by one, in declaration
order, until one matches fully. With the server's 190 routes that scan was the largest
cost of a request after the endpoint itself: since FastAPI 0.137 an included router
stays a tree resolved on every request, and a request for a route declared late
(``/api/v1/...``) paid 3-5 µs for each route before it, about 0.3 ms; a 404 about 0.9 ms.

:class:`RouteIndex` is one :class:`~starlette.routing.BaseRoute` holding every route of
the app, flat. A route whose path starts with a literal segment (``/login/code``: ``login``)
can only match a path whose first segment is that literal: Starlette compiles the
literal parts of a path with :func:`re.escape` and anchors the pattern at both ends. So
for a request the index tries, **in declaration order**, the routes of the request's
first segment and the routes whose first segment is not a literal (a parameter, a host
route); every other route would have answered ``Match.NONE``. The first full match wins,
else the first partial one (the method refused: 405), exactly as the plain scan decides.

:func:`install` puts the index in place of the app's routes once they are all declared.
The server includes its routers without arguments (each router declares its own prefix,
tags and route class), so a router's routes are the routes FastAPI would resolve; the
tests check that the index answers every route as the plain scan does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

__all__ = ["RouteIndex", "first_segment", "flatten", "install"]

#: The scope key carrying the route chosen by :meth:`RouteIndex.matches` to its ``handle``.
CHOSEN: Final = "securebox.route"


def first_segment(path: str) -> str | None:
    """The literal first segment of a route's path (``/login/code`` → ``login``), or
    ``None`` when the route could match paths of any first segment."""
    if not path.startswith("/"):
        return None
    head = path[1:].split("/", 1)[0]
    return None if "{" in head else head


def _route_path(scope: Scope) -> str:
    """The path the routes match against: the request's path below its ``root_path``
    (what Starlette's routes compute for themselves)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def _head_of(route: BaseRoute) -> str | None:
    if isinstance(route, Route | Mount | WebSocketRoute):
        return first_segment(route.path)
    return None  # a host route, or a route of a kind the index does not know: always tried


class RouteIndex(BaseRoute):
    """Every route of an app, matched through an index by first path segment."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes: tuple[BaseRoute, ...] = tuple(routes)
        heads = [_head_of(route) for route in self.routes]
        wild = tuple(r for r, h in zip(self.routes, heads, strict=True) if h is None)
        by_head: dict[str, tuple[BaseRoute, ...]] = {}
        for head in {h for h in heads if h is not None}:
            by_head[head] = tuple(
                r for r, h in zip(self.routes, heads, strict=True) if h in (head, None)
            )
        self._wild = wild
        self._by_head: Mapping[str, tuple[BaseRoute, ...]] = by_head

    def candidates(self, scope: Scope) -> tuple[BaseRoute, ...]:
        """The routes that can match ``scope``, in declaration order."""
        path = _route_path(scope)
        head = first_segment(path) if path.startswith("/") else None
        if head is None:
            # a path that no literal route can match (no leading slash), or a first
            # segment holding a brace (no literal route's head holds one)
            return self._wild
        return self._by_head.get(head, self._wild)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: dict[str, Any] | None = None
        for route in self.candidates(scope):
            match, child = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child, CHOSEN: route}
            if match is Match.PARTIAL and partial is None:
                partial = {**child, CHOSEN: route}
        if partial is not None:
            return Match.PARTIAL, partial
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(CHOSEN)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    def __repr__(self) -> str:
        return f"RouteIndex({len(self.routes)} routes, {len(self._by_head)} first segments)"


def flatten(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes of ``routes``, through included routers and indexes, in order."""
    for route in routes:
        if isinstance(route, RouteIndex):
            yield from route.routes
            continue
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.137's inclusion
        if inner is not None:
            yield from flatten(inner.routes)
        else:
            yield route


def install(app: FastAPI) -> RouteIndex:
    """Replace the app's routes by one :class:`RouteIndex` of them (call it once every
    route is declared; a route declared later is matched after the index)."""
    index = RouteIndex(list(flatten(app.router.routes)))
    app.router.routes[:] = [index]
    return index
