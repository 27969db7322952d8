"""``/api/v1/admin/companies`` and ``/api/v1/admin/third-parties``: the same administration
as the pages, in JSON (RFC 9457 problems).

A change is the library's ``EntitlementService`` call in the caller's session, which
decides on ``entitlements_management``: without a fresh step-up the answer is ``401
insufficient_user_authentication`` (RFC 9470 ``WWW-Authenticate``); the client proves it
through ``POST /api/v1/step-ups {"operation": "entitlements_management"}`` and sends the
same request again with the rotated session token. Who may do what is the library's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from securebox_auth.errors import StepUpNeeded
from securebox_auth.identity import Siren
from securebox_auth.policy.decision import StepUpRequired
from securebox_server.admin.companies import ACTION as COMPANIES
from securebox_server.admin.companies import company_of, seen, sheet_of
from securebox_server.admin.drafts import company_add_draft, declaration_of, formatted
from securebox_server.admin.guards import portfolio_of, require
from securebox_server.admin.third_parties import ACTION as THIRD_PARTIES
from securebox_server.admin.third_parties import rows_of
from securebox_server.api.common import PREFIX, PROBLEMS, Authenticated, api_problem
from securebox_server.invitations.service import invitations_of
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(prefix=f"{PREFIX}/admin", route_class=SecureRoute, tags=["administration"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompanyBody(_Strict):
    siren: str = Field(min_length=9, max_length=20)
    name: str = Field(min_length=1, max_length=120)
    #: the certification secret printed on the insurer's letter
    proof: str = Field(min_length=1, max_length=64)


class ThirdPartyBody(_Strict):
    siren: str = Field(min_length=9, max_length=20)
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=254)
    companies: list[str] = Field(min_length=1, max_length=200)
    client_id: str = Field(default="", max_length=40)
    user_number: str = Field(default="", max_length=40)
    mobile: str = Field(default="", max_length=40)


def _step_up(request: Request, needed: StepUpNeeded) -> Response:
    decision = needed.decision
    if isinstance(decision, StepUpRequired):
        return api_problem(
            request,
            401,
            "insufficient_user_authentication",
            headers={"WWW-Authenticate": decision.www_authenticate()},
            operation="entitlements_management",
        )
    return api_problem(request, 403, "operation_denied")


@router.get("/companies", responses=PROBLEMS)
def list_companies(request: Request, api: Authenticated) -> dict[str, Any]:
    """Every company for an administrator; the companies their rights cover for any other
    user of the subscription (``manage``: whether they may add and remove companies)."""
    portfolio = portfolio_of(request, api.session.principal)
    return {
        "companies": [
            {"siren": c.siren.value, "formatted": formatted(c.siren), "name": c.name}
            for c in portfolio.companies
        ],
        "manage": portfolio.manage,
    }


@router.post("/companies", status_code=201, responses=PROBLEMS)
def add_company(request: Request, body: CompanyBody, api: Authenticated) -> Response:
    hit_limits(request, "api.operation", api.session.principal.key)
    require(request, api.session.principal, COMPANIES)
    draft = company_add_draft(body.siren, body.name)
    siren = str(draft.details["siren"])
    try:
        server_of(request).box.entitlements.add_company(
            api.session_id, Siren(siren), str(draft.details["name"]), body.proof
        )
    except StepUpNeeded as needed:
        return _step_up(request, needed)
    return JSONResponse({"siren": siren, "name": draft.details["name"]}, 201)


@router.get("/companies/{siren}", responses=PROBLEMS)
def company(request: Request, siren: str, api: Authenticated) -> dict[str, Any]:
    """The company sheet; its third parties and document count for administrators only."""
    portfolio = portfolio_of(request, api.session.principal)
    sheet = sheet_of(request, portfolio.subscription, seen(portfolio, siren))
    out: dict[str, Any] = {
        "siren": sheet.company.siren.value,
        "formatted": sheet.siren,
        "name": sheet.company.name,
        "users": [{"user": a.principal.key, "role": a.role.value} for a in sheet.users],
    }
    if portfolio.manage:
        out |= {"third_parties": list(sheet.third_parties), "documents": sheet.documents}
    return out


@router.delete("/companies/{siren}", status_code=204, responses=PROBLEMS)
def remove_company(request: Request, siren: str, api: Authenticated) -> Response:
    hit_limits(request, "api.operation", api.session.principal.key)
    sub = require(request, api.session.principal, COMPANIES)
    found = company_of(sub, siren)
    try:
        server_of(request).box.entitlements.remove_company(api.session_id, found.siren)
    except StepUpNeeded as needed:
        return _step_up(request, needed)
    return Response(status_code=204)


@router.get("/third-parties", responses=PROBLEMS)
def list_third_parties(request: Request, api: Authenticated) -> dict[str, Any]:
    sub = require(request, api.session.principal, THIRD_PARTIES)
    return {
        "third_parties": [
            {
                "invitation": row.link.invitation_id,
                "siren": row.link.siren.value,
                "name": row.link.name,
                "email": row.link.email,
                "companies": list(row.companies),
                "status": row.status,
                "expires_at": row.link.expires_at.isoformat(),
            }
            for row in rows_of(request, sub)
        ]
    }


@router.post("/third-parties", status_code=201, responses=PROBLEMS)
def invite(request: Request, body: ThirdPartyBody, api: Authenticated) -> Response:
    actor = api.session.principal
    hit_limits(request, "api.operation", actor.key)
    sub = require(request, actor, THIRD_PARTIES)
    declared = declaration_of(
        body.siren,
        body.name,
        body.email,
        body.companies,
        client_id=body.client_id,
        user_number=body.user_number,
        mobile=body.mobile,
        portfolio=frozenset(sub.companies),
    )
    try:
        link = invitations_of(request).declare(api.session_id, actor, declared)
    except StepUpNeeded as needed:
        return _step_up(request, needed)
    out = {"invitation": link.invitation_id, "status": "pending"}
    return JSONResponse({**out, "expires_at": link.expires_at.isoformat()}, 201)


@router.delete("/third-parties/{invitation_id}", status_code=204, responses=PROBLEMS)
def revoke(request: Request, invitation_id: str, api: Authenticated) -> Response:
    actor = api.session.principal
    hit_limits(request, "api.operation", actor.key)
    require(request, actor, THIRD_PARTIES)
    try:
        invitations_of(request).revoke(api.session_id, actor, invitation_id[:64])
    except StepUpNeeded as needed:
        return _step_up(request, needed)
    return Response(status_code=204)
