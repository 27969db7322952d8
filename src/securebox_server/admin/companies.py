"""The companies of a subscription (pages under ``/admin/companies``): the list, adding one
with its SIREN (python-stdnum) and the certification secret printed on the insurer's
letters, the company sheet, and removing one after a confirmation page.

Every user of the subscription sees the list and the sheets of the companies their rights
cover (the insurer's guide: a collaborator sees the SIRENs assigned to them); only those the
library lets ``manage_companies`` (administrators) see every company, add and remove them;
every change is a step-up draft (:mod:`.drafts`) applied by the library after the grant
(:mod:`.changes`). The secret is typed on the confirmation step, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import (
    Company,
    InvitationStatus,
    Operation,
    Subscription,
)
from securebox_auth.errors import MalformedInput, NotFound
from securebox_auth.identity import ClientId, Siren
from securebox_server.admin.drafts import (
    company_add_draft,
    company_remove_draft,
    formatted,
    parse_siren,
)
from securebox_server.admin.guards import Portfolio, portfolio_of, require
from securebox_server.box.readable import readable_at
from securebox_server.db.schema import BOX_DOCUMENTS as DOCS
from securebox_server.invitations.service import invitations_of
from securebox_server.stepup.common import start
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession

__all__ = ["ACTION", "Sheet", "company_of", "documents_of", "router", "seen", "sheet_of"]

router = APIRouter(route_class=SecureRoute)
ACTION = Operation.MANAGE_COMPANIES


@dataclass(frozen=True, slots=True)
class Sheet:
    company: Company
    siren: str
    users: tuple[Account, ...]
    third_parties: tuple[str, ...]
    documents: int


def documents_of(request: Request, client_id: ClientId, company: Siren) -> int:
    """How many documents of ``company`` its readers can open now (live, still valid)."""
    now = server_of(request).box.now()
    query = (
        sa.select(sa.func.count())
        .select_from(DOCS)
        .where(DOCS.c.client_id == client_id.value)
        .where(DOCS.c.company == company.value)
        .where(readable_at(now))
    )
    with invitations_of(request).links.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def company_of(sub: Subscription, raw: str) -> Company:
    try:
        siren = parse_siren(raw)
    except MalformedInput:
        raise NotFound("no such company") from None
    found = sub.companies.get(siren)
    if found is None:
        raise NotFound("no such company")
    return found


def sheet_of(request: Request, sub: Subscription, company: Company) -> Sheet:
    """The company sheet: who has rights on it (users, third parties who accepted)."""
    box = server_of(request).box
    now = box.clock.now()
    users = tuple(
        a
        for a in box.store.accounts_of(sub.client_id)
        if a.active
        and (  # the principal user holds every right (the library's rule)
            a.role is Role.PRINCIPAL_USER
            or sub.rights_of(a.principal).companies.covers(company.siren)
        )
    )
    links = {
        link.invitation_id: link.name
        for link in invitations_of(request).links.of_subscription(sub.client_id)
    }
    third = tuple(
        links.get(i.id, i.invitee.key)
        for i in sub.invitations.values()
        if company.siren in i.companies and i.status_at(now) is InvitationStatus.ACCEPTED
    )
    count = documents_of(request, sub.client_id, company.siren)
    return Sheet(company, formatted(company.siren), users, third, count)


def seen(portfolio: Portfolio, raw: str) -> Company:
    """A company the user sees; any other SIREN is "not found", like a missing one."""
    found = company_of(portfolio.subscription, raw)
    if found not in portfolio.companies:
        raise NotFound("no such company")
    return found


def _list(request: Request, web: WebSession, status: int = 200, error: str = "") -> Response:
    portfolio = portfolio_of(request, web.session.principal)
    return render(
        request,
        "admin/companies.html",
        status=status,
        companies=[(c, formatted(c.siren)) for c in portfolio.companies],
        manage=portfolio.manage,
        error=error,
    )


@router.get("/admin/companies")
def companies(request: Request, web: LoggedIn) -> Response:
    return _list(request, web)


@router.post("/admin/companies")
def add_company(
    request: Request,
    web: LoggedIn,
    siren: str = Form(default="", max_length=40),
    name: str = Form(default="", max_length=200),
) -> Response:
    sub = require(request, web.session.principal, ACTION)
    try:
        draft = company_add_draft(siren, name)
    except MalformedInput:
        return _list(request, web, status=400, error="form")
    if parse_siren(siren) in sub.companies:
        return _list(request, web, status=400, error="exists")
    return start(request, web, draft)


@router.get("/admin/companies/{siren}")
def company_sheet(request: Request, web: LoggedIn, siren: str) -> Response:
    portfolio = portfolio_of(request, web.session.principal)
    sheet = sheet_of(request, portfolio.subscription, seen(portfolio, siren))
    return render(
        request, "admin/company.html", sheet=sheet, confirm=False, manage=portfolio.manage
    )


@router.get("/admin/companies/{siren}/remove")
def confirm_removal(request: Request, web: LoggedIn, siren: str) -> Response:
    sub = require(request, web.session.principal, ACTION)
    sheet = sheet_of(request, sub, company_of(sub, siren))
    return render(request, "admin/company.html", sheet=sheet, confirm=True, manage=True)


@router.post("/admin/companies/{siren}/remove")
def remove_company(request: Request, web: LoggedIn, siren: str) -> Response:
    sub = require(request, web.session.principal, ACTION)
    company = company_of(sub, siren)
    return start(request, web, company_remove_draft(company.siren, company.name))
