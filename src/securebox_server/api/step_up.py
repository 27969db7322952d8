"""``/api/v1/step-ups``: the step-up as a resource.

``POST /step-ups {operation, details}`` asks the policy engine about the operation in the
caller's session; the flow shows what is being approved (``display``: amount and payee,
batch total...) and the methods, bound to the operation's ``digest``. Challenges and
answers work as in the login; once the rule is satisfied the grant is recorded, the
session gets a new identifier (ADR 0012) and the answer carries the new token (or cookie).
The protected operation itself (for instance ``POST /api/v1/payees``) then consumes the
grant. A step-up belongs to the session that started it.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import FlowOutOfOrder, MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_auth.flows.step_up import StepUpFlow, StepUpState
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment
from securebox_auth.shell.step_up import StepUpPage
from securebox_server.api.common import (
    CHALLENGED,
    PREFIX,
    PROBLEMS,
    ApiSession,
    Authenticated,
    api_problem,
    deliver,
    fields_of,
    gone,
    sealer,
    to_answer,
)
from securebox_server.api.links import flow_links, linked
from securebox_server.api.models import (
    Action,
    AnswerBody,
    ChallengeBody,
    ChallengeOut,
    StepUpOut,
    StepUpStart,
)
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["flow_out", "operation_request", "router", "seal"]

router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["step-up"])
#: A step-up's operations, on the flow of the answer (OpenAPI links).
_LINKS: Final = flow_links("step-ups")
KIND: Final = "S"
_MAX_PAYMENTS: Final = 500


def _text(details: dict[str, Any], key: str) -> str:
    value = details.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= 80:
        raise MalformedInput(f"details.{key}: text")
    return value


def _payment(details: dict[str, Any]) -> Payment:
    amount = details.get("amount")
    if not isinstance(amount, str | int) or isinstance(amount, bool):
        raise MalformedInput("details.amount: a decimal string such as 1250.50")
    if isinstance(amount, str) and len(amount) > 20:
        raise MalformedInput("details.amount: too long")
    money = Money.parse(amount, _text(details, "currency"))
    return Payment(money, _text(details, "payee"))


def operation_request(operation: str, details: dict[str, Any]) -> OperationRequest:
    """The library's request for ``operation`` with the JSON ``details`` (validated)."""
    if "payments" in details:
        items = details["payments"]
        if not isinstance(items, list) or not 0 < len(items) <= _MAX_PAYMENTS:
            raise MalformedInput(f"details.payments: 1 to {_MAX_PAYMENTS} payments")
        if not all(isinstance(item, dict) for item in items):
            raise MalformedInput("details.payments: objects")
        return OperationRequest(operation, batch=Batch.of(_payment(item) for item in items))
    if "amount" in details:
        return OperationRequest(operation, payment=_payment(details))
    if "payee" in details:
        return OperationRequest(operation, payee=_text(details, "payee"))
    return OperationRequest(operation)


def seal(request: Request, handle: str) -> str:
    return sealer(request).seal(KIND, handle)


def _open(request: Request, flow_id: str) -> str:
    with gone():
        return sealer(request).open(KIND, flow_id)


def _href(flow_id: str, tail: str) -> str:
    return f"{PREFIX}/step-ups/{flow_id}/{tail}"


def flow_out(flow_id: str, flow: StepUpFlow, *, rejected: bool = False) -> StepUpOut:
    challenge = flow.challenge
    methods = list(challenge.methods) if challenge is not None else []
    open_ = flow.state is StepUpState.CHALLENGED
    return StepUpOut(
        id=flow_id,
        operation=flow.request.operation,
        state=flow.state.value,
        expires_at=flow.expires_at.isoformat(),
        display=[list(pair) for pair in flow.request.display()],
        digest=flow.digest,
        methods=methods if open_ else [],
        rejected=rejected,
        actions=[
            Action(
                method=m,
                href=_href(flow_id, "answers"),
                fields=fields_of(m),
                challenge=_href(flow_id, "challenges") if m in CHALLENGED else None,
            )
            for m in (methods if open_ else [])
        ],
    )


