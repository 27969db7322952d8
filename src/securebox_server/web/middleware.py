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

import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI, Request
from starlette.responses import Response

from securebox_server.web import metrics
from securebox_server.web.errors import DATABASE_UNAVAILABLE, database_unavailable, unexpected

__all__ = ["CSP", "content_security_policy", "install"]

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
    response: Response, *, tls: bool, static: bool, request_id: str, csp: str = CSP
) -> None:
    h = response.headers
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


def install(app: FastAPI, *, tls: bool, agent_origin: str | None = None) -> None:
    csp = content_security_policy(agent_origin)

    @app.middleware("http")
    async def securebox_middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
        request.state.request_id = request_id
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except DATABASE_UNAVAILABLE as exc:  # raised outside a route (a dependency's exit)
            response = database_unavailable(request, exc)
        except Exception as error:  # the last net: logged with its trace, never shown
            response = unexpected(request, error)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "(unmatched)")
        metrics.observe(request.method, template, response.status_code, elapsed)
        _headers(
            response,
            tls=tls,
            static=request.url.path.startswith("/static/"),
            request_id=request_id,
            csp=csp,
        )
        # No query string, no cookie, no form value: nothing secret reaches the log.
        record = {
            "request_id": request_id,
            "method": request.method,
            "route": template,
            "status": response.status_code,
            "ms": round(elapsed * 1000, 1),
        }
        log.info(json.dumps(record, separators=(",", ":")))
        return response
