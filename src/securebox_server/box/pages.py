"""The box's pages: search, a document's page, its inline view and its download.

The home page (``/home``, :mod:`securebox_server.account.home`) shows the box too
(:func:`home_values`). The company switcher is the GET parameter ``company`` (a SIREN) on
``/home`` and ``/documents``: a bookmarkable, stateless choice that changes nothing on the
server, so it needs no CSRF token. A document that does not exist, was deleted, has expired
or that the user may not see answers the same 404 page as an unknown path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.errors import InvalidIdentifier, MalformedInput
from securebox_auth.identity import Siren
from securebox_server.admin.guards import administration_links
from securebox_server.api.content import BodyStream
from securebox_server.box.contact_rights import manageable
from securebox_server.box.cursors import BadCursor
from securebox_server.box.model import BodyCorrupted, DocumentNotFound
from securebox_server.box.names import sender_names
from securebox_server.box.reading import BoxReader
from securebox_server.box.search import BoxSearch, ListedPage, ReadFilter
from securebox_server.web.context import server_of
from securebox_server.web.errors import respond
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession

__all__ = ["content_disposition", "home_values", "not_found", "reader_of_page", "router"]

router = APIRouter(route_class=SecureRoute)

_FIELDS = ("from", "to", "theme", "label", "sender", "read", "company")


def reader_of_page(request: Request) -> BoxReader:
    """The box's reader (:class:`DocumentNotFound` when the box is off)."""
    reader = server_of(request).reader
    if reader is None:
        raise DocumentNotFound("the box is not configured")
    return reader


def _company(value: str | None) -> Siren | None:
    if not value:
        return None
    try:
        return Siren(value.replace(" ", ""))
    except InvalidIdentifier:
        raise MalformedInput("company: a SIREN") from None


def home_values(request: Request, web: WebSession) -> dict[str, Any]:
    """What ``account/home.html`` shows of the box (nothing when the box is off)."""
    reader = server_of(request).reader
    if reader is None:
        return {"box": None}  # the home page decides the administration links itself
    company = _company(request.query_params.get("company"))
    principal = web.session.principal
    sight = reader.sight(principal)  # one read for the box and the address links
    box = reader.home(principal, company, session_start=web.session.auth_time, sight=sight)
    managed = manageable(sight.visible, principal.client_id)
    standing = sight.standing
    return {
        "administration": None
        if standing is None
        else administration_links(standing, principal, reader.securebox.clock.now()),
        "box": box,
        "contact_companies": [c for c in box.companies if c.siren in managed],
        "sender_names": sender_names(reader.store.engine),
    }


def _day(value: str, field: str, errors: list[tuple[str, str]]) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError:
        errors.append((field, "Enter a date as YYYY-MM-DD."))
        return None


def _search(params: dict[str, str]) -> tuple[BoxSearch | None, list[tuple[str, str]]]:
    """The search of the form's values, or the errors to show next to its fields."""
    errors: list[tuple[str, str]] = []
    start = _day(params["from"], "from", errors)
    end = _day(params["to"], "to", errors)
    if start is not None and end is not None and start > end:
        errors.append(("from", "The start date must be on or before the end date."))
    theme = sender = company = None
    try:
        theme = Theme(params["theme"]) if params["theme"] else None
    except MalformedInput:
        errors.append(("theme", "Choose a theme from the list."))
    if params["sender"]:
        sender = params["sender"]
        if len(sender) > 64:
            errors.append(("sender", "Choose a sender from the list."))
    label = params["label"].strip() or None
    if label is not None and len(label) > 100:
        errors.append(("label", "A label search is at most 100 characters."))
    try:
        company = _company(params["company"])
    except MalformedInput:
        errors.append(("company", "Choose a company from the list."))
    read = ReadFilter.ANY
    try:
        read = ReadFilter(params["read"] or ReadFilter.ANY)
    except ValueError:
        errors.append(("read", "Choose a read status from the list."))
    if errors:
        return None, errors
    return (
        BoxSearch(
            issued_from=start,
            issued_to=None if end is None else end + timedelta(days=1),
            theme=theme,
            label=label,
            sender=sender,
            read=read,
            company=company,
        ),
        [],
    )


@router.get("/documents")
def documents(request: Request, web: LoggedIn) -> Response:
    reader = reader_of_page(request)
    principal = web.session.principal
    params = {name: request.query_params.get(name, "").strip()[:200] for name in _FIELDS}
    search, errors = _search(params)
    after = request.query_params.get("after")
    if search is not None and after:
        try:
            search = BoxSearch(**{**_fields(search), "after": reader.cursors.open(after)})
        except BadCursor:
            return render(
                request,
                "error.html",
                status=400,
                message="This page link is not valid. Please start the search again.",
                code="bad_cursor",
                restart=False,
            )
    sight = reader.sight(principal)  # one read for the page and the form's choices
    page: ListedPage[Any] | None = None
    if search is not None:
        page = reader.search(principal, search, sight=sight)
    kept = {k: v for k, v in params.items() if v}
    more = None
    if page is not None and page.next is not None:
        more = "/documents?" + urlencode({**kept, "after": reader.cursors.seal(page.next)})
    return render(
        request,
        "box/documents.html",
        status=400 if errors else 200,
        user=principal,
        params=params,
        errors=errors,
        page=page,
        more=more,
        first="/documents?" + urlencode(kept) if after else None,
        themes=sight.themes,
        companies=sight.companies,
        senders=reader.senders(),
        sender_names=sender_names(reader.store.engine),
    )


def _fields(search: BoxSearch) -> dict[str, Any]:
    return {name: getattr(search, name) for name in BoxSearch.__dataclass_fields__}


def not_found(request: Request) -> Response:
    """Exactly what an unknown path answers."""
    return respond(request, 404, "not_found")


@router.get("/documents/{document_id}")
def document(request: Request, web: LoggedIn, document_id: str) -> Response:
    reader = reader_of_page(request)
    try:
        shown = reader.page(web.session.principal, document_id)
    except DocumentNotFound:
        return not_found(request)
    names = sender_names(reader.store.engine)
    return render(
        request, "box/document.html", user=web.session.principal, shown=shown, sender_names=names
    )


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` (anything else replaced) and the UTF-8 ``filename*``
    (RFC 8187 percent-encoding)."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    encoded = quote(filename, safe="")
    return f"{kind}; filename=\"{plain or 'document.pdf'}\"; filename*=UTF-8''{encoded}"


def _body(request: Request, web: WebSession, document_id: str, action: Operation) -> Response:
    reader = reader_of_page(request)
    try:
        doc, body = reader.stream(web.session.principal, document_id, action)
    except DocumentNotFound:
        return not_found(request)
    except BodyCorrupted:
        return render(
            request,
            "error.html",
            status=503,
            message="This document cannot be shown now. The bank has been alerted.",
            code="body_corrupted",
            restart=False,
        )
    kind = "inline" if action is Operation.VIEW else "attachment"
    return BodyStream(
        body,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": content_disposition(kind, doc.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            # added to the server's policy by the middleware: no script, no form, no
            # same-origin access from whatever the body holds
            "Content-Security-Policy": "sandbox",
        },
    )


@router.get("/documents/{document_id}/view")
def view(request: Request, web: LoggedIn, document_id: str) -> Response:
    return _body(request, web, document_id, Operation.VIEW)


@router.get("/documents/{document_id}/download")
def download(request: Request, web: LoggedIn, document_id: str) -> Response:
    return _body(request, web, document_id, Operation.DOWNLOAD)
