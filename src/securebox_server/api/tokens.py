"""Signed assertions for downstream APIs, and the keys that verify them.

``GET /api/v1/.well-known/jwks.json`` publishes the public keys (RFC 7517); every worker
publishes the same ones, derived from the master key (:func:`.keys.token_keys`).
``POST /api/v1/assertions {audience}`` signs what the caller's session proved
(``Securebox.assertion``: ``acr``, ``amr``, ``auth_time``, live grants; five minutes). The
session token itself never leaves the portal's origin: downstream services get assertions.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from securebox_server.api.common import PREFIX, PROBLEMS, Authenticated
from securebox_server.api.models import AssertionBody, AssertionOut, Jwks
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["JWKS_PATH", "router"]

router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["tokens"])
JWKS_PATH = f"{PREFIX}/.well-known/jwks.json"


@router.get(
    "/.well-known/jwks.json",
    responses={
        200: {
            "model": Jwks,
            "content": {
                "application/jwk-set+json": {"schema": {"$ref": "#/components/schemas/Jwks"}}
            },
        },
        429: PROBLEMS[429],
    },
)
def jwks(request: Request) -> Response:
    """The public keys of the assertions (JWKS)."""
    response = JSONResponse(server_of(request).box.jwks(), media_type="application/jwk-set+json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@router.post(
    "/assertions",
    status_code=201,
    response_model=AssertionOut,
    responses=PROBLEMS,
)
def assertion(request: Request, body: AssertionBody, api: Authenticated) -> Response:
    """A signed JWT (``typ: sbx-assertion+jwt``) of the session for ``audience``."""
    hit_limits(request, "api.assertion", api.session.principal.key)
    token = server_of(request).box.assertion(api.session_id, audience=body.audience)
    out = {"assertion": token, "token_type": "sbx-assertion+jwt", "jwks_uri": JWKS_PATH}
    return JSONResponse(out, 201)
