"""The company's notification address page: ``/companies/{siren}/contact``.

A user who may see every document of the company (:func:`~.contact_rights.may_set_contact`)
sees the address, sets a new one or removes it. A new address is used only once a code sent
to it came back: the library's one-time code (:meth:`~securebox_auth.shell.oob.OobService.
issue` / ``verify``, purpose ``company_contact``, its reference binding the subscription, the
company and the address), single use, expiring, throttled like every code (the named limits
``otp_send`` and ``second_factor``). The change itself is
:meth:`~securebox_server.box.contacts.CompanyContacts.set_company_contact` (audited
``box.company_contact``, actor the user). A company the user may not manage answers 404,
like an unknown one.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation
from securebox_auth.errors import InvalidIdentifier, MalformedInput, SecureboxError
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal, Siren
from securebox_server.box.contact_rights import CONTACT_PURPOSE, contact_reference, may_set_contact
from securebox_server.box.contacts import parse_email
from securebox_server.box.documents import DocumentStore
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.web.context import server_of
from securebox_server.web.errors import respond
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["managed_companies", "router"]

router = APIRouter(route_class=SecureRoute)
PAGE = "box/contact.html"


def managed_companies(request: Request, principal: Principal) -> frozenset[Siren]:
    """The companies whose notification address ``principal`` may set."""
    visible = server_of(request).box.entitlements.visible(principal, Operation.VIEW)
    return frozenset(
        s for s in visible.companies if may_set_contact(visible, principal.client_id, s)
    )


def _company(request: Request, principal: Principal, siren: str) -> Siren | None:
    try:
        company = Siren(siren)
    except (InvalidIdentifier, MalformedInput):
        return None
    return company if company in managed_companies(request, principal) else None


def _documents(request: Request) -> DocumentStore | None:
    return server_of(request).documents


def _page(
    request: Request, principal: Principal, company: Siren, status: int = 200, **values: object
) -> Response:
    documents = _documents(request)
    current = None if documents is None else documents.company_contact(principal.client_id, company)
    return render(request, PAGE, status=status, company=company, current=current, **values)


@router.get("/companies/{siren}/contact")
def contact_page(request: Request, web: LoggedIn, siren: str) -> Response:
    principal = web.session.principal
    company = _company(request, principal, siren)
    if company is None or _documents(request) is None:
        return respond(request, 404, "not_found")
    done = request.query_params.get("done")
    return _page(request, principal, company, done=done if done in ("set", "removed") else None)


@router.post("/companies/{siren}/contact")
def begin(
    request: Request, web: LoggedIn, siren: str, address: str = Form(default="", max_length=254)
) -> Response:
    principal = web.session.principal
    company = _company(request, principal, siren)
    if company is None or _documents(request) is None:
        return respond(request, 404, "not_found")
    hit_limits(request, "otp_send", principal.key)
    box = server_of(request).box
    gateway = box.gateways.get(Channel.EMAIL.value)
    issued = None
    try:
        address = parse_email(address)
    except MalformedInput:
        return _page(request, principal, company, 400, address=address, invalid=True)
    reference = contact_reference(box.factors.oob.keys, principal.client_id, company, address)
    if gateway is not None:
        try:
            issued = box.factors.oob.issue(
                principal,
                channel=Channel.EMAIL,
                destination=address,
                purpose=CONTACT_PURPOSE,
                reference=reference,
                gateway=gateway,
                display=(("the notification address of", company.value),),
            )
        except SecureboxError:
            issued = None
    if issued is None or not issued.ok or issued.challenge is None:
        return _page(request, principal, company, 400, address=address, failed=True)
    return render(
        request, "box/contact_confirm.html", company=company, address=address,
        challenge=issued.challenge.id,
    )  # fmt: skip


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
    company = _company(request, principal, siren)
    documents = _documents(request)
    if company is None or documents is None:
        return respond(request, 404, "not_found")
    hit_limits(request, "second_factor", principal.key)
    box = server_of(request).box
    values = {"company": company, "address": address, "challenge": challenge}
    try:
        address = parse_email(address)
        reference = contact_reference(box.factors.oob.keys, principal.client_id, company, address)
        result = box.factors.oob.verify(
            principal, challenge, code, purpose=CONTACT_PURPOSE, reference=reference
        )
    except SecureboxError:
        result = None
    if result is None or not result.ok:
        return render(request, "box/contact_confirm.html", status=400, failed=True, **values)
    documents.set_company_contact(principal.client_id, company, address, actor=principal.key)
    return see_other(f"/companies/{company.value}/contact?done=set")


@router.post("/companies/{siren}/contact/remove")
def remove(request: Request, web: LoggedIn, siren: str) -> Response:
    principal = web.session.principal
    company = _company(request, principal, siren)
    documents = _documents(request)
    if company is None or documents is None:
        return respond(request, 404, "not_found")
    documents.set_company_contact(principal.client_id, company, None, actor=principal.key)
    return see_other(f"/companies/{company.value}/contact?done=removed")
