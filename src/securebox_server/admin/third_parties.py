"""Third parties of a subscription (pages under ``/admin/third-parties``): accountants and
declarers declared with their SIREN and name, invited by e-mail on chosen companies, with
their status (pending, added, declined, revoked, expired: the library's), and revoked.

Inviting and revoking are the library's ``manage_users`` (the rule of
``invite_third_party``); both are step-up drafts applied after the grant (:mod:`.changes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import InvitationStatus, Operation, Subscription
from securebox_auth.errors import MalformedInput, NotFound
from securebox_server.admin.drafts import declaration_of, formatted, revoke_draft, third_party_draft
from securebox_server.admin.guards import require
from securebox_server.invitations.links import Link
from securebox_server.invitations.service import invitations_of
from securebox_server.stepup.common import start
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession

__all__ = ["STATUS", "Row", "router", "rows_of"]

router = APIRouter(route_class=SecureRoute)
ACTION = Operation.MANAGE_USERS
#: the library's status -> the word the pages and the API use
STATUS: Final = {
    InvitationStatus.PENDING: "pending",
    InvitationStatus.ACCEPTED: "added",
    InvitationStatus.DECLINED: "declined",
    InvitationStatus.REVOKED: "revoked",
    InvitationStatus.EXPIRED: "expired",
}


@dataclass(frozen=True, slots=True)
class Row:
    link: Link
    siren: str
    status: str
    companies: tuple[str, ...]


def rows_of(request: Request, sub: Subscription) -> list[Row]:
    now = server_of(request).box.clock.now()
    rows = []
    for link in invitations_of(request).links.of_subscription(sub.client_id):
        invitation = sub.invitations.get(link.invitation_id)
        if invitation is None:  # pragma: no cover (a link is written after its invitation)
            continue
        names = tuple(
            sub.companies[c].name if c in sub.companies else formatted(c)
            for c in sorted(invitation.companies, key=str)
        )
        status = STATUS[invitation.status_at(now)]
        rows.append(Row(link, formatted(link.siren), status, names))
    return rows


def _page(request: Request, web: WebSession, status: int = 200, error: bool = False) -> Response:
    sub = require(request, web.session.principal, ACTION)
    companies = sorted(sub.companies.values(), key=lambda c: (c.name, c.siren.value))
    return render(
        request,
        "admin/third_parties.html",
        status=status,
        rows=rows_of(request, sub),
        companies=companies,
        error=error,
    )


@router.get("/admin/third-parties")
def third_parties(request: Request, web: LoggedIn) -> Response:
    return _page(request, web)


@router.post("/admin/third-parties")
async def declare(request: Request, web: LoggedIn) -> Response:
    sub = require(request, web.session.principal, ACTION)
    form = await request.form(max_files=0, max_fields=200)

    def text(name: str, limit: int = 254) -> str:
        value = form.get(name, "")
        return value[:limit] if isinstance(value, str) else ""

    chosen = [c for c in form.getlist("companies") if isinstance(c, str)][:200]
    try:
        declared = declaration_of(
            text("siren", 40),
            text("name", 200),
            text("email"),
            chosen,
            client_id=text("client_id", 40),
            user_number=text("user_number", 40),
            mobile=text("mobile", 40),
            portfolio=frozenset(sub.companies),
        )
    except MalformedInput:
        return _page(request, web, status=400, error=True)
    return start(request, web, third_party_draft(declared))


@router.post("/admin/third-parties/{invitation_id}/revoke")
def revoke(request: Request, web: LoggedIn, invitation_id: str) -> Response:
    actor = web.session.principal
    require(request, actor, ACTION)
    link = invitations_of(request).links.get(actor.client_id, invitation_id[:64])
    if link is None:
        raise NotFound("no such invitation")
    return start(request, web, revoke_draft(link.invitation_id, link.name))
