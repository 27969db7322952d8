"""Every request of a customer checks the securebox session behind the Django session.

securebox decides whether the session is still live (idle timeout, absolute lifetime, a
logout everywhere) and records the activity; when it is not, the Django session ends too.
A customer's Django session without a live securebox session, or whose principal is not the
user's, is logged out: the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse
from securebox_auth import SecureboxError

from .auth import SESSION_KEY, Connected
from .securebox import portal_box

BACKEND = "bank.backends.SecureboxBackend"


class SecureboxSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.securebox = self._connected(request)  # type: ignore[attr-defined]
        return self.get_response(request)

    def _connected(self, request: HttpRequest) -> Connected | None:
        session_id = request.session.get(SESSION_KEY)
        customer = request.session.get(BACKEND_SESSION_KEY) == BACKEND
        if session_id is None and not customer:
            return None  # an anonymous visitor, or staff in the admin
        if not isinstance(session_id, str) or not customer:
            logout(request)
            return None
        try:
            session = portal_box().touch(session_id)
        except SecureboxError:  # timed out, ended, or unknown: log in again
            logout(request)
            return None
        if request.user.get_username() != session.principal.key:
            logout(request)
            return None
        return Connected(session_id, session)
