"""The box for a logged-in user's API session (``Authorization: Bearer <session token>``,
or the session cookie): the same reading as the pages, through
:class:`~securebox_server.box.reading.BoxReader` (visibility, read status, audit of every
download).

* ``GET /api/v1/documents``: the 20 newest, or a search with the pages' filters (``from``
  and ``to`` dates, both days included, UTC), ``theme``, ``label`` substring, ``sender``, ``read``
  = ``read`` | ``unread``, ``company``), an opaque ``cursor`` for the next page;
* ``GET /api/v1/documents/{id}``: the metadata, the digest and the first read;
* ``GET /api/v1/documents/{id}/content``: the PDF, its read recorded (an audit event).

A document the user may not see answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.identity import Principal, Siren
from securebox_server.api.box_common import READ_PROBLEMS, SCOPE_PROBLEMS, documents_of, reader_of
from securebox_server.api.box_models import DocumentOut, DocumentPage
from securebox_server.api.common import PREFIX, PROBLEMS, Authenticated, model_json
from securebox_server.api.content import download
from securebox_server.api.links import NEXT_PAGE, link, linked, user_document_links
from securebox_server.box.model import BoxDocument
from securebox_server.box.names import sender_names, theme_label
from securebox_server.box.reading import holder_since
from securebox_server.box.search import BoxSearch, ListedPage, ReadFilter
from securebox_server.i18n import translations
from securebox_server.login.flow import hit_limits
from securebox_server.web.pages import language
from securebox_server.web.routing import SecureRoute

__all__ = ["CONTENT", "document_out", "page_out", "router"]

router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["documents"])
LIMIT: Final = "api.documents"
#: The body's answer, for the OpenAPI document.
CONTENT: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "The PDF; Repr-Digest (RFC 9530) is its SHA-256",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_USER_PROBLEMS: Final = {**SCOPE_PROBLEMS, 401: PROBLEMS[401]}
_PAGE: Final = {
    "NextPage": link("get", f"{PREFIX}/documents", NEXT_PAGE, "The next page"),
    **user_document_links("$response.body#/documents/0/id"),
}


def _names(request: Request) -> tuple[dict[str, str], Callable[[str], str]]:
    """The senders' display names and the themes' labels in the request's language."""
    gettext = translations(language(request)).gettext
    names = sender_names(documents_of(request).engine)
    return names, lambda theme: theme_label(gettext, theme)


def document_out(
    request: Request, doc: BoxDocument, reader: Principal, since: datetime | None
) -> DocumentOut:
    """``doc`` as the API shows it to ``reader`` (read by them since ``since``, their
    account's creation? first read by anyone?)."""
    store = documents_of(request)
    first = store.first_read(doc.id)
    names, label = _names(request)
    return DocumentOut(
        sender_name=names.get(doc.sender, doc.sender),
        theme_label=label(doc.theme.name),
        id=doc.id,
        company=doc.company.value,
        sender=doc.sender,
        type=doc.type,
        theme=doc.theme.name,
        label=doc.label,
        issued_at=doc.issued_at,
        published_at=doc.published_at,
        valid_until=doc.valid_until,
        digest=doc.digest,
        size=doc.size,
        media_type=doc.media_type,
        filename=doc.filename,
        read=bool(store.read_by(reader, [doc.id], since)),
        first_read_at=None if first is None else first.at,
    )


def page_out(request: Request, found: ListedPage[BoxDocument]) -> DocumentPage:
    reader = reader_of(request)
    names, label = _names(request)
    out = [
        DocumentOut(
            sender_name=names.get(d.row.sender, d.row.sender),
            theme_label=label(d.row.theme.name),
            id=d.row.id,
            company=d.row.company.value,
            sender=d.row.sender,
            type=d.row.type,
            theme=d.row.theme.name,
            label=d.row.label,
            issued_at=d.row.issued_at,
            published_at=d.row.published_at,
            valid_until=d.row.valid_until,
            digest=d.row.digest,
            size=d.row.size,
            media_type=d.row.media_type,
            filename=d.row.filename,
            read=d.read,
        )
        for d in found.documents
    ]
    cursor = None if found.next is None else reader.cursors.seal(found.next)
    return DocumentPage(documents=out, next=cursor)


def _day(value: date | None, *, after: bool = False) -> datetime | None:
    """The start of ``value`` in UTC, or of the next day (``after``: ``to`` takes its
    whole day)."""
    if value is None:
        return None
    start = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return start + timedelta(days=1) if after else start


@router.get(
    "/documents",
    response_model=DocumentPage,
    responses={**_USER_PROBLEMS, 200: linked("A page of documents", _PAGE)},
)
def search(
    request: Request,
    api: Authenticated,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    theme: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    label: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    sender: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    read: Literal["any", "read", "unread"] = "any",
    company: Annotated[str | None, Query(pattern=r"^[0-9 ]{9,11}$")] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """The newest documents the user may see, or a search (newest first)."""
    principal = api.session.principal
    hit_limits(request, LIMIT, principal.key)
    reader = reader_of(request)
    found = reader.search(
        principal,
        BoxSearch(
            limit=limit,
            after=reader.cursors.open(cursor) if cursor is not None else None,
            issued_from=_day(start),
            issued_to=_day(end, after=True),
            theme=Theme(theme) if theme is not None else None,
            label=label,
            sender=sender,
            read=ReadFilter(read),
            company=Siren(company) if company is not None else None,
        ),
    )
    return model_json(page_out(request, found))


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses={
        **READ_PROBLEMS,
        200: linked("The document", user_document_links("$response.body#/id")),
    },
)
def document(request: Request, api: Authenticated, document_id: str) -> DocumentOut:
    """One document's metadata, its digest and its first read."""
    principal = api.session.principal
    hit_limits(request, LIMIT, principal.key)
    box = reader_of(request)
    standing = box.securebox.entitlements.standing(principal)
    doc = box.open(principal, document_id, Operation.VIEW, standing=standing)
    return document_out(request, doc, principal, holder_since(standing))


@router.get("/documents/{document_id}/content", responses={**CONTENT, **READ_PROBLEMS})
def content(request: Request, api: Authenticated, document_id: str) -> Response:
    """The PDF, downloaded (the download is recorded: an audit event)."""
    principal = api.session.principal
    hit_limits(request, LIMIT, principal.key)
    return download(request, reader_of(request), principal, document_id)
