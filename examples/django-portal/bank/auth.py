"""The link between a Django session and a securebox session.

A customer's Django session holds the identifier of the securebox session that the login
flow opened (``SESSION_KEY``). :class:`~bank.middleware.SecureboxSessionMiddleware` checks
it on every request and sets ``request.securebox`` (a :class:`Connected`, or ``None``);
views read it with :func:`connected` or require it with :func:`customer_required`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from securebox_auth import Principal, SecureboxError, Session

from .securebox import portal_box

__all__ = [
    "SESSION_KEY",
    "Connected",
    "connected",
    "customer_required",
    "renew",
    "sign_in",
    "sign_out",
]

#: Where the Django session keeps the securebox session identifier.
SESSION_KEY = "securebox_session"

View = TypeVar("View", bound=Callable[..., HttpResponse])


@dataclass(frozen=True, slots=True)
class Connected:
    """The customer's live securebox session, as checked at the start of this request."""

    session_id: str
    session: Session

    @property
    def principal(self) -> Principal:
        return self.session.principal


def connected(request: HttpRequest) -> Connected | None:
    found = getattr(request, "securebox", None)
    return found if isinstance(found, Connected) else None


def sign_in(request: HttpRequest, session_id: str) -> bool:
    """Log the customer in on the session securebox's login flow opened; ``False`` (and
    the securebox session ended) when the portal has no active user for its principal."""
    user = authenticate(request, securebox_session=session_id)
    if user is None:
        portal_box().end(session_id)
        return False
    login(request, user)  # a new Django session key (session fixation)
    request.session[SESSION_KEY] = session_id
    return True


def renew(request: HttpRequest, session_id: str) -> None:
    """securebox gave the session a new identifier (its authentication level changed):
    keep it, and give the Django session a new key too."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = session_id


def sign_out(request: HttpRequest) -> None:
    session_id = request.session.get(SESSION_KEY)
    if isinstance(session_id, str):
        with contextlib.suppress(SecureboxError):  # already over: nothing left to end
            portal_box().end(session_id)
    logout(request)


def customer_required(view: View) -> View:
    """Only for a customer with a live securebox session (else to the login page)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if connected(request) is None:
            return redirect_to_login(request)
        return view(request, *args, **kwargs)

    return cast("View", wrapped)


def redirect_to_login(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth.views import redirect_to_login as to_login  # noqa: PLC0415

    return to_login(request.get_full_path()) if request.method == "GET" else redirect("bank:login")
