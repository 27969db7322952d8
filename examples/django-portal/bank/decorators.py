"""``@step_up_required("payees", describe=...)``: a view that runs only after securebox's
step-up for the operation, with dynamic linking to what the user submitted.

The decorated view renders its form on ``GET`` (``step_up(request)`` is ``None``). A ``POST``
is described by ``describe(data, principal)`` as a :class:`Protected` (the payee, payment
or batch the proof must be bound to, and the entitlement the user must hold), or ``None``
when the form is invalid (the view is called to show the errors, again with
``step_up(request)`` being ``None``). Then:

1. securebox's entitlement check (``box.entitlements.check``) must allow the user;
2. ``box.start_step_up`` asks the policy engine; when a live grant already allows it, the
   operation is executed at once; otherwise the submitted data waits in the Django session
   and the user goes to the step-up page (:mod:`bank.views`), which shows what is linked
   (the payee) and collects the factors the policy asks for;
3. the step-up page posts back here with the step-up's token: the entitlement is checked
   again, ``box.execute`` consumes the grant (once) and the view is called with
   ``step_up(request)`` a :class:`Proved` holding the **operation securebox proved** (act on
   ``proved.request.payee``, never on a field posted again).

The decorator decides nothing itself: every refusal is securebox's, explained.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from securebox_auth import (
    Batch,
    FlowError,
    NotAuthenticated,
    Operation,
    OperationRequest,
    Payment,
    Principal,
    SecureboxError,
    StepUpPage,
    StepUpState,
    Target,
)

from .auth import Connected, connected, redirect_to_login, renew, sign_out
from .checks import PROTECTED
from .securebox import operation_name, portal_box

__all__ = [
    "TOKEN_FIELD",
    "Protected",
    "Proved",
    "keep_pending",
    "pending",
    "refused",
    "step_up",
    "step_up_required",
]

#: The form field that carries a finished step-up back to the protected view.
TOKEN_FIELD = "securebox_step_up"  # noqa: S105 - a field name, not a secret
#: Where the Django session keeps the step-ups in progress, by token.
PENDING_KEY = "securebox_step_ups"

View = TypeVar("View", bound=Callable[..., HttpResponse])


@dataclass(frozen=True, slots=True)
class Protected:
    """What a submitted form asks for: the data the step-up is linked to, and the
    entitlement (an operation on a resource) securebox must allow first."""

    payee: str | None = None
    payment: Payment | None = None
    batch: Batch | None = None
    needs: tuple[Operation, Target] | None = None


@dataclass(frozen=True, slots=True)
class Proved:
    """The operation securebox proved and consumed, with the form data it came from."""

    request: OperationRequest
    data: Mapping[str, str]


Describe = Callable[[Mapping[str, str], Principal], Protected | None]


def step_up(request: HttpRequest) -> Proved | None:
    found = getattr(request, "step_up", None)
    return found if isinstance(found, Proved) else None


def pending(request: HttpRequest) -> dict[str, dict[str, Any]]:
    """The step-ups in progress of this Django session, by token."""
    found = request.session.get(PENDING_KEY)
    return found if isinstance(found, dict) else {}


def keep_pending(request: HttpRequest, token: str, entry: dict[str, Any] | None) -> None:
    table = pending(request)
    if entry is None:
        table.pop(token, None)
    else:
        table[token] = entry
    request.session[PENDING_KEY] = table


def refused(request: HttpRequest, why: str, *, status: int = 403) -> HttpResponse:
    return render(request, "bank/refused.html", {"why": why}, status=status)


def step_up_required(name: str, *, describe: Describe) -> Callable[[View], View]:
    """Run the view's ``POST`` only after securebox's step-up for the policy operation the
    portal calls ``name`` (``settings.SECUREBOX["OPERATIONS"]``)."""

    PROTECTED.add(name)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            link = connected(request)
            if link is None:
                return redirect_to_login(request)
            request.step_up = None  # type: ignore[attr-defined]
            if request.method != "POST":
                return view(request, *args, **kwargs)
            bound = functools.partial(view, *args, **kwargs)
            call = _Call(request, link, operation_name(name), describe, bound)
            try:
                token = request.POST.get(TOKEN_FIELD)
                return _start(call) if token is None else _finish(call, token)
            except NotAuthenticated:
                sign_out(request)
                return redirect_to_login(request)
            except FlowError as exc:
                return refused(request, f"This confirmation is over ({exc.code}): start again.")
            except SecureboxError as exc:
                return refused(request, f"Refused ({exc.code}).", status=400)

        return cast("View", wrapped)

    return decorate


def _form_data(request: HttpRequest) -> dict[str, str]:
    return {k: v for k, v in request.POST.items() if k not in {"csrfmiddlewaretoken", TOKEN_FIELD}}


def _entitled(principal: Principal, protected: Protected) -> str | None:
    """securebox's refusal of the entitlement, explained; ``None`` when allowed."""
    if protected.needs is None:
        return None
    decision = portal_box().entitlements.check(principal, *protected.needs)
    return None if decision.allowed else decision.explain()


@dataclass(frozen=True, slots=True)
class _Call:
    """One ``POST`` to a protected view (``view`` has its URL arguments bound)."""

    request: HttpRequest
    link: Connected
    operation: str
    describe: Describe
    view: Callable[[HttpRequest], HttpResponse]


def _start(call: _Call) -> HttpResponse:
    request, link = call.request, call.link
    data = _form_data(request)
    protected = call.describe(data, link.principal)
    if protected is None:
        return call.view(request)  # the view shows the form's errors
    why = _entitled(link.principal, protected)
    if why is not None:
        return refused(request, why)
    asked = OperationRequest(
        call.operation, payment=protected.payment, payee=protected.payee, batch=protected.batch
    )
    box = portal_box()
    page = box.start_step_up(link.session_id, asked)
    if page.ready:  # a live grant allows it now
        return _run(call, box.execute(page.session_id, page.handle), data)
    if page.state is not StepUpState.CHALLENGED:
        return refused(request, page.explain())
    token = secrets.token_urlsafe(16)
    entry = {"handle": page.handle, "operation": call.operation, "path": request.path}
    keep_pending(request, token, {**entry, "data": data})
    return redirect("bank:step_up", token=token)


def _finish(call: _Call, token: str) -> HttpResponse:
    request, link = call.request, call.link
    entry = pending(request).get(token)
    if entry is None or entry["path"] != request.path or entry["operation"] != call.operation:
        return refused(request, "No such confirmation in this session.", status=400)
    data = dict(entry["data"])
    protected = call.describe(data, link.principal)
    if protected is None:
        why: str | None = "the form is no longer valid"
    else:
        why = _entitled(link.principal, protected)
    if why is not None:
        keep_pending(request, token, None)
        return refused(request, why)
    done = portal_box().execute(link.session_id, entry["handle"])
    keep_pending(request, token, None)
    return _run(call, done, data)


def _run(call: _Call, done: StepUpPage, data: Mapping[str, str]) -> HttpResponse:
    request = call.request
    if not done.executed:
        return refused(request, done.explain())
    if done.session_id != call.link.session_id:
        renew(request, done.session_id)
    request.step_up = Proved(done.flow.request, data)  # type: ignore[attr-defined]
    return call.view(request)
