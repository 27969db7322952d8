"""What is being approved, the proof pages, and the execution that consumes the grant.

``GET /operations/{id}`` shows the order as entered and the challenge's ``display`` (amount
and payee, batch total and payees: RTS art. 5(1)(a)), then either the methods the policy
allows for it or, once the grant exists, the "confirm" button. ``POST /operations/{id}/
execute`` rebuilds the request from the stored order: unless it equals the flow's request
(the digest the factors proved), nothing runs (:func:`execute`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.entitlements.accounts import Role
from securebox_auth.errors import (
    FlowError,
    InvalidCode,
    MalformedInput,
    NotPermitted,
    SecureboxError,
)
from securebox_auth.flows.step_up import StepUpFlow, StepUpState
from securebox_auth.identity import Principal
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.shell.answers import Answer
from securebox_auth.shell.gateways import DeliveryFailed
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.stepup import proofs
from securebox_server.stepup.common import book_of, follow_session
from securebox_server.stepup.labels import ADMIN_KIND_NAMES
from securebox_server.stepup.orders import Order
from securebox_server.stepup.requests import Kind, request_of
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession

__all__ = ["router", "same_request"]

router = APIRouter(route_class=SecureRoute)


def same_request(stored: OperationRequest, flow: StepUpFlow) -> bool:
    """Is the stored order exactly what the flow's factors proved (operation, data and the
    dynamic-linking digest, compared in constant time)?"""
    if stored != flow.request:
        return False
    challenge = flow.challenge
    if challenge is None or challenge.digest is None:
        return True
    digest = stored.digest_for(challenge.linking) or ""
    return hmac.compare_digest(digest, challenge.digest)


def _load(request: Request, web: WebSession, order_id: str) -> tuple[Order, StepUpFlow | None]:
    """The order and its step-up flow (``None`` once it is not pending). An order whose flow
    expired, or belongs to an ended session, is refused: it is entered again."""
    book = book_of(request)
    principal = web.session.principal
    order = book.get(principal, order_id)
    if not order.pending or order.handle is None:
        return order, None
    box = server_of(request).box
    try:
        flow = box.step_up_flow(web.session_id, order.handle)
    except FlowError:
        book.refuse(principal, order, box.clock.now())
        return book.get(principal, order_id), None
    return order, flow


def _page(request: Request, order: Order, flow: StepUpFlow | None, status: int = 200) -> Response:
    display = () if flow is None or flow.challenge is None else flow.challenge.display
    methods = () if flow is None or flow.challenge is None else flow.challenge.methods
    box = server_of(request).box
    offered = [] if flow is None else [m for m in methods if proofs.available(box, flow, m)]
    return render(
        request,
        "stepup/approve.html",
        status=status,
        order=order,
        display=display,
        challenged=flow is not None and flow.state is StepUpState.CHALLENGED,
        ready=flow is not None and flow.state is StepUpState.READY,
        offered=[(m, proofs.LABELS[m]) for m in offered],
        unavailable=[m for m in methods if m not in offered],
        proven=() if flow is None else flow.proven,
    )


@router.get("/operations/{order_id}")
def approval(request: Request, web: LoggedIn, order_id: str) -> Response:
    order, flow = _load(request, web, order_id)
    return _page(request, order, flow)


@router.get("/operations/{order_id}/proof/{method}")
def proof_page(request: Request, web: LoggedIn, order_id: str, method: str) -> Response:
    order, flow = _load(request, web, order_id)
    if flow is None or flow.challenge is None or order.handle is None:
        return _page(request, order, flow, status=409)
    form = proofs.form(server_of(request).box, web.session_id, order.handle, flow, method)
    display = flow.challenge.display
    return render(
        request,
        "stepup/proof.html",
        order=order,
        display=display,
        form=form,
        rejected=False,
        agent=server_of(request).settings.agent_url,
    )


@router.post("/operations/{order_id}/proof/{method}/send")
def proof_send(
    request: Request,
    web: LoggedIn,
    order_id: str,
    method: str,
    target: str = Form(default="", max_length=128),
) -> Response:
    """Send a code by SMS or e-mail for this operation, to a verified destination of the
    user named by its keyed identifier (never a number or address from the browser)."""
    principal = web.session.principal
    hit_limits(request, "stepup.proof.send", principal.key)
    order, flow = _load(request, web, order_id)
    if flow is None or flow.challenge is None or order.handle is None:
        return _page(request, order, flow, status=409)
    box = server_of(request).box
    proofs.form(box, web.session_id, order.handle, flow, method)  # offered and available?
    if method not in proofs.CHANNELS:  # TOTP, CAP...: nothing to send (was a KeyError: 503)
        raise MalformedInput("this method sends no code")
    targets = proofs.destinations(box, flow, method)
    chosen = next((d for d in targets if d.key == target), targets[0])
    status, problem, challenge_id, sent = 200, "", "", None
    try:
        challenge_id = box.send_step_up_code(
            web.session_id,
            order.handle,
            channel=proofs.CHANNELS[method],
            destination=chosen.destination,
        )
        sent = chosen
    except NotPermitted:
        status, problem = 429, "throttled"
    except DeliveryFailed:
        status, problem = 503, "undelivered"
    form = proofs.form(
        box, web.session_id, order.handle, flow, method, sent=sent, challenge_id=challenge_id
    )
    display = flow.challenge.display
    return render(
        request,
        "stepup/proof.html",
        status=status,
        order=order,
        display=display,
        form=form,
        rejected=False,
        problem=problem,
    )


@router.post("/operations/{order_id}/proof/{method}")
def proof_answer(
    request: Request,
    web: LoggedIn,
    order_id: str,
    method: str,
    code: str = Form(default="", max_length=64),
    ceremony: str = Form(default="", max_length=200),
    response: str = Form(default="", max_length=16384),
    card: str = Form(default="", max_length=200),
    mode: str = Form(default="", max_length=20),
    target: str = Form(default="", max_length=128),
    signature: str = Form(default="", max_length=2048),
) -> Response:
    principal = web.session.principal
    hit_limits(request, "stepup.proof", principal.key)
    order, flow = _load(request, web, order_id)
    if flow is None or flow.challenge is None or order.handle is None:
        return _page(request, order, flow, status=409)
    box = server_of(request).box
    if method == "certificate":  # the agent's signature (static/js/certificate.js)
        response = signature
    answer: Answer = proofs.answer(
        method, code=code, ceremony=ceremony, response=response, card=card, mode=mode
    )
    try:
        page = box.prove_step_up(web.session_id, order.handle, answer)
    except InvalidCode:
        page = None
    if page is not None and page.state is StepUpState.FAILED:
        book_of(request).refuse(principal, order, box.clock.now())
        return render(request, "stepup/refused.html", status=403, kind=order.kind, changed=False)
    if page is None or page.rejected:
        sent = None
        if method in proofs.CHANNELS:  # the same code may be typed again, or a new one sent
            found = proofs.destinations(box, flow, method)
            sent = next((d for d in found if d.key == target), None)
        form = proofs.form(
            box, web.session_id, order.handle, flow, method, sent=sent, challenge_id=ceremony
        )
        display = flow.challenge.display
        return render(
            request,
            "stepup/proof.html",
            status=401,
            order=order,
            display=display,
            form=form,
            rejected=True,
            agent=server_of(request).settings.agent_url,
        )
    done = see_other(f"/operations/{order.id}")
    follow_session(request, done, web, page.session_id)
    return done


@router.post("/operations/{order_id}/execute")
def execute(
    request: Request,
    web: LoggedIn,
    order_id: str,
    proof: str = Form(default="", max_length=64),
) -> Response:
    """Consume the grant and apply the order; ``proof`` is the company's certification
    secret, typed on this last step when adding a company (so it is never stored)."""
    principal = web.session.principal
    hit_limits(request, "stepup.execute", principal.key)
    order, flow = _load(request, web, order_id)
    book = book_of(request)
    box = server_of(request).box
    if flow is None or order.handle is None:
        return render(request, "stepup/done.html", status=409, order=order, display=(), again=True)
    if not same_request(request_of(order.kind, order.details), flow):
        book.refuse(principal, order, box.clock.now())
        return render(request, "stepup/refused.html", status=409, kind=order.kind, changed=True)
    page = box.execute(web.session_id, order.handle)
    if not page.executed:
        book.refuse(principal, order, box.clock.now())
        return render(request, "stepup/refused.html", status=403, kind=order.kind, changed=False)
    note = "done"
    if order.kind is Kind.ENTITLEMENT or order.kind in ADMIN_KIND_NAMES:
        try:
            note = _change(request, web, order)
        except SecureboxError:  # the entitlement rules refused this change (last admin...)
            book.refuse(principal, order, box.clock.now())
            return render(
                request, "stepup/refused.html", status=403, kind=order.kind, changed=False
            )
    elif (change := _change_of(request, order.kind)) is not None:
        try:
            change(request, web, order, proof)
        except SecureboxError as refused:  # the library's rules refused it (or a wrong secret)
            book.refuse(principal, order, box.clock.now())
            return render(
                request,
                "stepup/refused.html",
                status=403,
                kind=order.kind,
                changed=False,
                reason=refused.code,
            )
    book.finish(principal, order, box.clock.now(), consumed=True)
    done = book.get(principal, order.id)
    display = () if flow.challenge is None else flow.challenge.display
    return render(request, "stepup/done.html", order=done, display=display, again=False, note=note)


def _change_of(request: Request, kind: Kind) -> Callable[..., None] | None:
    """The change applying an order of ``kind`` once its grant is consumed, when another
    package registered one on ``app.state.changes`` (companies and third parties:
    :mod:`securebox_server.admin.company_changes`)."""
    found: Mapping[Kind, Callable[..., None]] = getattr(request.app.state, "changes", {})
    return found.get(kind)


def _change(request: Request, web: WebSession, order: Order) -> str:
    box = server_of(request).box
    if order.kind in ADMIN_KIND_NAMES:  # users, codes, paper (securebox_server.admin)
        from securebox_server.admin.changes import apply_order  # noqa: PLC0415 (import cycle)

        state = request.app.state.admin
        principal = web.session.principal
        return apply_order(box, state, web.session_id, principal, order.kind, order.details)
    target = Principal.from_key(str(order.details["user"]))
    role = Role(str(order.details["role"]))
    box.entitlements.set_role(web.session_id, target, role)
    return "done"
