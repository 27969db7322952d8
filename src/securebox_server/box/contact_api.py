"""``/api/v1/companies/{siren}/contact``: the company's notification address as JSON (a
user's API session), the same rule and code as the page (:mod:`.contact_codes`).

* ``GET``: ``{"company", "address"}`` (``null`` when none is set);
* ``POST`` ``{"address"}``: a code is sent there; ``202 {"challenge"}``;
* ``POST .../confirm`` ``{"address", "challenge", "code"}``: the address is set (audited);
  ``200`` with the new state, ``400 code_rejected`` for a wrong, used or expired code;
* ``DELETE``: the address is removed (audited), ``204``.

A company the caller may not manage answers ``404 not_found`` like an unknown one; a
malformed address ``400 malformed_input``; a code that could not be sent
``503 unavailable``. Problems are RFC 9457 documents.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from securebox_auth.identity import Principal, Siren
from securebox_server.api.common import PROBLEMS, Authenticated, api_problem
from securebox_server.box.contact_codes import check_code, managed_company, send_code
from securebox_server.box.documents import DocumentStore
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/companies", route_class=SecureRoute)


class AddressIn(BaseModel):
    address: str = Field(max_length=254)


class ConfirmIn(BaseModel):
    address: str = Field(max_length=254)
    challenge: str = Field(max_length=64)
    code: str = Field(max_length=16)


def _target(request: Request, principal: Principal, siren: str) -> tuple[Siren, DocumentStore]:
    documents = server_of(request).documents
    company = managed_company(server_of(request).box, principal, siren)
    if company is None or documents is None:
        raise _NotManaged
    return company, documents


class _NotManaged(Exception):
    """Not a company the caller may manage (or no such company): 404."""


def _state(principal: Principal, company: Siren, documents: DocumentStore) -> JSONResponse:
    address = documents.company_contact(principal.client_id, company)
    return JSONResponse({"company": company.value, "address": address})


def _not_found(request: Request) -> JSONResponse:
    return api_problem(request, 404, "not_found")


@router.get("/{siren}/contact", responses=PROBLEMS)
def get_contact(request: Request, api: Authenticated, siren: str) -> Response:
    principal = api.session.principal
    try:
        company, documents = _target(request, principal, siren)
    except _NotManaged:
        return _not_found(request)
    return _state(principal, company, documents)


@router.post("/{siren}/contact", status_code=202, responses=PROBLEMS)
def begin_contact(request: Request, api: Authenticated, siren: str, body: AddressIn) -> Response:
    principal = api.session.principal
    try:
        company, _ = _target(request, principal, siren)
    except _NotManaged:
        return _not_found(request)
    hit_limits(request, "otp_send", principal.key)
    challenge = send_code(server_of(request).box, principal, company, body.address)
    if challenge is None:  # a malformed address raised MalformedInput: 400 already
        return api_problem(request, 503, "unavailable")
    return JSONResponse({"challenge": challenge}, status_code=202)


@router.post("/{siren}/contact/confirm", responses=PROBLEMS)
def confirm_contact(request: Request, api: Authenticated, siren: str, body: ConfirmIn) -> Response:
    principal = api.session.principal
    try:
        company, documents = _target(request, principal, siren)
    except _NotManaged:
        return _not_found(request)
    hit_limits(request, "second_factor", principal.key)
    box = server_of(request).box
    confirmed = check_code(box, principal, company, body.address, body.challenge, body.code)
    if confirmed is None:
        return api_problem(request, 400, "code_rejected")
    documents.set_company_contact(principal.client_id, company, confirmed, actor=principal.key)
    return _state(principal, company, documents)


@router.delete("/{siren}/contact", status_code=204, responses=PROBLEMS)
def remove_contact(request: Request, api: Authenticated, siren: str) -> Response:
    principal = api.session.principal
    try:
        company, documents = _target(request, principal, siren)
    except _NotManaged:
        return _not_found(request)
    documents.set_company_contact(principal.client_id, company, None, actor=principal.key)
    return Response(status_code=204)
