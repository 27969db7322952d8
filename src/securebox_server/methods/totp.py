"""A TOTP application's 6-digit code: a second factor (RFC 6238)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import InvalidCode
from securebox_auth.shell.answers import TotpAnswer
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["METHOD", "router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "methods/totp.html"


@router.get("/login/totp")
def totp_page(request: Request) -> Response:
    _, flow = current_flow(request)
    return render(request, TEMPLATE, principal=flow.principal, rejected=False)


@router.post("/login/totp")
def totp_answer(request: Request, code: str = Form(default="", max_length=64)) -> Response:
    handle, flow = current_flow(request)
    hit_limits(request, "login.totp", flow.principal.key)
    try:
        page = server_of(request).box.answer_login(handle, TotpAnswer(code))
    except InvalidCode:  # not digits of the right length: the same page, nothing verified
        return render(request, TEMPLATE, status=400, principal=flow.principal, rejected=True)
    return next_step(request, page) or render(
        request, TEMPLATE, status=401, principal=flow.principal, rejected=True
    )


METHOD = LoginMethod(
    names=("totp",), label="Authenticator application", path="/login/totp", router=router
)
