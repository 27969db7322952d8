"""``/api/v1/session``: the JSON view of the current session (the API's first resource;
errors are problem documents, writes are Origin-checked by the route class)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from securebox_server.api.common import PROBLEMS, Authenticated
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", route_class=SecureRoute)


class SessionInfo(BaseModel):
    principal: str
    channel: str
    auth_time: str
    methods: list[str]


@router.get("/session", response_model=SessionInfo, responses=PROBLEMS)
def session(api: Authenticated) -> JSONResponse:
    """The caller's session (session cookie or ``Authorization: Bearer``)."""
    s = api.session
    return JSONResponse(
        {
            "principal": s.principal.key,
            "channel": s.channel,
            "auth_time": s.auth_time.isoformat(),
            "methods": [p.method for p in s.proofs],
        }
    )


@router.delete("/session", status_code=204, response_class=Response, responses=PROBLEMS)
def end_session(request: Request, api: Authenticated) -> Response:
    server_of(request).box.end(api.session_id)
    return Response(status_code=204)
