"""Security declared per route, on by default (the Warehouse pattern).

Every router of the server is an ``APIRouter(route_class=SecureRoute)``. For a request
whose method changes state (POST, PUT, PATCH, DELETE):

* an HTML route requires the form field ``csrf_token`` bound to the browser
  (:mod:`securebox_server.web.csrf`);
* a route under ``/api/`` requires an ``Origin`` header equal to the public URL's origin
  (JSON bodies cannot be sent cross-origin without CORS, which the server never grants;
  the Origin check also refuses a form posted to the API).

A route opts out only explicitly, with :func:`csrf_exempt` on its endpoint (none does
today). Authentication is a dependency: ``web: WebSession = Depends(require_login)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import BaseRoute

from securebox_auth.errors import NotAuthenticated, NotPermitted
from securebox_auth.policy.session import Session
from securebox_server.web import csrf
from securebox_server.web.context import server_of
from securebox_server.web.local_reads import READ_METHODS, loop_first, serving_locally
from securebox_server.web.route_index import flatten

__all__ = [
    "CsrfRefused",
    "LoggedIn",
    "SecureRoute",
    "WebSession",
    "csrf_exempt",
    "logged_in",
    "require_login",
    "walk",
]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
F = TypeVar("F", bound=Callable[..., Any])


class CsrfRefused(NotPermitted):
    """A state-changing request without a valid CSRF token (or from another origin)."""

    code: ClassVar[str] = "csrf"
    status_hint: ClassVar[int] = 403


def csrf_exempt(endpoint: F) -> F:
    """Opt a route out of the CSRF check (say why next to it)."""
    endpoint.__securebox_csrf_exempt__ = True  # type: ignore[attr-defined]
    return endpoint


async def check_request(request: Request, endpoint: Callable[..., Any]) -> None:
    if request.method not in UNSAFE or getattr(endpoint, "__securebox_csrf_exempt__", False):
        return
    if request.url.path.startswith("/api/"):
        # Without a cookie the request carries no ambient authority (a bearer token is
        # sent deliberately by the client's code), so there is nothing to forge: API
        # clients without cookies need no Origin (docs/api.md).
        if "cookie" not in request.headers:
            return
        if request.headers.get("origin") != server_of(request).settings.origin:
            raise CsrfRefused("cross-origin write refused")
        return
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise CsrfRefused("a form is expected")
    form = await request.form()  # cached on the request: the endpoint reads it again
    if not csrf.check_token(request, form.get(csrf.FIELD)):
        raise CsrfRefused("the form expired: load the page again")


class SecureRoute(APIRoute):
    """An API route that checks CSRF (or Origin) before its endpoint runs. A synchronous
    endpoint runs on the event loop for a read on SQLite (:mod:`.local_reads`), else in
    the thread pool."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not (inspect.iscoroutinefunction(endpoint) or inspect.isgeneratorfunction(endpoint)):
            endpoint = loop_first(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        endpoint = self.endpoint

        async def checked(request: Request) -> Response:
            await check_request(request, endpoint)
            local = request.method in READ_METHODS and server_of(request).local_reads
            with serving_locally(local):
                return await handler(request)

        return checked


@dataclass(frozen=True, slots=True)
class WebSession:
    """The logged-in user's library session (``session_id`` is the cookie's value)."""

    session_id: str
    session: Session


def logged_in(request: Request) -> WebSession:
    """The live session (idle timeout restarted), else :class:`NotAuthenticated` (the
    error pages send the browser to the login)."""
    server = server_of(request)
    session_id = request.cookies.get(server.cookies.session)
    if not session_id:
        raise NotAuthenticated("log in first")
    session = server.box.touch(session_id)
    return WebSession(session_id, session)


#: Dependency of an authenticated route: :func:`logged_in`, on the loop for a read on
#: SQLite (:mod:`.local_reads`).
require_login = loop_first(logged_in)


def walk(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route of an app, through included routers and the route index (FastAPI >=
    0.137 keeps an included router as one entry of ``app.routes``; the server's routes
    are behind one :class:`~securebox_server.web.route_index.RouteIndex`)."""
    return flatten(routes)


#: The parameter type of an authenticated route: ``def page(web: LoggedIn) -> Response``.
LoggedIn = Annotated[WebSession, Depends(require_login)]
