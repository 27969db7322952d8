"""``/api/v1/profile``: the profile as JSON (session cookie or bearer token). Errors are
RFC 9457 problem documents (:mod:`securebox_server.web.errors`); writes with a cookie are
Origin-checked by the route class. Changes that need a code sent to an address or a
ceremony in the browser (contact details, factors) are on the pages only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from securebox_auth.errors import NotFound
from securebox_server.api.common import PROBLEMS, Authenticated
from securebox_server.profile import factors
from securebox_server.profile.contacts import current
from securebox_server.profile.history import MAX_PAGE, page_of
from securebox_server.profile.model import parse_preferences
from securebox_server.profile.sessions import end_others, listed
from securebox_server.profile.web import store_of
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/profile", route_class=SecureRoute)


class PreferencesIn(BaseModel):
    new_documents: str
    language: str


def _preferences(request: Request, api: Authenticated) -> dict[str, str]:
    chosen = store_of(request).preferences(api.session.principal)
    return {"new_documents": chosen.new_documents.value, "language": chosen.language}


@router.get("", responses=PROBLEMS)
def profile(request: Request, api: Authenticated) -> JSONResponse:
    """The caller's contact details, factors and preferences."""
    box = server_of(request).box
    principal = api.session.principal
    passkeys = [] if box.factors.relying_party is None else factors.passkeys_of(box, principal)
    cert = factors.certificate_of(box, principal)
    body: dict[str, Any] = {
        "principal": principal.key,
        "contacts": current(request, principal),
        "preferences": _preferences(request, api),
        "totp": factors.totp_status(box, principal),
        "passkeys": [
            {"id": p.id, "name": p.name, "status": p.status, "created_at": p.created_at.isoformat()}
            for p in passkeys
        ],
        "certificate": None
        if cert is None
        else {"subject": cert.subject, "fingerprint": cert.fingerprint},
    }
    return JSONResponse(body)


@router.put("/preferences", responses=PROBLEMS)
def set_preferences(request: Request, api: Authenticated, body: PreferencesIn) -> JSONResponse:
    chosen = parse_preferences(body.new_documents, body.language)  # MalformedInput: 400
    store_of(request).set_preferences(api.session.principal, chosen, server_of(request).box.now())
    return JSONResponse(_preferences(request, api))


@router.get("/sessions", responses=PROBLEMS)
def sessions(request: Request, api: Authenticated) -> JSONResponse:
    found = listed(server_of(request).box, api.session.principal, api.session_id)
    return JSONResponse(
        [
            {
                "ref": s.ref,
                "channel": s.channel,
                "started_at": s.started_at.isoformat(),
                "last_activity": s.last_activity.isoformat(),
                "methods": list(s.methods),
                "current": s.current,
            }
            for s in found
        ]
    )


@router.post("/sessions/end-others", responses=PROBLEMS)
def end_other_sessions(request: Request, api: Authenticated) -> JSONResponse:
    ended = end_others(server_of(request).box, api.session.principal, api.session_id)
    return JSONResponse({"ended": ended})


@router.delete("/sessions/{ref}", status_code=204, response_class=Response, responses=PROBLEMS)
def end_session(request: Request, api: Authenticated, ref: str) -> Response:
    if not server_of(request).box.sessions.end_by_ref(api.session.principal, ref[:16]):
        raise NotFound("no such session")
    return Response(status_code=204)


@router.get("/history", responses=PROBLEMS)
def history(
    request: Request, api: Authenticated, page: int = Query(default=1, ge=1, le=MAX_PAGE)
) -> JSONResponse:
    shown = page_of(server_of(request).box, api.session.principal, page)
    events = [
        {"at": e.at.isoformat(), "action": e.action, "label": e.label, "outcome": e.outcome}
        for e in shown.events
    ]
    return JSONResponse({"page": shown.page, "more": shown.more, "events": events})
