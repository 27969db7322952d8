"""Changing the e-mail address or the mobile number: a code goes to the NEW address
(the library's destination verification, :meth:`OobService.begin_destination`); only when
it comes back is the new address stored and the old one removed, and the OLD address is
told. Both steps need the library's recent strong authentication (:func:`~.web.sensitive`);
unlike :meth:`Securebox.begin_destination`, the policy need not accept SMS or e-mail codes
for login: the addresses are also where notifications go.

A pending change (``profile_contact_changes``) is single use and expires after
:data:`~.model.CHANGE_TTL`; a newer request supersedes it. The table keeps the new address's
keyed digest only: the confirmation form carries the address, and it must match."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import SecureboxError
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.identity import Principal
from securebox_auth.stores import factor_codecs as fc
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.profile.model import parse_address, parse_channel
from securebox_server.profile.notices import changed_notice, send_notice
from securebox_server.profile.web import ANY_FACTOR, Refused, refused_page, sensitive, store_of
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
CONFIRM = "profile/contact_confirm.html"


def current(request: Request, principal: Principal) -> dict[str, list[str]]:
    """The verified addresses of each channel."""
    found: dict[str, list[str]] = {"email": [], "sms": []}
    for known in server_of(request).box.factors.oob.destinations(principal):
        found[known.channel.value].append(known.destination)
    return found


@router.get("/profile/contact")
def contact_page(request: Request, web: LoggedIn) -> Response:
    principal = web.session.principal
    changed = request.query_params.get("changed") in ("email", "sms")
    contacts = current(request, principal)
    return render(request, "profile/contact.html", contacts=contacts, changed=changed)


@router.post("/profile/contact/{channel}")
def begin_change(
    request: Request,
    web: LoggedIn,
    channel: str,
    address: str = Form(default="", max_length=254),
) -> Response:
    kind = parse_channel(channel)
    principal = web.session.principal
    hit_limits(request, "otp_send", principal.key)
    box = server_of(request).box
    try:
        sensitive(request, web, (kind.method.name, *ANY_FACTOR))
    except Refused as refused:
        return refused_page(request, refused)
    gateway = box.gateways.get(kind.value)
    issued = None
    if gateway is not None:
        try:
            address = parse_address(kind, address)
            issued = box.factors.oob.begin_destination(
                principal, channel=kind, destination=address, gateway=gateway
            )
        except SecureboxError:  # not an address of the channel, or the gateway failed
            issued = None
    if issued is None or not issued.ok or issued.challenge is None:  # or throttled
        contacts = current(request, principal)
        return render(
            request, "profile/contact.html", status=400, contacts=contacts, failed=kind.value
        )
    challenge = issued.challenge.id
    reference = keyed_destination_key(box.factors.oob.keys, kind, address)
    change = store_of(request).open_change(principal, kind, reference, challenge, box.now())
    return render(request, CONFIRM, change=change, channel=kind.value, address=address)


@router.post("/profile/contact/confirm/{change_id}")
def confirm_change(
    request: Request,
    web: LoggedIn,
    change_id: str,
    address: str = Form(default="", max_length=254),
    code: str = Form(default="", max_length=16),
) -> Response:
    principal = web.session.principal
    hit_limits(request, "second_factor", principal.key)
    box = server_of(request).box
    store = store_of(request)
    pending = store.change(principal, change_id)
    values = {"change": change_id, "address": address}
    if pending is None or not pending.usable(box.now()):
        return render(request, CONFIRM, status=400, expired=True, channel="", **values)
    values["channel"] = pending.channel.value
    given = keyed_destination_key(box.factors.oob.keys, pending.channel, address)
    if not hmac.compare_digest(given.encode(), pending.reference.encode()):
        return render(request, CONFIRM, status=400, failed=True, **values)
    try:
        sensitive(request, web, (pending.channel.method.name, *ANY_FACTOR))
    except Refused as refused:
        return refused_page(request, refused)
    result = box.factors.oob.confirm_destination(
        principal, pending.challenge_id, code, channel=pending.channel, destination=address
    )
    if not result.ok or not store.complete(pending.id):
        return render(request, CONFIRM, status=400, failed=True, **values)
    _replace(request, principal, pending.channel, address, pending.id)
    return see_other("/profile/contact?changed=" + pending.channel.value)


def _replace(
    request: Request, principal: Principal, channel: Channel, new: str, reference: str
) -> None:
    """Remove the channel's other addresses (audited) and tell each of them."""
    box = server_of(request).box
    old = [
        d
        for d in box.factors.oob.destinations(principal)
        if d.channel is channel and d.destination != new
    ]
    who = principal.key
    event = AuditEvent.make(
        box.now(), "profile.contact.change", actor=who, subject=who, outcome="success",
        details={"channel": channel.value, "replaced": str(len(old))},
    )  # fmt: skip
    for index, gone in enumerate(old):
        box.factors.put_state(
            principal, fc.OOB_DESTINATION, gone.key, None, (event,) if index == 0 else ()
        )
    if not old:
        box.store.commit([], [event])
    language = store_of(request).preferences(principal).language
    gateway = box.gateways.get(channel.value)
    for gone in old:
        send_notice(gateway, changed_notice(channel, gone.destination, language, reference))
