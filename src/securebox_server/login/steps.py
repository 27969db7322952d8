"""Step 2 of the seed: the method choice, the forced change of a one-time code, and the
strong-authentication prompt (first access, then every 90 days: PSD2 RTS art. 10)."""

from __future__ import annotations

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


@router.get("/login/method")
def method_choice(request: Request) -> Response:
    _, flow = current_flow(request)
    if flow.state is LoginState.CODE_CHANGE:
        return see_other("/login/change-code")
    if flow.state is LoginState.SECOND_FACTOR:
        return see_other("/login/strong")
    pages = offered_pages(flow.offered)
    return render(request, "login/method.html", principal=flow.principal, methods=pages)


@router.get("/login/strong")
def strong_prompt(request: Request) -> Response:
    _, flow = current_flow(request)
    if flow.state is not LoginState.SECOND_FACTOR:
        return see_other("/login/method")
    pages = offered_pages(flow.offered)
    return render(request, "login/strong.html", principal=flow.principal, methods=pages)


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