def _json(out: StepUpOut, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(out.model_dump(mode="json", exclude_none=True), status, headers=headers)


@router.post(
    "/step-ups",
    status_code=201,
    response_model=StepUpOut,
    response_model_exclude_none=True,
    responses={**PROBLEMS, 201: linked("The new step-up", _LINKS)},
)
def start(request: Request, body: StepUpStart, api: Authenticated) -> Response:
    """Ask for ``operation`` (``details``: ``payee``; ``amount``, ``currency`` and
    ``payee``; or ``payments``). ``challenged``: prove one of ``methods``; ``ready``: the
    session may already perform it; ``403`` problem when the policy refuses it."""
    hit_limits(request, "step_up.start", api.session.principal.key)
    operation = operation_request(body.operation, body.details)
    page = server_of(request).box.start_step_up(api.session_id, operation)
    if page.state is StepUpState.FAILED:
        return api_problem(request, 403, "operation_denied")
    flow_id = seal(request, page.handle)
    return _json(flow_out(flow_id, page.flow), 201, {"Location": f"{PREFIX}/step-ups/{flow_id}"})


@router.get(
    "/step-ups/{flow_id}",
    response_model=StepUpOut,
    response_model_exclude_none=True,
    responses={**PROBLEMS, 200: linked("The step-up", _LINKS)},
)
def show(request: Request, flow_id: str, api: Authenticated) -> Response:
    handle = _open(request, flow_id)
    with gone():
        flow = server_of(request).box.step_up_flow(api.session_id, handle)
    return _json(flow_out(flow_id, flow))


@router.post(
    "/step-ups/{flow_id}/challenges",
    status_code=201,
    response_model=ChallengeOut,
    response_model_exclude_none=True,
    responses=PROBLEMS,
)
def challenge(request: Request, flow_id: str, body: ChallengeBody, api: Authenticated) -> Response:
    """What ``body.method`` answers over, bound to the operation's digest (CAP: ``mode``
    ``sign``, ``tds`` or ``respond``; SMS/e-mail: an enrolled destination)."""
    handle = _open(request, flow_id)
    box = server_of(request).box
    sid, m = api.session_id, body.method
    hit_limits(request, "step_up.challenge", api.session.principal.key)
    out: ChallengeOut
    with gone():
        if m in ("sms_otp", "email_otp"):
            channel = Channel.SMS if m == "sms_otp" else Channel.EMAIL
            known = [
                d
                for d in box.factors.oob.destinations(api.session.principal)
                if d.channel is channel and body.destination in (None, d.key)
            ]
            if not known:
                raise FlowOutOfOrder("no enrolled destination for this channel")
            sent = box.send_step_up_code(
                sid, handle, channel=channel, destination=known[0].destination
            )
            out = ChallengeOut(method=m, challenge_id=sent)
        elif m in ("cap_sign", "cap_respond"):
            if body.card_id is None:
                raise MalformedInput("card_id is required for this method")
            mode = CapMode.RESPOND if m == "cap_respond" else CapMode(body.mode or "sign")
            cid, typed = box.step_up_cap_challenge(sid, handle, body.card_id, mode)
            out = ChallengeOut(method=m, challenge_id=cid, display=list(typed))
        elif m == "passkey_uv":
            options, ceremony = box.step_up_passkey_options(sid, handle)
            out = ChallengeOut(method=m, challenge_id=ceremony, options=options)
        elif m in ("certificate", "smartcard_pin"):
            cert = box.step_up_certificate_challenge(sid, handle)
            to_sign = base64.urlsafe_b64encode(cert.payload()).rstrip(b"=").decode("ascii")
            out = ChallengeOut(
                method=m,
                challenge_id=cert.challenge_id,
                to_sign=to_sign,
                expires_at=cert.expires_at.isoformat(),
            )
        else:
            raise MalformedInput("this method takes no challenge")
    return JSONResponse(out.model_dump(mode="json", exclude_none=True), 201)


@router.post(
    "/step-ups/{flow_id}/answers",
    response_model=StepUpOut,
    response_model_exclude_none=True,
    responses={
        **PROBLEMS,
        200: linked("The step-up's next state (ready: the grant, a new session)", _LINKS),
        422: linked("The answer was refused (the flow, rejected)", _LINKS, {"model": StepUpOut}),
    },
)
def answer(request: Request, flow_id: str, body: AnswerBody, api: Authenticated) -> Response:
    """Prove one factor. ``ready``: the grant is recorded and the session was rotated: the
    new token is in ``session`` (or the new cookie is set); retry the operation with it."""
    handle = _open(request, flow_id)
    hit_limits(request, "step_up.answer", api.session.principal.key)
    with gone():
        page = server_of(request).box.prove_step_up(api.session_id, handle, to_answer(body))
    return _after(request, flow_id, page, api)


def _after(request: Request, flow_id: str, page: StepUpPage, api: ApiSession) -> Response:
    if page.state is StepUpState.FAILED:
        return api_problem(request, 403, "login_blocked")
    out = flow_out(flow_id, page.flow, rejected=page.rejected)
    if page.session_id == api.session_id:
        return _json(out, 422 if page.rejected else 200)
    return deliver(request, out, page.session_id, cookie=api.via == "cookie")
