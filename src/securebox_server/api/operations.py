"""Protected operations of the API, showing RFC 9470 (step-up authentication challenges):
``POST /api/v1/payees`` (payee management, PSD2 RTS art. 13: a step-up bound to the payee,
single use) and ``POST /api/v1/cheque-book-orders`` (a recent strong proof, five minutes).

Each route asks the engine about its operation in the caller's session
(``Securebox.start_step_up``). When the session may perform it (a live grant, or a fresh
enough proof) the operation runs and consumes what it must (``Securebox.execute``).
Otherwise the answer is ``401`` with the engine's challenge, ``WWW-Authenticate: Bearer
error="insufficient_user_authentication", error_description=..., acr_values=...,
max_age=...``, and a problem document whose ``step_up`` names the step-up resource already
opened for exactly this request; once it is proven the client sends the same request again
(with the rotated session token). In the demo the operation is recorded as an audit event
(``payee.add``, ``cheque_book.order``): no money moves.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from securebox_auth.audit import AuditEvent
from securebox_auth.flows.step_up import StepUpState
from securebox_auth.policy.decision import StepUpRequired
from securebox_auth.policy.linking import OperationRequest, normalise_payee
from securebox_server.api.common import PREFIX, PROBLEMS, ApiSession, Authenticated, api_problem
from securebox_server.api.models import ChequeBookBody, OrderOut, PayeeBody, PayeeOut
from securebox_server.api.step_up import seal
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["guarded", "router"]

router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["operations"])


def guarded(
    request: Request, api: ApiSession, operation: OperationRequest, action: str
) -> Response | None:
    """``None`` when ``operation`` was allowed (and its grant consumed; ``action`` is then
    audited), else the ``401`` RFC 9470 challenge or the ``403`` refusal to answer."""
    hit_limits(request, "api.operation", api.session.principal.key)
    box = server_of(request).box
    page = box.start_step_up(api.session_id, operation)
    if page.state is StepUpState.READY:
        done = box.execute(page.session_id, page.handle)
        if done.executed:
            who = api.session.principal.key
            details = {"operation": operation.operation, "digest": page.digest or "-"}
            event = AuditEvent.make(
                box.now(), action, actor=who, subject=who, outcome="success", details=details
            )
            box.store.commit([], [event])
            return None
    decision = page.decision
    if page.state is StepUpState.CHALLENGED and isinstance(decision, StepUpRequired):
        challenge = decision.challenge
        return api_problem(
            request,
            401,
            "insufficient_user_authentication",
            headers={"WWW-Authenticate": decision.www_authenticate()},
            step_up=f"{PREFIX}/step-ups/{seal(request, page.handle)}",
            acr_values=list(challenge.acr_values),
            max_age=challenge.max_age,
        )
    return api_problem(request, 403, "operation_denied")


@router.post("/payees", status_code=201, response_model=PayeeOut, responses=PROBLEMS)
def add_payee(request: Request, body: PayeeBody, api: Authenticated) -> Response:
    """Add a trusted payee (a step-up bound to this payee, used once)."""
    operation = OperationRequest("payee_management", payee=body.payee)
    refused = guarded(request, api, operation, "payee.add")
    if refused is not None:
        return refused
    return JSONResponse({"payee": normalise_payee(body.payee), "status": "recorded"}, 201)


@router.post("/cheque-book-orders", status_code=201, response_model=OrderOut, responses=PROBLEMS)
def order_cheque_books(request: Request, body: ChequeBookBody, api: Authenticated) -> Response:
    """Order cheque books (a strong proof of the last five minutes)."""
    refused = guarded(request, api, OperationRequest("cheque_book_order"), "cheque_book.order")
    if refused is not None:
        return refused
    return JSONResponse({"books": body.books, "status": "recorded"}, 201)
