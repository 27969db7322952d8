"""A saved recovery code (look-up secret): one code of the set shown at enrolment.

The library decides when it may be used: a recovery code never counts towards strong
authentication (``RECOVERY_CODE.counts_for_sca`` is false, NIST SP 800-63B-4 sec. 4.2), so
``LoginFlow.offered`` lists it only where a policy lets it complete a login. The page is
registered like any method: the choice pages list it when it is offered, and a submission
when it is not is refused by the library (``flow_out_of_order``) without using the code up.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import InvalidCode, MalformedInput
from securebox_auth.shell.answers import RecoveryAnswer
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["METHOD", "router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "methods/recovery.html"
NAME = "recovery_code"


@router.get("/login/recovery")
def recovery_page(request: Request) -> Response:
    _, flow = current_flow(request)
    return render(request, TEMPLATE, offered=NAME in flow.offered, rejected=False)


@router.post("/login/recovery")
def recovery_answer(request: Request, code: str = Form(default="", max_length=64)) -> Response:
    handle, flow = current_flow(request)
    hit_limits(request, "login.recovery", flow.principal.key)
    try:
        page = server_of(request).box.answer_login(handle, RecoveryAnswer(code))
    except (InvalidCode, MalformedInput):  # not a recovery code at all: nothing verified
        return render(request, TEMPLATE, status=400, offered=True, rejected=True)
    return next_step(request, page) or render(
        request, TEMPLATE, status=401, offered=True, rejected=True
    )


METHOD = LoginMethod(names=(NAME,), label="Recovery code", path="/login/recovery", router=router)
