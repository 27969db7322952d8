"""The user's active sessions ("where am I logged in"): end one, or every other, on the
server (the library ends the stored session; the browser holding it is logged out at its
next request). The current session is recognised by its reference (the start of the
stored digest of its identifier, :meth:`SessionService.sessions_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_auth.identity import Principal
from securebox_auth.policy.session_ids import session_key
from securebox_auth.shell.securebox import Securebox
from securebox_server.login.flow import see_other
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["ActiveSession", "end_others", "listed", "router"]

router = APIRouter(route_class=SecureRoute)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    ref: str
    channel: str
    started_at: datetime
    last_activity: datetime
    methods: tuple[str, ...]
    current: bool


def listed(box: Securebox, principal: Principal, session_id: str) -> list[ActiveSession]:
    """The live sessions of ``principal``, newest first, the current one marked."""
    mine = session_key(session_id)[:16]
    found = [
        ActiveSession(
            ref,
            s.channel,
            s.auth_time,
            s.last_activity,
            tuple(p.method for p in s.proofs),
            ref == mine,
        )
        for ref, s in box.sessions_of(principal)
    ]
    return sorted(found, key=lambda s: s.started_at, reverse=True)


def end_others(box: Securebox, principal: Principal, session_id: str) -> int:
    """End every session of ``principal`` but ``session_id``, in one commit; how many
    ended."""
    return box.end_others(principal, session_id)


@router.get("/profile/sessions")
def sessions_page(request: Request, web: LoggedIn) -> Response:
    box = server_of(request).box
    found = listed(box, web.session.principal, web.session_id)
    return render(request, "profile/sessions.html", sessions=found)


@router.post("/profile/sessions/others/end")
def end_other_sessions(request: Request, web: LoggedIn) -> Response:
    count = end_others(server_of(request).box, web.session.principal, web.session_id)
    return see_other(f"/profile/sessions?ended={count}")


@router.post("/profile/sessions/{ref}/end")
def end_session(request: Request, web: LoggedIn, ref: str) -> Response:
    server = server_of(request)
    if ref == session_key(web.session_id)[:16]:  # this browser: a log out
        server.box.end(web.session_id)
        response = see_other("/login")
        server.cookies.clear(response, server.cookies.session)
        return response
    if not server.box.sessions.end_by_ref(web.session.principal, ref[:16]):
        found = listed(server.box, web.session.principal, web.session_id)
        return render(request, "profile/sessions.html", status=404, sessions=found, failed=True)
    return see_other("/profile/sessions?ended=1")
