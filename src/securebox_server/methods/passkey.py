"""A passkey (WebAuthn ``navigator.credentials.get`` with user verification): one login
that proves two categories (possession of the authenticator, and the PIN or biometric it
checked).

The page carries the options of :meth:`Securebox.login_passkey_options` (decoy credential
ids for a principal without a passkey: the same page whether or not anyone exists) in
``data-options``; ``static/js/passkey.js`` calls the authenticator and posts its
``credential.toJSON()`` in the ``credential`` field with the ceremony id. The relying party
is the public URL's host and origin (:func:`securebox_server.wiring.relying_party`).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.shell.answers import PasskeyAnswer
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["METHOD", "router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "methods/passkey.html"
#: A ``credential.toJSON()`` of an assertion is well under this (a few hundred bytes, a
#: large RSA signature included).
MAX_CREDENTIAL = 16384


def _page(request: Request, *, status: int = 200, rejected: bool = False) -> Response:
    handle, flow = current_flow(request)
    box = server_of(request).box
    if box.factors.relying_party is None:  # an http URL other than localhost: no passkeys
        return render(request, TEMPLATE, status=status, principal=flow.principal,
                      unavailable=True, rejected=rejected, options="", ceremony="")  # fmt: skip
    options, ceremony = box.login_passkey_options(handle)
    return render(
        request, TEMPLATE, status=status, principal=flow.principal, unavailable=False,
        rejected=rejected, options=json.dumps(options, separators=(",", ":")), ceremony=ceremony,
    )  # fmt: skip


@router.get("/login/passkey")
def passkey_page(request: Request) -> Response:
    return _page(request)


@router.post("/login/passkey")
def passkey_answer(
    request: Request,
    ceremony: str = Form(default="", max_length=128),
    credential: str = Form(default="", max_length=MAX_CREDENTIAL),
) -> Response:
    handle, flow = current_flow(request)
    hit_limits(request, "login.passkey", flow.principal.key)
    if not ceremony or not credential:  # the script did not run, or the user cancelled
        return _page(request, status=400, rejected=True)
    page = server_of(request).box.answer_login(handle, PasskeyAnswer(ceremony, credential))
    # a refused assertion gets a fresh ceremony: the one answered is consumed either way
    return next_step(request, page) or _page(request, status=401, rejected=True)


METHOD = LoginMethod(names=("passkey_uv",), label="Passkey", path="/login/passkey", router=router)
