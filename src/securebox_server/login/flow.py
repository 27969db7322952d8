"""Glue between a method's page and the login flow: the flow cookie, the rate limits of a
submission, and where the browser goes after an answer (:func:`next_step`).

The rate limits (ADR 0026) are applied here, centrally, so every method page gets them by
calling ``hit_limits`` before its answer and ``next_step`` after it:

* ``hit_limits(request, "login.identify", account)`` (the user number is submitted), or a
  ``login.<...>_challenge`` name (a page asks for a challenge, nothing is verified):
  :meth:`LoginLimits.before_request`; without an account only ``login.global`` counts;
* ``hit_limits(request, "login.<method>.send", account)`` (a code sent by SMS or e-mail):
  ``login.global``, then ``otp_send.source`` and ``otp_send.account``;
* ``hit_limits(request, "login.<method>", account)`` (an answer): ``before_answer``, or
  ``before_second_factor`` when the flow asks for a second factor;
* ``next_step(request, page)``: a rejected answer is ``after_failure``, a session is
  ``after_success`` (the source becomes known to the account);
* any other name ``N``: ``N.source`` / ``N.account`` when configured, else ``N`` itself,
  else ``default.source`` / ``default.account``; for a name of :data:`LOCKOUT_COUNTED`
  (an answer the lockout counts outside the login: a card recovery's CAP code) an unknown
  source's failure budgets are checked too, and :func:`count_failure` spends them.

With a plain :class:`~securebox_server.throttle.RateLimits` (tests) each call hits ``name``
for ``ip:<source>`` and ``account:<account>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from securebox_auth.errors import FlowExpired
from securebox_auth.flows.login import LoginFlow, LoginState
from securebox_auth.shell.login import LoginPage
from securebox_server.rate_limits.errors import RateLimited
from securebox_server.rate_limits.keys import GLOBAL_KEY
from securebox_server.rate_limits.limiter import Use
from securebox_server.web.addresses import source_of
from securebox_server.web.context import server_of
from securebox_server.web.pages import render

__all__ = [
    "LOCKOUT_COUNTED",
    "SourceBudget",
    "count_failure",
    "current_flow",
    "handle_of",
    "hit_limits",
    "next_step",
    "see_other",
]


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def handle_of(request: Request) -> str:
    """The login flow's handle from its cookie (else :class:`FlowExpired`: start again)."""
    handle = request.cookies.get(server_of(request).cookies.flow)
    if not handle:
        raise FlowExpired("no login in progress: start again")
    return handle


def current_flow(request: Request) -> tuple[str, LoginFlow]:
    handle = handle_of(request)
    flow = server_of(request).box.login_flow(handle)
    request.state.login_flow = flow  # for hit_limits: does the flow ask a second factor?
    return handle, flow


def _named(request: Request, name: str, source: str, account: str | None) -> list[Use]:
    """A limit that is not the login's: ``name.source``/``name.account``, or ``name``."""
    server = server_of(request)
    configured = server.login_limits.limiter.limits if server.login_limits else {}
    family = [(f"{name}.source", source), (f"{name}.account", account)]
    hits = [(n, k) for n, k in family if n in configured and k is not None]
    if not hits and name in configured:
        hits = [(name, account or source)]
    if not hits:
        hits = [("default.source", source)] + ([("default.account", account)] if account else [])
    return hits


#: Pages outside the login whose answers the account's lockout counts: an unknown source
#: must have failure budget left (``login.failure.*``, as at login) and its refused answers
#: (:func:`count_failure`) spend it, so nobody blocks an account through them either.
LOCKOUT_COUNTED: Final = frozenset({"recovery.card"})


