"""Step 2 of the seed: the method choice, the forced change of a one-time code, and the
strong-authentication prompt (first access, then every 90 days: PSD2 RTS art. 10)."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import WeakCode
from securebox_auth.flows.login import LoginState
from securebox_server.login.flow import current_flow, hit_limits, next_step, see_other
from securebox_server.methods import offered_pages
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


#: The page of a login flow's state (every other state's page is the method choice).
_STATE_PAGES: Final = {
    LoginState.CODE_CHANGE: "/login/change-code",
    LoginState.SECOND_FACTOR: "/login/strong",
}


def _choices(request: Request, here: str, template: str) -> Response:
    """The page ``here`` lists the offered methods if the flow is at it, else redirects
    to the page of the flow's state."""
    _, flow = current_flow(request)
    page = _STATE_PAGES.get(flow.state, "/login/method")
    if page != here:
        return see_other(page)
    pages = offered_pages(flow.offered)
    return render(request, template, principal=flow.principal, methods=pages)


@router.get("/login/method")
def method_choice(request: Request) -> Response:
    return _choices(request, "/login/method", "login/method.html")


@router.get("/login/strong")
def strong_prompt(request: Request) -> Response:
    return _choices(request, "/login/strong", "login/strong.html")


@router.get("/login/change-code")
def change_page(request: Request) -> Response:
    _, flow = current_flow(request)
    if flow.state is not LoginState.CODE_CHANGE:
        return see_other("/login/method")
    return render(request, "login/change.html", error=None)


@router.post("/login/change-code")
def change_submit(
    request: Request,
    current: str = Form(default="", max_length=64),
    new: str = Form(default="", max_length=64),
    confirm: str = Form(default="", max_length=64),
) -> Response:
    handle, flow = current_flow(request)
    if new != confirm:
        return render(request, "login/change.html", status=400, error="confirm")
    hit_limits(request, "login.code", flow.principal.key)
    try:
        page = server_of(request).box.change_login_code(handle, current, new)
    except WeakCode:
        return render(request, "login/change.html", status=400, error="weak")
    return next_step(request, page) or render(
        request, "login/change.html", status=401, error="current"
    )
