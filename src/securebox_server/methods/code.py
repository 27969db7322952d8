"""The confidential code (the seed's "code confidentiel", 8 digits): a first factor."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import InvalidCode
from securebox_auth.shell.answers import CodeAnswer
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["METHOD", "router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "methods/code.html"


@router.get("/login/code")
def code_page(request: Request) -> Response:
    _, flow = current_flow(request)
    return render(request, TEMPLATE, principal=flow.principal, rejected=False)


@router.post("/login/code")
def code_answer(request: Request, code: str = Form(default="", max_length=64)) -> Response:
    handle, flow = current_flow(request)
    hit_limits(request, "login.code", flow.principal.key)
    try:
        page = server_of(request).box.answer_login(handle, CodeAnswer(code))
    except InvalidCode:  # not digits of the right length: the same page, nothing verified
        return render(request, TEMPLATE, status=400, principal=flow.principal, rejected=True)
    return next_step(request, page) or render(
        request, TEMPLATE, status=401, principal=flow.principal, rejected=True
    )


METHOD = LoginMethod(
    names=("confidential_code",), label="Confidential code", path="/login/code", router=router
)
