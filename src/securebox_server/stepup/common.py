"""Helpers shared by the step-up routes: the order book, starting a step-up for a draft,
and the cookie that follows the session's rotation."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from securebox_auth.flows.step_up import Refused
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.stepup.orders import OrderBook
from securebox_server.stepup.refusal import refused_page
from securebox_server.stepup.requests import Draft, request_of
from securebox_server.web.context import server_of
from securebox_server.web.routing import WebSession

__all__ = ["book_of", "follow_session", "start"]


def book_of(request: Request) -> OrderBook:
    found: OrderBook = request.app.state.orders
    return found


def follow_session(request: Request, response: Response, web: WebSession, new_id: str) -> None:
    """Set the session cookie to ``new_id`` when the library rotated the session."""
    if new_id != web.session_id:
        names = server_of(request).cookies
        names.set(response, names.session, new_id)


def start(request: Request, web: WebSession, draft: Draft) -> Response:
    """Ask the policy about ``draft``, store it pending and show what is being approved."""
    principal = web.session.principal
    hit_limits(request, "stepup.start", principal.key)
    box = server_of(request).box
    page = box.start_step_up(web.session_id, request_of(draft.kind, draft.details))
    book = book_of(request)
    order_id = book.create(principal, draft, page.handle, box.clock.now())
    if isinstance(page.action, Refused):
        book.refuse(principal, book.get(principal, order_id), box.clock.now())
        return refused_page(request, draft.kind, page.action.decision)
    response = see_other(f"/operations/{order_id}")
    follow_session(request, response, web, page.session_id)
    return response
