"""The user's passkeys: list, add, name, remove. Adding and removing follow the library's
rule for a sensitive change (:func:`~.web.sensitive`: a recent strong authentication);
renaming does not (a label). ``static/js/passkey.js`` runs ``navigator.credentials.create``
with the options and posts the new credential's ``toJSON()``. ``/account/passkey`` (the
home page's first link) is kept as an alias of ``/profile/passkeys/add``."""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth import Principal, Securebox
from securebox_auth.errors import MalformedInput, NotPermitted, StepUpNeeded
from securebox_auth.factors.passkeys import UnknownPasskey
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.profile import factors
from securebox_server.profile.web import Refused, refused_page, sensitive
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "profile/passkey_add.html"
MAX_CREDENTIAL = 32768  # an attestation object with a certificate chain
_PASSKEY = ("passkey_uv", "passkey_no_uv")


def _add_page(
    request: Request, web: LoggedIn, *, status: int = 200, failed: bool = False
) -> Response:
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


@router.get("/profile/passkeys")
def passkeys_page(request: Request, web: LoggedIn) -> Response:
    box = server_of(request).box
    found = (
        () if box.factors.relying_party is None else factors.passkeys_of(box, web.session.principal)
    )
    return render(request, "profile/passkeys.html", passkeys=found)


@router.get("/account/passkey")
@router.get("/profile/passkeys/add")
def add_passkey_page(request: Request, web: LoggedIn) -> Response:
    return _add_page(request, web)


@router.post("/account/passkey")
@router.post("/profile/passkeys/add")
def add_passkey(
    request: Request,
    web: LoggedIn,
    ceremony: str = Form(default="", max_length=128),
    credential: str = Form(default="", max_length=MAX_CREDENTIAL),
    name: str = Form(default="Passkey", max_length=64),
) -> Response:
    hit_limits(request, "account.passkey", web.session.principal.key)
    if not ceremony or not credential:
        return _add_page(request, web, status=400, failed=True)
    box = server_of(request).box
    try:
        result = box.finish_passkey_registration(
            web.session_id, ceremony, credential, name=name.strip() or "Passkey"
        )
    except (StepUpNeeded, NotPermitted, MalformedInput):
        return _add_page(request, web, status=403)
    if not result.ok and not _already_added(box, web.session.principal, credential):
        return _add_page(request, web, status=400, failed=True)
    return see_other("/home?passkey=added")


def _already_added(box: Securebox, principal: Principal, credential: str) -> bool:
    """The posted credential is one of the user's active passkeys: the form was sent twice
    (a double click, a reload) and its first post added it, which spent the ceremony. The
    second post then says what happened, "added", rather than "not added"."""
    try:
        posted = json.loads(credential)
    except ValueError:
        return False
    posted_id = posted.get("id") if isinstance(posted, dict) else None
    return isinstance(posted_id, str) and any(
        p.id == posted_id and p.status == "active" for p in factors.passkeys_of(box, principal)
    )


@router.post("/profile/passkeys/{passkey}/name")
def rename_passkey(
    request: Request, web: LoggedIn, passkey: str, name: str = Form(default="", max_length=64)
) -> Response:
    box = server_of(request).box
    try:
        factors.rename(box, web.session.principal, passkey[:200], name)
    except (UnknownPasskey, MalformedInput):  # another user's passkey answers the same
        return render(
            request,
            "profile/passkeys.html",
            status=400,
            failed=True,
            passkeys=factors.passkeys_of(box, web.session.principal),
        )
    return see_other("/profile/passkeys?renamed=1")


@router.post("/profile/passkeys/{passkey}/remove")
def remove_passkey(request: Request, web: LoggedIn, passkey: str) -> Response:
    box = server_of(request).box
    try:
        principal = sensitive(request, web, _PASSKEY)
        factors.revoke(box, principal, passkey[:200])
    except Refused as refused:
        return refused_page(request, refused)
    except (UnknownPasskey, MalformedInput):
        return render(
            request,
            "profile/passkeys.html",
            status=404,
            failed=True,
            passkeys=factors.passkeys_of(box, web.session.principal),
        )
    return see_other("/profile/passkeys?removed=1")
