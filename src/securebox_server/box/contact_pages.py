"""The company's notification address page: ``/companies/{siren}/contact``.

A user who may see every document of the company (:func:`~.contact_rights.may_set_contact`)
sees the address, sets a new one or removes it. A new address is used only once a code sent
to it came back (:mod:`.contact_codes`: the library's one-time code, single use, expiring,
throttled like every code, and the named limits ``otp_send`` and ``second_factor``). The
change itself is :meth:`~securebox_server.box.contacts.CompanyContacts.set_company_contact`
(audited ``box.company_contact``, actor the user). A company the user may not manage
answers 404, like an unknown one.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal, Siren
from securebox_server.box.contact_codes import check_code, managed, managed_company, send_code
from securebox_server.box.documents import DocumentStore
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.web.context import server_of
from securebox_server.web.errors import respond
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["managed_companies", "router"]

router = APIRouter(route_class=SecureRoute)
PAGE = "box/contact.html"
CONFIRM = "box/contact_confirm.html"


def managed_companies(request: Request, principal: Principal) -> frozenset[Siren]:
    """The companies whose notification address ``principal`` may set."""
    return managed(server_of(request).box, principal)


Target = tuple[Siren, DocumentStore]


def _target(request: Request, principal: Principal, siren: str) -> Target | None:
    documents = server_of(request).documents
    company = managed_company(server_of(request).box, principal, siren)
    return None if company is None or documents is None else (company, documents)


def _page(
    request: Request,
    principal: Principal,
    target: Target,
    status: int = 200,
    **values: object,
) -> Response:
    company, documents = target
    current = documents.company_contact(principal.client_id, company)
    return render(request, PAGE, status=status, company=company, current=current, **values)


@router.get("/companies/{siren}/contact")
def contact_page(request: Request, web: LoggedIn, siren: str) -> Response:
    principal = web.session.principal
    target = _target(request, principal, siren)
    if target is None:
        return respond(request, 404, "not_found")
    done = request.query_params.get("done")
    return _page(request, principal, target, done=done if done in ("set", "removed") else None)


@router.post("/companies/{siren}/contact")
def begin(
    request: Request, web: LoggedIn, siren: str, address: str = Form(default="", max_length=254)
) -> Response:
    principal = web.session.principal
    target = _target(request, principal, siren)
    if target is None:
        return respond(request, 404, "not_found")
    hit_limits(request, "otp_send", principal.key)
    try:
        challenge = send_code(server_of(request).box, principal, target[0], address)
    except MalformedInput:
        return _page(request, principal, target, 400, address=address, invalid=True)
    if challenge is None:
        return _page(request, principal, target, 400, address=address, failed=True)
    return render(request, CONFIRM, company=target[0], address=address.strip(), challenge=challenge)


@router.post("/companies/{siren}/contact/confirm")
def confirm(
    request: Request,
    web: LoggedIn,
    siren: str,
    address: str = Form(default="", max_length=254),
    challenge: str = Form(default="", max_length=64),
    code: str = Form(default="", max_length=16),
) -> Response:
    principal = web.session.principal
    target = _target(request, principal, siren)
    if target is None:
        return respond(request, 404, "not_found")
    hit_limits(request, "second_factor", principal.key)
    company, documents = target
    box = server_of(request).box
    confirmed = check_code(box, principal, company, address, challenge, code)
    if confirmed is None:
        return render(
            request, CONFIRM, status=400, failed=True,
            company=company, address=address, challenge=challenge,
        )  # fmt: skip
    documents.set_company_contact(principal.client_id, company, confirmed, actor=principal.key)
    return see_other(f"/companies/{company.value}/contact?done=set")


@router.post("/companies/{siren}/contact/remove")
def remove(request: Request, web: LoggedIn, siren: str) -> Response:
    principal = web.session.principal
    target = _target(request, principal, siren)
    if target is None:
        return respond(request, 404, "not_found")
    company, documents = target
    documents.set_company_contact(principal.client_id, company, None, actor=principal.key)
    return see_other(f"/companies/{company.value}/contact?done=removed")
