"""The CAP reader's code (EMV-CAP): "insert the card, press CODE, type the PIN, type the
code shown" (Identify), or the same with the 8 digits this page shows typed into the
reader after pressing its challenge key (Respond). A first factor that proves two
categories (the card, and the PIN it checked).

The card is chosen here, never by the user: the principal's bound card used last (else
the one bound last). A principal without a card (or one that does not exist) gets the
same pages, challenge digits included (the library draws decoys), and its codes are
refused and counted like wrong ones: nothing tells whether a user has a card.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import InvalidCode
from securebox_auth.flows.login import LoginFlow
from securebox_auth.identity import Principal
from securebox_auth.shell.answers import CapAnswer
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_server.login.flow import current_flow, hit_limits, next_step, see_other
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.errors import respond
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["DECOY_CARD", "METHOD", "card_of", "router"]

router = APIRouter(route_class=SecureRoute)
IDENTIFY: Final = "methods/cap_identify.html"
RESPOND: Final = "methods/cap_respond.html"
#: The card id asked about for a principal without a card: never stored, so its codes
#: and challenges fail like those of a wrong card.
DECOY_CARD: Final = "no-card"
#: What a reader displays (spaces and dashes a user may type are dropped first).
_CODE: Final = re.compile(r"[0-9]{4,16}")
_SEPARATORS: Final = re.compile(r"[\s-]+")
_CHALLENGE_ID: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")


def card_of(box: Securebox, principal: Principal) -> str:
    """The card id a login of ``principal`` is checked against: the card used last,
    else the one bound last; :data:`DECOY_CARD` when there is none."""
    best: tuple[datetime, str] | None = None
    for item, found in box.store.factor_states(principal, fc.CAP_CARD):
        card = fc.cap_card_from_dict(found.value)
        when = card.last_used_at or card.enrolled_at
        if best is None or when > best[0]:
            best = (when, item)
    return DECOY_CARD if best is None else best[1]


def _code(typed: str) -> str | None:
    """The typed code without separators, or ``None`` when it is not a reader's code."""
    code = _SEPARATORS.sub("", typed)
    return code if _CODE.fullmatch(code) else None


def _offered(flow: LoginFlow, name: str) -> bool:
    return name in flow.offered


def _unavailable(request: Request) -> Response | None:
    """CAP needs the issuer's keys (``cap_issuer_file``): a portal without them has no CAP
    pages (404), as it has no page for a method it does not offer."""
    if server_of(request).box.factors.issuer is None:
        return respond(request, 404, "not_found")
    return None


def _identify_page(
    request: Request, flow: LoginFlow, *, status: int = 200, rejected: bool = False
) -> Response:
    return render(
        request,
        IDENTIFY,
        status=status,
        principal=flow.principal,
        rejected=rejected,
        respond_offered=_offered(flow, "cap_respond"),
    )


@router.get("/login/cap")
def cap_identify_page(request: Request) -> Response:
    _, flow = current_flow(request)
    if not _offered(flow, "cap_identify"):
        return see_other("/login/cap/respond" if _offered(flow, "cap_respond") else "/login")
    return _unavailable(request) or _identify_page(request, flow)


@router.post("/login/cap")
def cap_identify_answer(request: Request, code: str = Form(default="", max_length=64)) -> Response:
    handle, flow = current_flow(request)
    hit_limits(request, "login.cap", flow.principal.key)
    unavailable = _unavailable(request)
    if unavailable is not None:
        return unavailable
    typed = _code(code)
    if typed is None:  # not a reader's code: the same page for everyone, nothing verified
        return _identify_page(request, flow, status=400, rejected=True)
    box = server_of(request).box
    answer = CapAnswer(card_of(box, flow.principal), typed, mode=CapMode.IDENTIFY)
    try:
        page = box.answer_login(handle, answer)
    except InvalidCode:
        return _identify_page(request, flow, status=400, rejected=True)
    return next_step(request, page) or _identify_page(request, flow, status=401, rejected=True)


def _respond_page(
    request: Request, handle: str, flow: LoginFlow, *, status: int = 200, rejected: bool = False
) -> Response:
    """A fresh challenge (single use, five minutes) and the form to answer it."""
    hit_limits(request, "login.cap_challenge", flow.principal.key)
    box = server_of(request).box
    challenge_id, digits = box.login_cap_challenge(handle, card_of(box, flow.principal))
    return render(
        request,
        RESPOND,
        status=status,
        principal=flow.principal,
        rejected=rejected,
        challenge_id=challenge_id,
        digits=digits,
        identify_offered=_offered(flow, "cap_identify"),
    )


@router.get("/login/cap/respond")
def cap_respond_page(request: Request) -> Response:
    handle, flow = current_flow(request)
    if not _offered(flow, "cap_respond"):
        return see_other("/login/cap" if _offered(flow, "cap_identify") else "/login")
    return _unavailable(request) or _respond_page(request, handle, flow)


@router.post("/login/cap/respond")
def cap_respond_answer(
    request: Request,
    code: str = Form(default="", max_length=64),
    challenge_id: str = Form(default="", max_length=128),
) -> Response:
    handle, flow = current_flow(request)
    hit_limits(request, "login.cap", flow.principal.key)
    unavailable = _unavailable(request)
    if unavailable is not None:
        return unavailable
    typed = _code(code)
    if typed is None or not _CHALLENGE_ID.fullmatch(challenge_id):
        return _respond_page(request, handle, flow, status=400, rejected=True)
    box = server_of(request).box
    card = card_of(box, flow.principal)
    answer = CapAnswer(card, typed, challenge_id, mode=CapMode.RESPOND)
    try:
        page = box.answer_login(handle, answer)
    except InvalidCode:
        return _respond_page(request, handle, flow, status=400, rejected=True)
    # A refused code spent its challenge: the page shows a new one.
    return next_step(request, page) or _respond_page(
        request, handle, flow, status=401, rejected=True
    )


METHOD = LoginMethod(
    names=("cap_identify", "cap_respond"), label="CAP reader code", path="/login/cap", router=router
)
