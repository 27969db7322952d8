"""The administration changes applied once a step-up grant was consumed
(:func:`securebox_server.stepup.approve.execute`, with ``proof`` the certification
secret typed on that last step when adding a company): each rebuilds its input from the stored
order and calls the library's :class:`~securebox_auth.shell.entitlements.EntitlementService`
(through :mod:`securebox_server.invitations.service` for third parties) in the fresh
session, which decides again. A refusal raises a :class:`SecureboxError`: the order is
refused and nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren
from securebox_server.admin.drafts import Declaration
from securebox_server.invitations.service import invitations_of
from securebox_server.stepup.orders import Order
from securebox_server.stepup.requests import Kind
from securebox_server.web.context import server_of
from securebox_server.web.routing import WebSession

__all__ = ["CHANGES"]

Change = Callable[[Request, WebSession, Order, str], None]


def _add_company(request: Request, web: WebSession, order: Order, proof: str) -> None:
    if not 0 < len(proof) <= 64:
        raise MalformedInput("the certification secret is missing")
    siren, name = Siren(str(order.details["siren"])), str(order.details["name"])
    server_of(request).box.entitlements.add_company(web.session_id, siren, name, proof)


def _remove_company(request: Request, web: WebSession, order: Order, proof: str) -> None:
    siren = Siren(str(order.details["siren"]))
    server_of(request).box.entitlements.remove_company(web.session_id, siren)


def _invite(request: Request, web: WebSession, order: Order, proof: str) -> None:
    declared = Declaration.of(order.details)
    invitations_of(request).declare(web.session_id, web.session.principal, declared)


def _revoke(request: Request, web: WebSession, order: Order, proof: str) -> None:
    invitation_id = str(order.details["invitation"])
    invitations_of(request).revoke(web.session_id, web.session.principal, invitation_id)


def _answer(accept: bool) -> Change:
    def change(request: Request, web: WebSession, order: Order, proof: str) -> None:
        found = invitations_of(request)
        client = ClientId(str(order.details["client"]))
        link = found.links.get(client, str(order.details["invitation"]))
        if link is None or link.invitee != web.session.principal:
            raise MalformedInput("no such invitation")
        found.answer(web.session_id, link, accept=accept, now=found.box.clock.now())

    return change


#: kind -> the change (``app.state.changes``, read by the step-up's execution)
CHANGES: Final[dict[Kind, Change]] = {
    Kind.COMPANY_ADD: _add_company,
    Kind.COMPANY_REMOVE: _remove_company,
    Kind.THIRD_PARTY_INVITE: _invite,
    Kind.THIRD_PARTY_REVOKE: _revoke,
    Kind.INVITATION_ACCEPT: _answer(True),
    Kind.INVITATION_DECLINE: _answer(False),
}
