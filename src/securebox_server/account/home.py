"""The authenticated home page (the session, and the box: :func:`securebox_server.box.
pages.home_values`) and the two ways out (both invalidate server-side)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_server.admin.guards import administration_links
from securebox_server.box.pages import home_values
from securebox_server.login.flow import see_other
from securebox_server.methods import page_of
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


@router.get("/home")
def home(request: Request, web: LoggedIn) -> Response:
    box = server_of(request).box
    session = web.session
    # each method by its page's label (a msgid, translated in the template); a method
    # without a login page keeps the library's name
    methods = [(page.label if (page := page_of(p.method)) else p.method) for p in session.proofs]
    live = box.sessions_of(session.principal)
    me = session.principal
    values = home_values(request, web)
    if "administration" not in values:  # no box: the links decided on a read of their own
        values["administration"] = administration_links(
            box.store.standing(me, me.client_id), me, box.clock.now()
        )
    return render(
        request,
        "account/home.html",
        user=session.principal,
        session=session,
        methods=methods,
        sessions=len(live),
        **values,
    )


def _out(request: Request) -> Response:
    names = server_of(request).cookies
    response = see_other("/login")
    names.clear(response, names.session)
    return response


@router.post("/logout")
def logout(request: Request, web: LoggedIn) -> Response:
    server_of(request).box.end(web.session_id)
    return _out(request)


@router.post("/logout/everywhere")
def logout_everywhere(request: Request, web: LoggedIn) -> Response:
    server_of(request).box.end_all(web.session.principal)
    return _out(request)
