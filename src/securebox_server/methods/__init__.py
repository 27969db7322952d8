"""The login method registry: one module (+ one template) per way to log in.

Recipe for a new method (a typed code such as TOTP, :mod:`securebox_server.methods.totp`,
is one call of :func:`~securebox_server.methods.typed_code.typed_code_method`; the recovery
code in :mod:`securebox_server.methods.recovery` is the full example):

1. ``securebox_server/methods/<name>.py`` defines ``router = APIRouter(route_class=
   SecureRoute)`` with its page (``GET /login/<name>``) and its submission
   (``POST /login/<name>``), and ``METHOD = LoginMethod(...)`` naming the library methods
   it answers (``LoginFlow.offered`` values such as ``"totp"``), an English label (a
   msgid of the catalogs) and its page's path.
2. The POST handler: ``handle, flow = current_flow(request)``; ``hit_limits(request,
   "login.<name>", flow.principal.key)``; ``page = box.answer_login(handle, <Answer>)``;
   ``return next_step(request, page) or render(<its template>, rejected=True)``. CSRF is
   checked before the handler runs (:class:`~securebox_server.web.routing.SecureRoute`).
3. ``templates/methods/<name>.html`` extends ``base.html``; its form posts
   ``csrf_token`` and labelled fields, and shows ``rejected`` through ``error_summary``.
4. Add the module's name to :data:`MODULES` and its strings to both ``.po`` catalogs.

The choice page and the strong-authentication prompt list ``flow.offered`` methods that
have a registered page; the others are not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Final

from fastapi import APIRouter

__all__ = ["MODULES", "LoginMethod", "page_of", "registered"]

MODULES: Final = (
    "securebox_server.methods.code",
    "securebox_server.methods.totp",
    "securebox_server.methods.cap",
    "securebox_server.methods.sms",
    "securebox_server.methods.email",
    "securebox_server.methods.recovery",
    "securebox_server.methods.passkey",
    "securebox_server.methods.certificate",
)


@dataclass(frozen=True, slots=True)
class LoginMethod:
    #: The library's method names this page answers (values of ``LoginFlow.offered``).
    names: tuple[str, ...]
    #: The English label (a msgid, translated in the templates).
    label: str
    #: The page's path.
    path: str
    router: APIRouter


@cache
def registered() -> tuple[LoginMethod, ...]:
    return tuple(import_module(name).METHOD for name in MODULES)


def page_of(method: str) -> LoginMethod | None:
    """The registered page answering ``method``, if any."""
    return next((m for m in registered() if method in m.names), None)


def offered_pages(offered: tuple[str, ...]) -> list[LoginMethod]:
    """The pages for ``offered`` (each once, in the flow's order)."""
    pages: list[LoginMethod] = []
    for name in offered:
        found = page_of(name)
        if found is not None and found not in pages:
            pages.append(found)
    return pages
