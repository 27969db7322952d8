"""Glue between a method's page and the login flow: the flow cookie, the rate limits of a
submission, and where the browser goes after an answer (:func:`next_step`)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from securebox_auth.errors import FlowExpired
from securebox_auth.flows.login import LoginFlow, LoginState
from securebox_auth.shell.login import LoginPage
from securebox_server.web.addresses import client_address
from securebox_server.web.context import server_of
from securebox_server.web.pages import render

__all__ = ["current_flow", "handle_of", "hit_limits", "next_step", "see_other"]


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def handle_of(request: Request) -> str:
    """The login flow's handle from its cookie (else :class:`FlowExpired`: start again)."""
    handle = request.cookies.get(server_of(request).cookies.flow)
    if not handle:
        raise FlowExpired("no login in progress: start again")
    return handle


def current_flow(request: Request) -> tuple[str, LoginFlow]:
    handle = handle_of(request)
    return handle, server_of(request).box.login_flow(handle)


def hit_limits(request: Request, name: str, account: str | None = None) -> None:
    """Count one attempt of limit ``name`` per source address and per claimed account."""
    limits = server_of(request).limits
    limits.hit(name, f"ip:{client_address(request)}")
    if account is not None:
        limits.hit(name, f"account:{account}")


def blocked_page(request: Request, page: LoginPage) -> Response:
    """The same page for every principal: the lockout is kept for unknown ones too."""
    server = server_of(request)
    until = server.box.store.get_lockout(page.flow.principal).value.blocked_until
    permanent = server.box.store.get_lockout(page.flow.principal).value.permanent
    response = render(request, "login/blocked.html", status=403, until=until, permanent=permanent)
    server.cookies.clear(response, server.cookies.flow)
    return response


def next_step(request: Request, page: LoginPage) -> Response | None:
    """Where the browser goes after ``page``: home (the session cookie is set, the flow
    cookie cleared), the code change, the strong-authentication prompt, the blocked or
    refused page. ``None``: the answer was refused and the same page is shown again."""
    server = server_of(request)
    names = server.cookies
    if page.session_id is not None:
        response: Response = see_other("/home")
        names.set(response, names.session, page.session_id)
        names.clear(response, names.flow)
        return response
    state = page.state
    if state is LoginState.CODE_CHANGE:
        return see_other("/login/change-code")
    if state is LoginState.FAILED:
        reason = getattr(page.action, "reason", "denied")
        if reason in ("blocked", "too_many_failures"):
            return blocked_page(request, page)
        response = render(request, "login/denied.html", status=403)
        names.clear(response, names.flow)
        return response
    if page.rejected:
        return None
    if state is LoginState.SECOND_FACTOR:
        return see_other("/login/strong")
    return see_other("/login/method")
