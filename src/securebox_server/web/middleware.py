"""One HTTP middleware: request id, security headers, structured log line, metrics, and
the last net under every route (an unexpected exception is logged and answered 503; a
full disk 507: :func:`~securebox_server.web.errors.unexpected`).

Headers (OWASP Secure Headers): a CSP without ``unsafe-inline`` (scripts and styles from
the server's own ``/static`` only), ``frame-ancestors 'none'``, ``nosniff``,
``Referrer-Policy: same-origin``, HSTS when the public URL is https, and
``Cache-Control: no-store`` on every page but the static files (authenticated pages
included: nothing personal is kept by a browser or a proxy).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Final

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from securebox_server.web import metrics
from securebox_server.web.errors import DATABASE_UNAVAILABLE, database_unavailable, unexpected

__all__ = ["CSP", "SecureboxMiddleware", "content_security_policy", "install"]

log = logging.getLogger("securebox_server.access")

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(agent_origin: str | None = None) -> str:
    """:data:`CSP`, with ``connect-src`` allowing the local signing agent's origin (the
    certificate page's script calls it; settings ``agent_url``)."""
    if agent_origin is None:
        return CSP
    return f"{CSP}; connect-src 'self' {agent_origin}"


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _headers(
    h: MutableHeaders, *, tls: bool, static: bool, request_id: str, csp: str = CSP
) -> None:
    # A route may only add directives to the policy (the box's PDF responses add
    # ``sandbox``): the first occurrence of a directive wins, and ours come first.
    own = h.get("content-security-policy")
    h["Content-Security-Policy"] = csp if own is None else f"{csp}; {own}"
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    h["X-Request-Id"] = request_id
    if tls:
        h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if not static:
        h["Cache-Control"] = "no-store"


class SecureboxMiddleware:
    """The middleware of the module, as a plain ASGI middleware: it sees the response's
    start (status, headers) on its way out and adds to it, where Starlette's
    ``BaseHTTPMiddleware`` (``@app.middleware("http")``) ran the route in a task of its
    own and copied the response through a memory stream (about a third of a bare
    request's CPU, measured: ADR 0055)."""

    def __init__(self, app: ASGIApp, *, tls: bool, csp: str) -> None:
        self.app = app
        self.tls = tls
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
        request.state.request_id = request_id
        started = time.perf_counter()
        answered = False

        async def send_headed(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                self._answered(request, message, request_id, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_headed)
        except Exception as error:
            if answered:  # the body failed half-way: nothing can be answered any more
                raise
            if isinstance(error, DATABASE_UNAVAILABLE):  # outside a route (a dependency's exit)
                response = database_unavailable(request, error)
            else:  # the last net: logged with its trace, never shown
                response = unexpected(request, error)
            await response(scope, receive, send_headed)

    def _answered(self, request: Request, start: Message, request_id: str, elapsed: float) -> None:
        """The response starts: its metrics, its headers, its log line."""
        status = int(start["status"])
        route = request.scope.get("route")
        template = getattr(route, "path", "(unmatched)")
        metrics.observe(request.method, template, status, elapsed)
        _headers(
            MutableHeaders(scope=start),
            tls=self.tls,
            static=request.url.path.startswith("/static/"),
            request_id=request_id,
            csp=self.csp,
        )
        if not log.isEnabledFor(logging.INFO):
            return
        # No query string, no cookie, no form value: nothing secret reaches the log.
        record = {
            "request_id": request_id,
            "method": request.method,
            "route": template,
            "status": status,
            "ms": round(elapsed * 1000, 1),
        }
        # the fields for the server's JSON lines (securebox_server.logs); a short message
        # for any other handler a portal configures
        log.info("%s %s %d", request.method, template, status, extra={"fields": record})


def install(app: FastAPI, *, tls: bool, agent_origin: str | None = None) -> None:
    app.add_middleware(SecureboxMiddleware, tls=tls, csp=content_security_policy(agent_origin))
