"""``POST /api/v1/oauth/token``: the OAuth 2.0 client credentials grant (RFC 6749 section
4.4) for the box's API clients, authenticated by

* ``private_key_jwt`` (RFC 7523 section 2.2): ``client_assertion_type=urn:ietf:params:oauth:
  client-assertion-type:jwt-bearer`` and ``client_assertion`` (checked by
  :mod:`.assertion`, its ``jti`` used once), or
* ``tls_client_auth`` (RFC 8705 section 2.1): ``client_id`` and the client certificate as
  the trusted reverse proxy forwards it (settings ``trusted_proxies``,
  ``certificate_header``), matched by its SHA-256 thumbprint; the token is then bound to
  that certificate.

The body is ``application/x-www-form-urlencoded``, each parameter at most once. Errors are
RFC 6749 section 5.2 JSON (``invalid_request``, ``invalid_client`` 401,
``unsupported_grant_type``, ``invalid_scope``), never telling whether a client exists.
Attempts are rate limited per source and per claimed client (``oauth.token.*``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import JSONResponse, Response

from securebox_server.api.common import PREFIX
from securebox_server.certificates.forwarded import ForwardedCertificateInvalid
from securebox_server.clients.assertion import claimed_client
from securebox_server.clients.caller import clients_of, presented_thumbprint
from securebox_server.clients.model import OAuthError
from securebox_server.login.flow import hit_limits
from securebox_server.web.routing import SecureRoute

__all__ = ["JWT_BEARER", "router"]

log = logging.getLogger("securebox_server.clients")
router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["oauth"])
JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_PARAMETERS: Final = frozenset(
    {"grant_type", "client_id", "client_assertion_type", "client_assertion", "scope"}
)
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_BODY: Final = 16384


def _error(request: Request, exc: OAuthError) -> Response:
    log.info(
        "token refused: %s (%s) from %s",
        exc.error,
        exc.description,
        request.client.host if request.client else "-",
    )
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers=_NO_STORE)


async def read_form(request: Request) -> FormData | OAuthError:
    """The form, or the ``invalid_request`` it is (read here, where awaiting is allowed)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return OAuthError.request("the body is application/x-www-form-urlencoded")
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > _MAX_BODY:
        return OAuthError.request("the body is too long")
    try:
        return await request.form(max_files=0, max_fields=16)
    except (HTTPException, MultiPartException, ValueError):
        return OAuthError.request("the body is not a form")


def _one(form: FormData, name: str) -> str | None:
    values = form.getlist(name)
    if len(values) > 1:
        raise OAuthError.request(f"{name} is repeated")
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str):
        raise OAuthError.request(f"{name} is text")
    return value or None


def _token(request: Request, form: FormData) -> Response:
    params = {name: _one(form, name) for name in _PARAMETERS}
    grant = params["grant_type"]
    if grant is None:
        raise OAuthError.request("grant_type is required")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    clients = clients_of(request)
    assertion, kind = params["client_assertion"], params["client_assertion_type"]
    client_id, scope = params["client_id"], params["scope"]
    if assertion is not None or kind is not None:
        if kind != JWT_BEARER or assertion is None:
            raise OAuthError.request(f"client_assertion_type is {JWT_BEARER}")
        claimed = claimed_client(assertion)
        if claimed is None or (client_id is not None and client_id != claimed):
            raise OAuthError.client()
        hit_limits(request, "oauth.token", claimed)
        issued = clients.token_by_assertion(claimed, assertion, scope)
    else:
        if client_id is None or len(client_id) > 64:
            raise OAuthError.client("authenticate with a client assertion or a certificate")
        hit_limits(request, "oauth.token", client_id)
        try:
            presented = presented_thumbprint(request)
        except ForwardedCertificateInvalid:
            raise OAuthError.client() from None
        issued = clients.token_by_certificate(client_id, presented, scope)
    log.info("token issued to %s (%s)", issued.client_id, issued.method)
    return JSONResponse(issued.body(), headers=_NO_STORE)


_FORM: Final = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_assertion_type": {"type": "string", "enum": [JWT_BEARER]},
                        "client_assertion": {"type": "string", "maxLength": 8192},
                        "client_id": {"type": "string", "maxLength": 64},
                        "scope": {"type": "string", "maxLength": 400},
                    },
                }
            }
        },
    }
}


@router.post(
    "/oauth/token",
    openapi_extra=_FORM,
    responses={
        200: {"description": "An access token (RFC 6749 section 5.1)"},
        400: {"description": "RFC 6749 section 5.2 error"},
        401: {"description": "invalid_client"},
        429: {"description": "Too many attempts (Retry-After)"},
    },
)
def token(request: Request, form: Annotated[FormData | OAuthError, Depends(read_form)]) -> Response:
    """An access token for an API client (client credentials grant)."""
    try:
        if isinstance(form, OAuthError):
            raise form
        return _token(request, form)
    except OAuthError as exc:
        return _error(request, exc)