def hit_limits(request: Request, name: str, account: str | None = None) -> None:
    """Count one attempt of limit ``name`` from the request's source for the claimed
    ``account`` (raises :class:`~securebox_server.throttle.RateLimited`); see the module
    documentation for what each name does. Every limit a request touches is tested and
    consumed in one transaction (:meth:`~securebox_server.rate_limits.Limiter.apply`)."""
    server = server_of(request)
    source = source_of(request)
    guard = server.login_limits
    if guard is None:
        server.limits.hit(name, f"ip:{source}")
        if account is not None:
            server.limits.hit(name, f"account:{account}")
        return
    if not name.startswith("login."):
        uses = _named(request, name, source, account)
        if name in LOCKOUT_COUNTED and account not in (None, "-"):
            known = guard.before_counted_answer(source, account, uses)
            request.state.login_attempt = (source, account, known)
        else:
            guard.limiter.apply(uses)
        return
    if account is None:
        guard.limiter.hit("login.global", GLOBAL_KEY)
        return
    if name == "login.identify" or name.endswith("_challenge"):
        guard.before_request(source, account)
        return
    if name.endswith(".send"):
        guard.limiter.apply(
            [("login.global", GLOBAL_KEY), *_named(request, "otp_send", source, account)]
        )
        return
    flow: LoginFlow | None = getattr(request.state, "login_flow", None)
    if flow is not None and flow.state is LoginState.SECOND_FACTOR:
        known = guard.before_second_factor(source, account)
    else:
        known = guard.before_answer(source, account)
    request.state.login_attempt = (source, account, known)


def _settle(request: Request, *, success: bool) -> None:
    """The outcome of the answer :func:`hit_limits` let in (at most once a request)."""
    server = server_of(request)
    attempt: tuple[str, str, bool] | None = getattr(request.state, "login_attempt", None)
    if server.login_limits is None or attempt is None:
        return
    request.state.login_attempt = None
    if success:
        server.login_limits.after_success(attempt[0], attempt[1])
    else:
        server.login_limits.after_failure(*attempt)


def _count_outcome(request: Request, page: LoginPage) -> None:
    """After an answer counted by :func:`hit_limits`: a failure or a success."""
    if page.session_id is not None:
        _settle(request, success=True)
    elif page.rejected or page.state is LoginState.FAILED:
        _settle(request, success=False)


@dataclass(frozen=True, slots=True)
class SourceBudget:
    """The request's source's failure budgets for an account whose lockout counts an answer
    only found while answering (the forgotten identifier's SMS path): see
    :class:`~securebox_server.recovery.identifier.FailureBudget`."""

    request: Request

    def allows(self, account: str) -> bool:
        guard = server_of(self.request).login_limits
        if guard is None:
            return True
        source = source_of(self.request)
        try:
            known = guard.before_counted_answer(source, account, [])
        except RateLimited:
            return False
        self.request.state.login_attempt = (source, account, known)
        return True

    def failed(self) -> None:
        count_failure(self.request)


def count_failure(request: Request) -> None:
    """After a refused answer of a :data:`LOCKOUT_COUNTED` limit: it spends the failure
    budgets of an unknown source, as a refused login answer does."""
    _settle(request, success=False)


def blocked_page(request: Request, page: LoginPage) -> Response:
    """The same page for every principal: the lockout is kept for unknown ones too."""
    server = server_of(request)
    until = server.box.store.get_lockout(page.flow.principal).value.blocked_until
    permanent = server.box.store.get_lockout(page.flow.principal).value.permanent
    response = render(request, "login/blocked.html", status=403, until=until, permanent=permanent)
    server.cookies.clear(response, server.cookies.flow)
    return response


def next_step(request: Request, page: LoginPage) -> Response | None:
    """Where the browser goes after ``page``: home (the session cookie is set, the flow
    cookie cleared), the code change, the strong-authentication prompt, the blocked or
    refused page. ``None``: the answer was refused and the same page is shown again."""
    server = server_of(request)
    names = server.cookies
    _count_outcome(request, page)
    if page.session_id is not None:
        response: Response = see_other("/home")
        names.set(response, names.session, page.session_id)
        names.clear(response, names.flow)
        return response
    state = page.state
    if state is LoginState.CODE_CHANGE:
        return see_other("/login/change-code")
    if state is LoginState.FAILED:
        reason = getattr(page.action, "reason", "denied")
        if reason in ("blocked", "too_many_failures"):
            return blocked_page(request, page)
        response = render(request, "login/denied.html", status=403)
        names.clear(response, names.flow)
        return response
    if page.rejected:
        return None
    if state is LoginState.SECOND_FACTOR:
        return see_other("/login/strong")
    return see_other("/login/method")
