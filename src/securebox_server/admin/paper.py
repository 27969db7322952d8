"""Back to paper, and digital delivery again (administrators and the principal user only:
the library's ``switch_to_paper``), a step-up draft like every administrative change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_server.admin.changes import delivery_draft
from securebox_server.admin.common import go, may
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


@router.get("/admin/delivery")
def delivery(request: Request, web: LoggedIn) -> Response:
    if not may(request, web, Operation.SWITCH_TO_PAPER):
        raise NotPermitted("administrators only")
    sub = server_of(request).box.store.get_subscription(web.session.principal.client_id)
    return render(request, "admin/delivery.html", digital=bool(sub and sub.value.digital))


@router.post("/admin/delivery")
def switch_delivery(
    request: Request, web: LoggedIn, digital: Annotated[str, Form(max_length=5)] = ""
) -> Response:
    if digital not in ("yes", "no"):
        raise MalformedInput("digital: yes or no")
    return go(request, web, delivery_draft(digital=digital == "yes"))
