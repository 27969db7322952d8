"""What the administration pages share: the state on the app, asking the library's checks,
and handing a draft to the step-up pipeline once the library's rules accept it."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation
from securebox_auth.entitlements.resources import SubscriptionRef
from securebox_auth.errors import SecureboxError
from securebox_server.admin.changes import Admin, precheck
from securebox_server.stepup.common import start
from securebox_server.stepup.requests import Draft
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import WebSession

__all__ = ["go", "may", "state_of"]


def state_of(request: Request) -> Admin:
    found: Admin = request.app.state.admin
    return found


def may(request: Request, web: WebSession, action: Operation, what: object = None) -> bool:
    actor = web.session.principal
    target = SubscriptionRef(actor.client_id) if what is None else what
    return bool(server_of(request).box.entitlements.check(actor, action, target))  # type: ignore[arg-type]


def go(request: Request, web: WebSession, draft: Draft) -> Response:
    """Check ``draft`` with the library's rules, then start its step-up."""
    try:
        precheck(server_of(request).box, web.session.principal, draft)
    except SecureboxError:
        return render(request, "stepup/refused.html", status=403, kind=draft.kind, changed=False)
    return start(request, web, draft)
