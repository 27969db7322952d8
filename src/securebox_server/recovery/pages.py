"""The recovery pages: ``/recovery`` (choose), ``/recovery/code`` (an e-mail link),
``/recovery/link/{token}`` (choose the new code), ``/recovery/identifier`` (an SMS),
``/recovery/card`` (a new one-time code by SMS after a CAP Respond code).
Each form starts its flow and gives its claim in one request; the answer page is the same
whether the claim matched or not."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import FlowExpired, InvalidIdentifier, MalformedInput, WeakCode
from securebox_auth.flows.recovery import RecoveryKind, RecoveryState
from securebox_server.login.flow import SourceBudget, count_failure, hit_limits
from securebox_server.recovery.card import CardChallenge, answer_card, start_card
from securebox_server.recovery.identifier import send_identifier
from securebox_server.recovery.service import RecoveryService, service_of
from securebox_server.web.addresses import source_of
from securebox_server.web.errors import respond
from securebox_server.web.pages import language, render
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


def _service(request: Request) -> RecoveryService:
    return service_of(request)


@router.get("/recovery")
def choose(request: Request) -> Response:
    box = _service(request).box
    card = box.factors.issuer is not None
    questions = box.policy.recovery.secret_questions
    return render(request, "recovery/choose.html", card=card, questions=questions)


@router.get("/recovery/code")
def code_form(request: Request) -> Response:
    return render(request, "recovery/code.html", error=None)


@router.post("/recovery/code")
def code_submit(
    request: Request,
    client_id: str = Form(default="", max_length=64),
    user_number: str = Form(default="", max_length=64),
    email: str = Form(default="", max_length=320),
) -> Response:
    recovery = _service(request)
    account = f"{client_id.strip()}/{user_number.strip()}"[:64]
    hit_limits(request, "recovery", account)
    flow = recovery.start(RecoveryKind.CODE_BY_EMAIL)
    try:
        recovery.request_link(flow.id, client_id, user_number, email.strip(), language(request))
    except (InvalidIdentifier, MalformedInput):
        return render(request, "recovery/code.html", status=400, error="fields")
    hours = int(recovery.box.policy.recovery.reset_link_lifetime.total_seconds() // 3600)
    return render(request, "recovery/sent.html", channel="email", hours=max(1, hours))


def _link_gone(request: Request) -> Response:
    """A link used, replaced by a newer request, expired or unknown (one answer for all):
    ``410``, and the way to ask for a new one (the login's error page would speak of a
    login)."""
    return render(request, "recovery/link_gone.html", status=410)


@router.get("/recovery/link/{token}")
def link_form(request: Request, token: str) -> Response:
    hit_limits(request, "recovery.link", source_of(request))
    try:
        _service(request).link(token)
    except FlowExpired:
        return _link_gone(request)
    # the token is in this page's address: the server's Referrer-Policy (same-origin) and
    # no-store keep it out of other sites' logs and of caches
    return render(request, "recovery/new_code.html", token=token, error=None)


@router.post("/recovery/link/{token}")
def link_submit(
    request: Request,
    token: str,
    code: str = Form(default="", max_length=64),
    confirm: str = Form(default="", max_length=64),
) -> Response:
    hit_limits(request, "recovery.link", source_of(request))
    recovery = _service(request)
    try:
        if code != confirm:
            recovery.link(token)
            return render(request, "recovery/new_code.html", status=400, token=token, error="same")
        recovery.use_link(token, code, language(request))
    except FlowExpired:
        return _link_gone(request)
    except (WeakCode, MalformedInput) as exc:
        return render(request, "recovery/new_code.html", status=400, token=token, error=str(exc))
    return render(request, "recovery/done.html", what="code")


@router.get("/recovery/identifier")
def identifier_form(request: Request) -> Response:
    return render(request, "recovery/identifier.html", error=None)


@router.post("/recovery/identifier")
def identifier_submit(
    request: Request,
    siren: str = Form(default="", max_length=32),
    mobile: str = Form(default="", max_length=32),
    code: str = Form(default="", max_length=64),
) -> Response:
    recovery = _service(request)
    hit_limits(request, "recovery.identifier", "".join(siren.split())[:32] or "-")
    flow = recovery.start(RecoveryKind.IDENTIFIER_BY_SMS)
    try:
        send_identifier(
            recovery, flow.id, siren, mobile, code, language(request), SourceBudget(request)
        )
    except (InvalidIdentifier, MalformedInput):
        return render(request, "recovery/identifier.html", status=400, error="fields")
    return render(request, "recovery/sent.html", channel="sms", hours=0)


def _card_page(request: Request, challenge: CardChallenge, *, rejected: bool = False) -> Response:
    return render(
        request,
        "recovery/card_challenge.html",
        status=401 if rejected else 200,
        flow_id=challenge.flow.id,
        challenge_id=challenge.challenge_id,
        digits=challenge.digits,
        rejected=rejected,
    )


@router.get("/recovery/card")
def card_form(request: Request) -> Response:
    if _service(request).box.factors.issuer is None:
        return respond(request, 404, "not_found")
    return render(request, "recovery/card.html", error=None)


@router.post("/recovery/card")
def card_submit(
    request: Request,
    client_id: str = Form(default="", max_length=64),
    user_number: str = Form(default="", max_length=64),
) -> Response:
    recovery = _service(request)
    if recovery.box.factors.issuer is None:
        return respond(request, 404, "not_found")
    hit_limits(request, "recovery", f"{client_id.strip()}/{user_number.strip()}"[:64])
    try:
        challenge = start_card(recovery, client_id, user_number)
    except InvalidIdentifier:
        return render(request, "recovery/card.html", status=400, error="fields")
    return _card_page(request, challenge)


@router.post("/recovery/card/answer")
def card_answer(
    request: Request,
    flow_id: str = Form(default="", max_length=64),
    challenge_id: str = Form(default="", max_length=128),
    code: str = Form(default="", max_length=64),
) -> Response:
    recovery = _service(request)
    stored = recovery.get(flow_id)
    who = stored.principal.key if stored.principal else "-"
    hit_limits(request, "recovery.card", who)
    flow, again = answer_card(recovery, flow_id, challenge_id, code, language(request))
    if flow.state is RecoveryState.DONE:
        return render(request, "recovery/sent.html", channel="card", hours=0)
    count_failure(request)
    if again is None:
        raise FlowExpired("too many wrong codes: start again")
    return _card_page(request, again, rejected=True)
