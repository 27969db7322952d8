"""Step 1 of the seed: the client identifier (remembered on request), then the user
number; the flow starts and its handle goes into the flow cookie."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import InvalidIdentifier
from securebox_auth.identity import ClientId
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.web.context import server_of
from securebox_server.web.cookies import PREFERENCE_AGE
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


@router.get("/")
def root() -> Response:
    return see_other("/login")


@router.get("/login")
def identifier_page(request: Request) -> Response:
    remembered = request.cookies.get(server_of(request).cookies.remember, "")
    return render(
        request, "login/identifier.html", client_id=remembered[:32], remember=bool(remembered)
    )


@router.post("/login")
def identifier_submit(
    request: Request,
    client_id: str = Form(default="", max_length=64),
    remember: str = Form(default=""),
) -> Response:
    hit_limits(request, "login.identify")
    try:
        parsed = ClientId.parse(client_id.strip())
    except InvalidIdentifier:
        return render(
            request,
            "login/identifier.html",
            status=400,
            client_id="",
            remember=False,
            error="client_id",
        )
    response = render(request, "login/user.html", client_id=parsed.value, error=None)
    names = server_of(request).cookies
    if remember:
        names.set(response, names.remember, parsed.value, max_age=PREFERENCE_AGE)
    else:
        names.clear(response, names.remember)
    return response


@router.post("/login/user")
def user_submit(
    request: Request,
    client_id: str = Form(default="", max_length=64),
    user_number: str = Form(default="", max_length=64),
) -> Response:
    server = server_of(request)
    try:
        principal = server.box.codes.parse_principal(client_id.strip(), user_number.strip())
    except InvalidIdentifier:
        return render(request, "login/user.html", status=400, client_id="", error="user_number")
    hit_limits(request, "login.identify", principal.key)
    page = server.box.start_login(principal.client_id.value, principal.user_number.value)
    response = see_other("/login/method")
    server.cookies.set(response, server.cookies.flow, page.handle)
    return response


@router.get("/login/forgotten")
def forgotten() -> Response:
    return see_other("/recovery")
