"""Sharing a document from its page (ADR 0068): the form (``GET /documents/{id}/share``) and
its answer (``POST``), for a user entitled to share the document.

The form asks for one e-mail address and an optional note, and lists the user's shares of
the document with whether each went out. An accepted share is written with its audit event
and sent by the jobs worker; the user sees the form again, told so. A document the user may
not share (or that does not exist, or no longer) answers the same 404 as an unknown path.
The named rate limit ``box.share`` (per account and per source) bounds what one user sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.identity import Principal
from securebox_server.box.model import BoxDocument, DocumentNotFound
from securebox_server.box.pages import not_found, reader_of_page
from securebox_server.box.reading import BoxReader
from securebox_server.box.shares import MAX_NOTE, ShareRefused, share_request
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.web.pages import language, render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["LIMIT", "router"]

router = APIRouter(route_class=SecureRoute)

#: The named rate limit of a share (``box.share.account``, ``box.share.source``).
LIMIT = "box.share"
_FORM = "box/share.html"


@router.get("/documents/{document_id}/share")
def share_form(request: Request, web: LoggedIn, document_id: str) -> Response:
    reader = reader_of_page(request)
    try:
        doc = reader.sharable(web.session.principal, document_id)
    except DocumentNotFound:
        return not_found(request)
    sent = request.query_params.get("sent") == "1"
    return _form(request, reader, principal=web.session.principal, doc=doc, sent=sent)


def _form(
    request: Request,
    reader: BoxReader,
    *,
    principal: Principal,
    doc: BoxDocument,
    status: int = 200,
    **values: Any,
) -> Response:
    shares = reader.store.shares_by(principal, doc.id)
    return render(
        request, _FORM, status=status, doc=doc, shares=shares, max_note=MAX_NOTE, **values
    )


@router.post("/documents/{document_id}/share")
def share(
    request: Request,
    web: LoggedIn,
    document_id: str,
    address: str = Form(default="", max_length=320),
    note: str = Form(default="", max_length=2 * MAX_NOTE),
) -> Response:
    principal = web.session.principal
    reader = reader_of_page(request)
    try:
        doc = reader.sharable(principal, document_id)
    except DocumentNotFound:
        return not_found(request)
    hit_limits(request, LIMIT, principal.key)
    values = {"address": address, "note": note}
    try:
        reader.share(principal, doc.id, share_request(address, note, language(request)))
    except ShareRefused as refused:
        return _form(
            request, reader, principal=principal, doc=doc, status=400, values=values, error=refused
        )
    except DocumentNotFound:
        return not_found(request)
    return see_other(f"/documents/{doc.id}/share?sent=1")
