"""Add a passkey to the logged-in user's account (a minimal page; managing passkeys is the
profile's). The library decides who may: a live session that proved strong authentication
recently (:meth:`Securebox.enrolling`, ADR 0016); otherwise the page says to log in again
with strong authentication. ``static/js/passkey.js`` runs ``navigator.credentials.create``
with the options and posts the new credential's ``toJSON()``."""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import NotPermitted, StepUpNeeded
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "account/passkey.html"
MAX_CREDENTIAL = 32768  # an attestation object with a certificate chain


def _page(request: Request, web: LoggedIn, *, status: int = 200, failed: bool = False) -> Response:
    box = server_of(request).box
    principal = web.session.principal
    values = {"user": principal, "failed": failed, "options": "", "ceremony": ""}
    if box.factors.relying_party is None:
        return render(request, TEMPLATE, status=status, refused="unavailable", **values)
    try:
        options, ceremony = box.begin_passkey_registration(
            web.session_id, user_name=principal.key, display_name=principal.key
        )
    except StepUpNeeded:
        return render(request, TEMPLATE, status=403, refused="not_strong", **values)
    except NotPermitted:
        return render(request, TEMPLATE, status=403, refused="not_permitted", **values)
    values.update(options=json.dumps(options, separators=(",", ":")), ceremony=ceremony)
    return render(request, TEMPLATE, status=status, refused=None, **values)


@router.get("/account/passkey")
def add_passkey_page(request: Request, web: LoggedIn) -> Response:
    return _page(request, web)


@router.post("/account/passkey")
def add_passkey(
    request: Request,
    web: LoggedIn,
    ceremony: str = Form(default="", max_length=128),
    credential: str = Form(default="", max_length=MAX_CREDENTIAL),
) -> Response:
    hit_limits(request, "account.passkey", web.session.principal.key)
    if not ceremony or not credential:
        return _page(request, web, status=400, failed=True)
    box = server_of(request).box
    try:
        result = box.finish_passkey_registration(web.session_id, ceremony, credential)
    except (StepUpNeeded, NotPermitted):
        return _page(request, web, status=403)
    if not result.ok:
        return _page(request, web, status=400, failed=True)
    return see_other("/home?passkey=added")
