"""The user's choices kept in cookies: the language and the seed's "version accessible"
(larger text, stronger contrast, no decoration)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from securebox_server import i18n
from securebox_server.web.context import server_of
from securebox_server.web.cookies import PREFERENCE_AGE
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


def _back(to: str) -> RedirectResponse:
    parts = urlsplit(to)
    safe = to if to.startswith("/") and not to.startswith("//") and not parts.netloc else "/login"
    return RedirectResponse(safe[:200], status_code=303)


@router.post("/preferences/language")
def set_language(
    request: Request, lang: str = Form(default=""), back: str = Form(default="/login")
) -> Response:
    response = _back(back)
    if lang in i18n.LANGUAGES:
        names = server_of(request).cookies
        names.set(response, names.lang, lang, max_age=PREFERENCE_AGE)
    return response


@router.post("/preferences/accessible")
def toggle_accessible(
    request: Request, on: str = Form(default=""), back: str = Form(default="/login")
) -> Response:
    response = _back(back)
    names = server_of(request).cookies
    names.set(response, names.accessible, "1" if on == "1" else "0", max_age=PREFERENCE_AGE)
    return response
