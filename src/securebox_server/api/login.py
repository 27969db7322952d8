"""``/api/v1/login/flows``: the login as a resource (Ory Kratos' login flow).

``POST /login/flows`` identifies (client id and user number) and answers ``201`` with the
flow: an opaque ``id`` (the sealed library handle, :mod:`.keys`), its ``state``,
``expires_at``, the ``offered`` methods and the ``actions`` (where to post, which fields).
Unknown principals get a flow of the same shape (the library keeps a flow for them too).
``POST /login/flows/{id}/challenges`` asks for what a method answers over (SMS or e-mail
code sent to an enrolled destination, CAP Respond challenge, passkey options, certificate
challenge); ``POST /login/flows/{id}/answers`` answers. A refused answer is ``422`` with the
flow (``rejected``); an answer the state does not expect ``409``; a finished, expired or
unknown flow ``410``. Once done, the session is in the body (``session_delivery: token``,
the default) or in the session cookie (``cookie``).
"""

from __future__ import annotations

import base64
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from securebox_auth.errors import FlowOutOfOrder, MalformedInput, WeakCode
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import codec
from securebox_auth.flows.login import LoginFlow, LoginState
from securebox_auth.shell import records
from securebox_auth.shell.login import LoginPage
from securebox_server.api.common import (
    CHALLENGED,
    PREFIX,
    PROBLEMS,
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
    FlowOut,
    LoginStart,
)
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.routing import CsrfRefused, SecureRoute

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["login"])
#: A login flow's operations, on the flow of the answer (OpenAPI links).
_LINKS: Final = flow_links("login/flows")
KIND: Final = "L"
CHANNEL: Final = "web"
#: Limit names (``login.code``/``login.totp`` as the HTML pages).
LIMIT: Final = {
    "confidential_code": "login.code",
    "totp": "login.totp",
    "code_change": "login.code",
}


def _href(flow_id: str, tail: str) -> str:
    return f"{PREFIX}/login/flows/{flow_id}/{tail}"


def _actions(flow_id: str, flow: LoginFlow) -> list[Action]:
    if flow.state is LoginState.CODE_CHANGE:
        return [
            Action(
                method="code_change",
                href=_href(flow_id, "answers"),
                fields=fields_of("code_change"),
            )
        ]
    if flow.finished:
        return []
    return [
        Action(
            method=m,
            href=_href(flow_id, "answers"),
            fields=fields_of(m),
            challenge=_href(flow_id, "challenges") if m in CHALLENGED else None,
        )
        for m in flow.offered
    ]


def _out(flow_id: str, flow: LoginFlow, *, rejected: bool = False) -> FlowOut:
    return FlowOut(
        id=flow_id,
        state=flow.state.value,
        expires_at=flow.expires_at.isoformat(),
        offered=[] if flow.finished else list(flow.offered),
        rejected=rejected,
        actions=_actions(flow_id, flow),
    )


