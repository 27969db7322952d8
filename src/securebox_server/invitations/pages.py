"""The invitee's pages: ``/invitations/{token}`` (the link of the e-mail) and the answer.

The link is no credential: it names an invitation, and only its invitee, logged in, sees
what it grants and answers it (a step-up, as for any change of entitlements: the library's
``accept_invitation`` / ``decline_invitation``). Anyone else (logged out: a page asking to
log in first; another user, an unknown, used or expired link: one "not valid" page, 404)
learns nothing about the inviting subscription.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Invitation, InvitationStatus
from securebox_auth.errors import SecureboxError
from securebox_server.admin.drafts import invitation_draft
from securebox_server.invitations.links import Link
from securebox_server.invitations.service import invitations_of
from securebox_server.stepup.common import start
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession, logged_in

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


def _pending(request: Request, token: str) -> tuple[Link, Invitation] | None:
    found = invitations_of(request)
    link = found.links.by_token(token[:100])
    now = found.box.clock.now()
    if link is None or not link.usable(now):
        return None
    stored = found.box.store.get_subscription(link.client_id)
    invitation = None if stored is None else stored.value.invitations.get(link.invitation_id)
    if invitation is None or invitation.status_at(now) is not InvitationStatus.PENDING:
        return None
    return link, invitation


def _gone(request: Request) -> Response:
    return render(request, "invitations/gone.html", status=404)


def _session(request: Request) -> WebSession | None:
    try:
        return logged_in(request)
    except SecureboxError:
        return None


def _inviter(request: Request, link: Link, invitation: Invitation) -> str:
    stored = server_of(request).box.store.get_subscription(link.client_id)
    companies = {} if stored is None else stored.value.companies
    names = sorted(companies[c].name for c in invitation.companies if c in companies)
    return ", ".join(names) or link.client_id.value


@router.get("/invitations/{token}")
def invitation(request: Request, token: str) -> Response:
    found = _pending(request, token)
    if found is None:
        return _gone(request)
    link, pending = found
    web = _session(request)
    if web is None:
        return render(request, "invitations/login.html", new_account=link.new_account)
    if web.session.principal != link.invitee:
        return _gone(request)
    return render(
        request,
        "invitations/invitation.html",
        token=token,
        inviter=_inviter(request, link, pending),
        invitation=pending,
    )


def _answer(request: Request, web: WebSession, token: str, accept: bool) -> Response:
    found = _pending(request, token)
    if found is None or web.session.principal != found[0].invitee:
        return _gone(request)
    link, pending = found
    inviter = _inviter(request, link, pending)
    return start(
        request, web, invitation_draft(accept, link.client_id.value, link.invitation_id, inviter)
    )


@router.post("/invitations/{token}/accept")
def accept(request: Request, web: LoggedIn, token: str) -> Response:
    return _answer(request, web, token, True)


@router.post("/invitations/{token}/decline")
def decline(request: Request, web: LoggedIn, token: str) -> Response:
    return _answer(request, web, token, False)
