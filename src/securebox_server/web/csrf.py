"""Synchronizer CSRF tokens bound to the browser's state (OWASP CSRF cheat sheet).

A token is ``HMAC-SHA256(server key, "csrf" || binding)`` where the binding is the session
cookie after login, else the login flow cookie, else a random "pre" cookie set on the first
page: a token taken from one browser is worthless in another, and a new binding (login,
rotation) invalidates the old tokens. Forms carry it as the ``csrf_token`` field; JSON
writes are checked by ``Origin`` instead (:mod:`securebox_server.web.routing`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from securebox_server.web.context import server_of

__all__ = ["binding", "check_token", "token_for"]

FIELD = "csrf_token"


def binding(request: Request) -> str:
    """The value the page's tokens are bound to ('' when the browser has none yet)."""
    names = server_of(request).cookies
    chosen = getattr(request.state, "csrf_binding", None)
    if isinstance(chosen, str):
        return chosen
    for name in (names.session, names.flow, names.pre):
        value = request.cookies.get(name)
        if value:
            return value
    return ""


def ensure_binding(request: Request) -> str | None:
    """A fresh "pre" value when the browser has no binding yet (the caller sets the cookie)."""
    if binding(request):
        return None
    value = secrets.token_urlsafe(32)
    request.state.csrf_binding = value
    return value


def token_for(key: bytes, bound: str) -> str:
    return hmac.new(key, b"csrf\x00" + bound.encode(), hashlib.sha256).hexdigest()


def check_token(request: Request, submitted: object) -> bool:
    bound = binding(request)
    if not bound or not isinstance(submitted, str):
        return False
    expected = token_for(server_of(request).csrf_key, bound)
    return hmac.compare_digest(expected.encode(), submitted.encode())
