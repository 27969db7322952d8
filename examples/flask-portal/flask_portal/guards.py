"""The two decorators a view takes: :func:`login_required` and :func:`step_up_required`.

Neither holds a rule: whether a step-up is needed, which methods prove it, for how long a
grant lives and whether it is single use are the policy's (``policy.toml``), decided by
securebox's flows. The decorators carry the requests between the browser and the flows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Final

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from securebox_auth import (
    CapAnswer,
    CapMode,
    FlowError,
    InvalidCode,
    MalformedInput,
    OperationRequest,
    StepUpPage,
    StepUpState,
)

from flask_portal.portal import DECOY_CARD, card_for, current_portal, current_session

__all__ = ["Build", "ProvenView", "View", "login_required", "step_up_required"]

View = Callable[[], ResponseReturnValue]
#: A sensitive view: it receives the operation as securebox proved and consumed it.
ProvenView = Callable[[OperationRequest], ResponseReturnValue]
#: Reads the operation from the submitted form (raises ``MalformedInput`` on bad input).
Build = Callable[[Mapping[str, str]], OperationRequest]

#: Form fields of the step-up itself; every other field is the operation's, echoed as is.
RESERVED: Final = frozenset({"step_up", "cap_challenge", "cap_code"})
_CODE: Final = re.compile(r"[0-9]{4,16}")
_SEPARATORS: Final = re.compile(r"[\s-]+")


def login_required(view: View) -> View:
    """The view runs in a live securebox session; otherwise the user logs in."""

    @functools.wraps(view)
    def wrapper() -> ResponseReturnValue:
        if current_session().auth is None:
            return redirect(url_for("portal.login"))
        return view()

    return wrapper


def reader_code(typed: str) -> str | None:
    """What the user typed from the reader's display, without spaces and dashes; ``None``
    when it is not a reader's code."""
    code = _SEPARATORS.sub("", typed)
    return code if _CODE.fullmatch(code) else None


def step_up_required(operation: str, build: Build) -> Callable[[ProvenView], View]:
    """A POST view that runs ``operation`` only once securebox proved and consumed it.

    The first POST (the operation's form) starts the step-up: the page shows what the user
    proves (amount and payee, RTS art. 5(1)(a)) and a CAP challenge bound to the operation's
    digest (the reader's Sign key for a payment, Respond otherwise). The second POST (the
    same fields, the flow's handle, the reader's code) proves it; once the grant is
    recorded (the session gets a new identifier) it is consumed and the view runs, exactly
    once, with the operation securebox proved. If the operation's fields changed between
    the two, nothing is proved and nothing runs.
    """

    def decorate(view: ProvenView) -> View:
        @functools.wraps(view)
        def wrapper() -> ResponseReturnValue:
            s = current_session()
            if s.auth is None or s.session_id is None:
                return redirect(url_for("portal.login"))
            fields = {k: v for k, v in request.form.items() if k not in RESERVED}
            try:
                wanted = build(fields)
            except MalformedInput as bad:
                return _error(400, "invalid_operation", str(bad))
            if wanted.operation != operation:  # pragma: no cover - a programming error
                raise RuntimeError(f"{view.__name__} builds {wanted.operation}, not {operation}")
            handle = request.form.get("step_up", "")
            if not handle:
                page = current_portal().box.start_step_up(s.session_id, wanted)
                return _next(page, fields, view)
            return _prove(s.session_id, handle, wanted, fields, view)

        return wrapper

    return decorate


def _prove(
    session_id: str,
    handle: str,
    wanted: OperationRequest,
    fields: dict[str, str],
    view: ProvenView,
) -> ResponseReturnValue:
    box = current_portal().box
    try:
        flow = box.step_up_flow(session_id, handle)
    except (FlowError, MalformedInput):
        return _error(409, "step_up_over", "This confirmation is over: start the operation again.")
    if flow.request != wanted:
        # What the user would prove is not what the form now asks for: refuse before any
        # code is checked (the flow keeps its own operation; it expires unused).
        return _error(409, "operation_changed", "The operation changed: start it again.")
    code = reader_code(request.form.get("cap_code", ""))
    challenge = request.form.get("cap_challenge", "")
    if code is None or not challenge:
        return _ask(handle, session_id, fields, 400)
    card = card_for(current_portal(), flow.principal)
    answer = CapAnswer(card, code, challenge, _mode(flow.request))
    try:
        page = box.prove_step_up(session_id, handle, answer)
    except InvalidCode:
        return _ask(handle, session_id, fields, 400)
    return _next(page, fields, view)


def _next(page: StepUpPage, fields: dict[str, str], view: ProvenView) -> ResponseReturnValue:
    """After a step of the flow: run the operation when it is ready, ask for the code while
    it is challenged, otherwise say why not."""
    s, box = current_session(), current_portal().box
    s.use(page.session_id)  # a recorded step-up rotated the session: the cookie follows
    if page.ready:
        done = box.execute(page.session_id, page.handle)
        if not done.executed:
            return _error(403, "not_executed", "The operation was not run: start it again.")
        return view(done.flow.request)
    if page.state is StepUpState.CHALLENGED:
        status = 401 if page.rejected else 200
        return _ask(page.handle, page.session_id, fields, status)
    if page.state is StepUpState.FAILED and page.rejected:
        return _error(403, "blocked", "Too many wrong codes: the reader codes are blocked.")
    return _error(403, "refused", "The policy does not allow this operation now.")


def _mode(operation: OperationRequest) -> CapMode:
    """Sign (the challenge, then the amount) for a payment; Respond (the challenge alone)
    for an operation without an amount, a payee say."""
    return CapMode.SIGN if operation.payment is not None else CapMode.RESPOND


def _ask(handle: str, session_id: str, fields: dict[str, str], status: int) -> ResponseReturnValue:
    """The confirmation page: what the user proves, and a fresh CAP challenge bound to it
    (single use: a refused code spent the last one)."""
    box = current_portal().box
    flow = box.step_up_flow(session_id, handle)
    card = card_for(current_portal(), flow.principal)
    display = () if flow.challenge is None else flow.challenge.display
    if card == DECOY_CARD:
        return _error(403, "no_card", "This operation needs your CAP card: ask your bank for one.")
    mode = _mode(flow.request)
    challenge_id, typed = box.step_up_cap_challenge(session_id, handle, card, mode)
    body = render_template(
        "step_up.html",
        display=display,
        key=mode.value.capitalize(),
        digits=typed[0],
        amount=None if flow.request.payment is None else flow.request.payment.amount,
        handle=handle,
        challenge_id=challenge_id,
        fields=fields,
        rejected=status != 200,
        action=request.path,
    )
    return body, status


def _error(status: int, code: str, message: str) -> ResponseReturnValue:
    return render_template("error.html", code=code, message=message), status
