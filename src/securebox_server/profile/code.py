"""Changing the confidential code from the profile: the current code is the proof (the
library counts a wrong one against the lockout); the new one follows the policy's strength
rules. Every OTHER session of the user ends in the change's commit (OWASP ASVS 5.0 7.4.3)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import MalformedInput, WeakCode
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "profile/code.html"


@router.get("/profile/code")
def code_page(request: Request, web: LoggedIn) -> Response:
    return render(request, TEMPLATE)


@router.post("/profile/code")
def change_code(
    request: Request,
    web: LoggedIn,
    current: str = Form(default="", max_length=16),
    new: str = Form(default="", max_length=16),
    confirm: str = Form(default="", max_length=16),
) -> Response:
    principal = web.session.principal
    hit_limits(request, "second_factor", principal.key)
    if new != confirm:
        return render(request, TEMPLATE, status=400, error="confirm")
    box = server_of(request).box
    try:
        result = box.codes.change_code(
            principal.client_id.value,
            principal.user_number.value,
            current,
            new,
            keep_session=web.session_id,
        )
    except WeakCode:
        return render(request, TEMPLATE, status=400, error="weak")
    except MalformedInput:
        return render(request, TEMPLATE, status=400, error="current")
    if not result.changed:
        return render(request, TEMPLATE, status=400, error="current")
    return see_other("/profile?code=changed")
