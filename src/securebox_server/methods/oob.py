"""A one-time code sent by SMS or e-mail: the page shared by :mod:`.sms` and :mod:`.email`.

The code goes only to a destination the user verified before (the library keeps a phone
number or an address once a code sent there came back: ``OobService.destinations``); the
browser names a stored destination by its keyed identifier, never by its number or address,
so nobody can redirect a code. The page shows the destination masked, sends on a ``POST``
(limit ``login.oob.send``), then takes the code (limit ``login.oob``); the library bounds
the sends (one per ``min_interval``, ``per_user`` and ``per_destination`` an hour) and the
wrong tries (a code is burnt after ``max_wrong``, every failure counts in the lockout).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import FlowOutOfOrder, InvalidCode, MalformedInput, NotPermitted
from securebox_auth.factors.oob import Channel
from securebox_auth.flows.login import LoginFlow, LoginState
from securebox_auth.shell.answers import OobAnswer
from securebox_auth.shell.gateways import DeliveryFailed
from securebox_auth.shell.oob import VerifiedDestination
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["mask", "oob_method"]

TEMPLATE = "methods/oob.html"
DOT = "\u2022"
LABELS = {Channel.SMS: "Code by SMS", Channel.EMAIL: "Code by e-mail"}


def mask(channel: Channel, destination: str) -> str:
    """What the page shows of a destination: ``+33 6 •• •• •• 42``, ``j•••@e•••.fr``."""
    if channel is Channel.EMAIL:
        local, _, domain = destination.rpartition("@")
        name, dot, top = domain.rpartition(".")
        shown_domain = f"{name[:1]}{DOT * 3}{dot}{top}" if name else f"{top[:1]}{DOT * 3}"
        return f"{local[:1]}{DOT * 3}@{shown_domain}"
    digits = "".join(c for c in destination if c.isdigit())
    if destination.startswith("+33") and len(digits) == 11:
        return f"+33 {digits[2]} {DOT * 2} {DOT * 2} {DOT * 2} {digits[-2:]}"
    if len(digits) < 6:
        return DOT * 4
    head = "+" if destination.startswith("+") else ""
    return f"{head}{digits[:2]} {DOT * (len(digits) - 4)} {digits[-2:]}"


def _expected(flow: LoginFlow, channel: Channel) -> None:
    """Only after the first factor, when the flow offers this channel (nothing about the
    account, not even a masked number, is shown before)."""
    if flow.state is not LoginState.SECOND_FACTOR or channel.method.name not in flow.offered:
        raise FlowOutOfOrder(f"no {channel.value} code is expected now")


def _destinations(request: Request, flow: LoginFlow, channel: Channel) -> list[VerifiedDestination]:
    found = server_of(request).box.factors.oob.destinations(flow.principal)
    return sorted((d for d in found if d.channel is channel), key=lambda d: d.verified_at)


def oob_method(channel: Channel) -> LoginMethod:
    """The router and registry entry of the ``channel`` page (``/login/<channel>``)."""
    path = f"/login/{channel.value}"
    router = APIRouter(route_class=SecureRoute)

    def page(
        request: Request,
        flow: LoginFlow,
        *,
        status: int = 200,
        sent: VerifiedDestination | None = None,
        challenge: str = "",
        problem: str | None = None,
    ) -> Response:
        rules = server_of(request).box.factors.oob_rules
        targets = _destinations(request, flow, channel)
        return render(
            request,
            TEMPLATE,
            status=status,
            channel=channel.value,
            title=LABELS[channel],
            action=path,
            targets=[(d.key, mask(channel, d.destination)) for d in targets],
            sent=None if sent is None else mask(channel, sent.destination),
            sent_key="" if sent is None else sent.key,
            challenge=challenge,
            problem=problem,
            minutes=int(rules.lifetime.total_seconds() // 60),
            interval=int(rules.min_interval.total_seconds()),
            per_hour=rules.per_user,
        )

    @router.get(path)
    def show(request: Request) -> Response:
        _, flow = current_flow(request)
        _expected(flow, channel)
        return page(request, flow)

    @router.post(f"{path}/send")
    def send(request: Request, target: str = Form(default="", max_length=128)) -> Response:
        handle, flow = current_flow(request)
        _expected(flow, channel)
        hit_limits(request, "login.oob.send", flow.principal.key)
        targets = _destinations(request, flow, channel)
        chosen = next((d for d in targets if d.key == target), targets[0] if targets else None)
        if chosen is None:
            return page(request, flow, status=409, problem="none")
        box = server_of(request).box
        try:
            challenge = box.send_login_code(handle, channel=channel, destination=chosen.destination)
        except NotPermitted:
            return page(request, flow, status=429, problem="throttled")
        except DeliveryFailed:
            return page(request, flow, status=503, problem="undelivered")
        return page(request, flow, sent=chosen, challenge=challenge)

    @router.post(path)
    def answer(
        request: Request,
        challenge: str = Form(default="", max_length=128),
        target: str = Form(default="", max_length=128),
        code: str = Form(default="", max_length=64),
    ) -> Response:
        handle, flow = current_flow(request)
        _expected(flow, channel)
        hit_limits(request, "login.oob", flow.principal.key)
        sent = next((d for d in _destinations(request, flow, channel) if d.key == target), None)
        if not challenge:
            return page(request, flow, status=400, problem="rejected")
        try:
            result = server_of(request).box.answer_login(
                handle, OobAnswer(challenge, code, channel)
            )
        except (InvalidCode, MalformedInput):  # not a code at all: nothing was verified
            return page(
                request, flow, status=400, sent=sent, challenge=challenge, problem="rejected"
            )
        return next_step(request, result) or page(
            request, flow, status=401, sent=sent, challenge=challenge, problem="rejected"
        )

    return LoginMethod(
        names=(channel.method.name,), label=LABELS[channel], path=path, router=router
    )
