"""``ApiCaller``: the FastAPI dependency of the box's machine APIs (senders, receivers).

``Authorization: Bearer <access token>`` from :mod:`.endpoint` (never a user's session:
those are :data:`securebox_server.api.common.Authenticated`). Each call checks, on the
stored state: the token exists and has not expired, its client is not revoked, a token
bound to a certificate (RFC 8705 ``cnf.x5t#S256``) comes with that certificate as the
trusted proxy forwards it, and the route's scope::

    @router.post("/documents")
    def publish(caller: Annotated[Caller, Depends(require_scope("documents:publish"))]): ...

Failures are RFC 9457 problem documents with RFC 6750's ``WWW-Authenticate``: 401
``invalid_token`` (no ``error`` when no token was sent at all, RFC 6750 section 3.1), 403
``insufficient_scope`` with the scope needed. A source whose refused tokens exceed
``api.bearer_failure.source`` gets 429 with ``Retry-After`` for its refused tokens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, ClassVar, Final

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from securebox_auth.errors import ConfigurationError
from securebox_server.api.common import api_problem
from securebox_server.certificates.forwarded import Source
from securebox_server.clients.keys import thumbprint
from securebox_server.clients.model import Caller, InsufficientScope, InvalidToken
from securebox_server.clients.service import ApiClients
from securebox_server.login.flow import hit_limits
from securebox_server.methods.certificate import presented
from securebox_server.web.context import server_of
from securebox_server.web.local_reads import loop_first

__all__ = ["ApiCaller", "NoToken", "api_caller", "install", "presented_thumbprint", "require_scope"]

REALM = "securebox-api"
#: Refused tokens per source (``api.bearer_failure.source``): counted after the refusal, so
#: a valid token is never refused by it (a sender sharing the address keeps working).
FAILURE_LIMIT: Final = "api.bearer_failure"


class NoToken(InvalidToken):
    """No bearer token at all (RFC 6750 section 3.1: the challenge carries no error)."""

    code: ClassVar[str] = "not_authenticated"


def clients_of(request: Request) -> ApiClients:
    found = server_of(request).clients
    if found is None:  # pragma: no cover - only without a SQL store
        raise ConfigurationError("API clients need the SQL store")
    return found


def presented_thumbprint(request: Request) -> str | None:
    """``x5t#S256`` of the client certificate a trusted proxy forwarded, if any."""
    forwarded = presented(request)
    if forwarded.source is not Source.PROXY or forwarded.certificate is None:
        return None
    return thumbprint(forwarded.certificate)


def caller_of(request: Request) -> Caller:
    """The caller of this request (any scope)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        raise NoToken("an access token is required")
    try:
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken("a Bearer access token is expected")
        caller = clients_of(request).authenticate(value.strip(), presented_thumbprint(request))
    except InvalidToken:
        hit_limits(request, FAILURE_LIMIT)  # 429 with Retry-After once the source's are spent
        raise
    request.state.api_caller = caller
    return caller


#: Dependency: :func:`caller_of`, on the loop for a read on SQLite (ADR 0071).
api_caller = loop_first(caller_of)

ApiCaller = Annotated[Caller, Depends(api_caller)]


def require_scope(scope: str) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the caller, if its token carries ``scope`` (else 403). A check in
    memory: on the loop, never a thread hop of its own."""

    async def dependency(caller: ApiCaller) -> Caller:
        return ApiClients.require(caller, scope)

    dependency.__name__ = f"require_scope_{scope.replace(':', '_').replace('-', '_')}"
    return dependency


def _challenge(error: str | None, description: str | None = None, scope: str = "") -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def _invalid(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NoToken):
        headers = {"WWW-Authenticate": _challenge(None)}
        return api_problem(
            request, 401, "not_authenticated", headers, title="An access token is required."
        )
    headers = {"WWW-Authenticate": _challenge("invalid_token", "the access token is not valid")}
    return api_problem(
        request,
        401,
        "invalid_token",
        headers,
        title="The access token is missing, expired, revoked or not valid here.",
    )


def _scope(request: Request, exc: Exception) -> Response:
    needed = str(exc).rsplit(" ", 1)[-1]
    headers = {"WWW-Authenticate": _challenge("insufficient_scope", None, needed)}
    return api_problem(
        request,
        403,
        "insufficient_scope",
        headers,
        scope=needed,
        title="The access token does not carry the scope this call needs.",
    )


def install(app: FastAPI) -> None:
    """The error answers of :func:`api_caller` (after ``web.errors.install``)."""
    app.add_exception_handler(InvalidToken, _invalid)
    app.add_exception_handler(InsufficientScope, _scope)