def _json(out: FlowOut, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(out.model_dump(mode="json", exclude_none=True), status, headers=headers)


def _same_origin(request: Request) -> None:
    """A flow that ends in the session cookie is driven by this origin's pages only (no
    login CSRF: a foreign page cannot log a browser into another account)."""
    if request.headers.get("origin") != server_of(request).settings.origin:
        raise CsrfRefused("cookie sessions are for this origin's pages")


def _open(request: Request, flow_id: str) -> tuple[str, str]:
    """The handle and the session delivery (``token``/``cookie``) sealed in ``flow_id``."""
    with gone():
        delivery, _, handle = sealer(request).open(KIND, flow_id).partition("|")
        if delivery not in ("token", "cookie") or not handle:
            raise FlowOutOfOrder("no such flow")
    return handle, delivery


def _principal_key(request: Request, handle: str) -> str:
    parse = server_of(request).box.codes.parse_principal
    with gone():
        return records.parse_handle(handle, codec.LOGIN_FLOW, parse)[0].key


@router.post(
    "/login/flows",
    status_code=201,
    response_model=FlowOut,
    response_model_exclude_none=True,
    responses={**PROBLEMS, 201: linked("The new flow", _LINKS)},
)
def start(request: Request, body: LoginStart) -> Response:
    """Identify: a new login flow (the same shape whether the user exists or not)."""
    if body.session_delivery == "cookie":
        _same_origin(request)
    hit_limits(request, "login.identify")
    page = server_of(request).box.start_login(body.client_id, body.user_number, channel=CHANNEL)
    flow_id = sealer(request).seal(KIND, f"{body.session_delivery}|{page.handle}")
    out = _out(flow_id, page.flow)
    return _json(out, 201, {"Location": f"{PREFIX}/login/flows/{flow_id}"})


@router.get(
    "/login/flows/{flow_id}",
    response_model=FlowOut,
    response_model_exclude_none=True,
    responses={**PROBLEMS, 200: linked("The flow", _LINKS)},
)
def show(request: Request, flow_id: str) -> Response:
    handle, _ = _open(request, flow_id)
    with gone():
        flow = server_of(request).box.login_flow(handle)
    return _json(_out(flow_id, flow))


@router.post(
    "/login/flows/{flow_id}/challenges",
    status_code=201,
    response_model=ChallengeOut,
    response_model_exclude_none=True,
    responses=PROBLEMS,
)
def challenge(request: Request, flow_id: str, body: ChallengeBody) -> Response:
    """What ``body.method`` answers over. SMS and e-mail codes go to a destination the user
    enrolled (``destination`` names one by its key; the first of the channel otherwise):
    the API never sends a code where the caller says."""
    handle, _ = _open(request, flow_id)
    box = server_of(request).box
    m = body.method
    hit_limits(request, "login.challenge", _principal_key(request, handle))
    out: ChallengeOut
    with gone():
        if m in ("sms_otp", "email_otp"):
            channel = Channel.SMS if m == "sms_otp" else Channel.EMAIL
            flow = box.login_flow(handle)
            known = [
                d
                for d in box.factors.oob.destinations(flow.principal)
                if d.channel is channel and body.destination in (None, d.key)
            ]
            if not known:
                raise FlowOutOfOrder("no enrolled destination for this channel")
            sent = box.send_login_code(handle, channel=channel, destination=known[0].destination)
            out = ChallengeOut(method=m, challenge_id=sent)
        elif m == "cap_respond":
            if body.card_id is None:
                raise MalformedInput("card_id is required for this method")
            cid, digits = box.login_cap_challenge(handle, body.card_id)
            out = ChallengeOut(method=m, challenge_id=cid, display=[digits])
        elif m == "passkey_uv":
            options, ceremony = box.login_passkey_options(handle)
            out = ChallengeOut(method=m, challenge_id=ceremony, options=options)
        elif m in ("certificate", "smartcard_pin"):
            cert = box.login_certificate_challenge(handle)
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
    "/login/flows/{flow_id}/answers",
    response_model=FlowOut,
    response_model_exclude_none=True,
    responses={
        **PROBLEMS,
        200: linked("The flow's next state (the session once done)", _LINKS),
        422: linked("The answer was refused (the flow, rejected)", _LINKS, {"model": FlowOut}),
    },
)
def answer(request: Request, flow_id: str, body: AnswerBody) -> Response:
    """One answer: a method of ``offered`` with its fields, or ``code_change`` (``current``,
    ``new``) when the state is ``code_change``. ``200`` with the next state, the session
    once ``done``; ``422`` refused; ``403`` problem when the login ended (blocked or denied:
    the same for every principal)."""
    handle, delivery = _open(request, flow_id)
    if delivery == "cookie":
        _same_origin(request)
    server = server_of(request)
    limit = LIMIT.get(body.method, "login.answer")
    hit_limits(request, limit, _principal_key(request, handle))
    with gone():
        if body.method == "code_change":
            if body.current is None or body.new is None:
                raise MalformedInput("current and new are required")
            try:
                page = server.box.change_login_code(handle, body.current, body.new)
            except WeakCode:  # 400 here: 422 is the refused answer, with the flow
                return api_problem(request, 400, "weak_code")
        else:
            page = server.box.answer_login(handle, to_answer(body))
    return _after(request, flow_id, page, delivery)


def _after(request: Request, flow_id: str, page: LoginPage, delivery: str) -> Response:
    if page.session_id is not None:
        out = _out(flow_id, page.flow)
        return deliver(request, out, page.session_id, cookie=delivery == "cookie")
    if page.state is LoginState.FAILED:
        reason = getattr(page.action, "reason", "denied")
        code = "login_blocked" if reason in ("blocked", "too_many_failures") else "login_denied"
        return api_problem(request, 403, code)
    return _json(_out(flow_id, page.flow, rejected=page.rejected), 422 if page.rejected else 200)
