"""A minimal entitlements page: an administrator of a subscription sees its users and changes
a role behind a step-up (``entitlements_management``, Coop@ccess guide; ASVS 5 7.5.1).

Who may do what is the library's: the list is shown when ``EntitlementService.check``
allows ``list_users`` on the subscription, the form when it allows ``manage_users``, and the
change itself is ``EntitlementService.set_role`` after the step-up (which decides again).
The full administration (rights, companies, invitations) is a later issue.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation
from securebox_auth.entitlements.resources import SubscriptionRef
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal
from securebox_server.stepup.common import start
from securebox_server.stepup.requests import ASSIGNABLE_ROLES, role_draft
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


def _allowed(request: Request, web: WebSession, action: Operation) -> bool:
    actor = web.session.principal
    box = server_of(request).box
    return bool(box.entitlements.check(actor, action, SubscriptionRef(actor.client_id)))


def _page(request: Request, web: WebSession, status: int = 200, error: bool = False) -> Response:
    if not _allowed(request, web, Operation.LIST_USERS):
        raise NotPermitted("not an administrator of this subscription")
    actor = web.session.principal
    accounts = server_of(request).box.store.accounts_of(actor.client_id)
    return render(
        request,
        "stepup/entitlements.html",
        status=status,
        accounts=accounts,
        me=actor,
        roles=ASSIGNABLE_ROLES,
        manage=_allowed(request, web, Operation.MANAGE_USERS),
        error=error,
    )


@router.get("/entitlements")
def entitlements(request: Request, web: LoggedIn) -> Response:
    return _page(request, web)


@router.post("/entitlements/role")
def change_role(
    request: Request,
    web: LoggedIn,
    user: str = Form(default="", max_length=40),
    role: str = Form(default="", max_length=40),
) -> Response:
    if not _allowed(request, web, Operation.MANAGE_USERS):
        raise NotPermitted("not an administrator of this subscription")
    actor = web.session.principal
    try:
        target = Principal.parse(actor.client_id.value, user)
        draft = role_draft(target, role)
    except MalformedInput:
        return _page(request, web, status=400, error=True)
    known = {a.principal for a in server_of(request).box.store.accounts_of(actor.client_id)}
    if target not in known or target == actor:
        return _page(request, web, status=400, error=True)
    return start(request, web, draft)
