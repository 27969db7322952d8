"""The receivers' integration API (seed 003's "technical integration"): a company's service
account (an API client of kind ``receiver``, whose library account has "rights like a
user's" on its companies) follows the event feed, lists and downloads the documents it may
see, and marks them read.

* ``GET /api/v1/receiver/events?after=N&limit=`` (``events:read``): the subscription's feed
  from sequence number ``N`` (exclusive), in order, keeping the events about documents the
  account may see; ``next`` is the last sequence number the page covered, so a client that
  passes it back sees every event once (the store numbers events under a row lock, so none
  commits below a number already read).
* ``GET /api/v1/receiver/documents?status=new|all&cursor=`` (``documents:read``): its
  documents, newest first (``new``: not yet read by the account).
* ``GET /api/v1/receiver/documents/{id}`` (``documents:read``): the metadata and digest.
* ``GET /api/v1/receiver/documents/{id}/content`` (``documents:read``): the PDF (digest
  checked, :mod:`.content`); a download is recorded like a user's (audit event, first read).
* ``POST /api/v1/receiver/documents/{id}/read`` (``documents:mark-read``): mark read.

A document the account may not see answers 404 exactly like a missing one. Every call
counts against the named limit ``api.receiver`` (key: the API client).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from securebox_auth.entitlements.model import Operation
from securebox_server.api.box_common import (
    READ_PROBLEMS,
    SCOPE_PROBLEMS,
    documents_of,
    reader_of,
    receiver_of,
)
from securebox_server.api.box_models import (
    DocumentOut,
    DocumentPage,
    FeedEventOut,
    FeedPage,
    ReadOut,
)
from securebox_server.api.common import PREFIX, model_json
from securebox_server.api.content import download
from securebox_server.api.documents import CONTENT, document_out, page_out
from securebox_server.api.links import NEXT_PAGE, document_links, link, linked
from securebox_server.box.model import ReadKind
from securebox_server.box.reading import holder_since
from securebox_server.box.rows import reference
from securebox_server.box.search import BoxSearch, ReadFilter
from securebox_server.clients.caller import ApiCaller
from securebox_server.login.flow import hit_limits
from securebox_server.web.routing import SecureRoute

__all__ = ["LIMIT", "router"]

router = APIRouter(prefix=f"{PREFIX}/receiver", route_class=SecureRoute, tags=["receivers"])
LIMIT: Final = "api.receiver"
MAX_EVENTS: Final = 500
_FEED: Final = {
    "NextEvents": link(
        "get", f"{PREFIX}/receiver/events", {"query.after": "$response.body#/next"}, "Resume"
    ),
    **document_links("$response.body#/events/0/document_id", user=False),
}
_PAGE: Final = {
    "NextPage": link("get", f"{PREFIX}/receiver/documents", NEXT_PAGE, "The next page"),
    **document_links("$response.body#/documents/0/id", user=False),
}
_ONE: Final = document_links("$response.body#/id", user=False)


@router.get(
    "/events",
    response_model=FeedPage,
    responses={**SCOPE_PROBLEMS, 200: linked("The feed's next events", _FEED)},
)
def events(
    request: Request,
    caller: ApiCaller,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> Response:
    """The feed after sequence number ``after``: each event once, in order."""
    principal = receiver_of(caller, "events:read")
    hit_limits(request, LIMIT, caller.client_id)
    reader = reader_of(request)
    visible = reader.visible(principal, None)
    # the events with their documents' rows: one statement (BoxReader.feed)
    found = reader.feed(principal.client_id, after=after, limit=limit)
    out = [
        FeedEventOut(
            seq=e.seq,
            kind=e.kind,
            document_id=e.document_id,
            company=e.company.value,
            at=e.at,
        )
        for e, doc in found
        if doc is not None and visible.matches(reference(doc))
    ]
    last = found[-1][0].seq if found else after
    return model_json(FeedPage(events=out, next=last, more=len(found) == limit))


@router.get(
    "/documents",
    response_model=DocumentPage,
    responses={**SCOPE_PROBLEMS, 200: linked("A page of its documents", _PAGE)},
)
def documents(
    request: Request,
    caller: ApiCaller,
    status: Literal["new", "all"] = "new",
    cursor: Annotated[str | None, Query(min_length=1, max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> Response:
    """Its documents, newest first: ``new`` (not read by the account yet) or ``all``."""
    principal = receiver_of(caller, "documents:read")
    hit_limits(request, LIMIT, caller.client_id)
    reader = reader_of(request)
    after = reader.cursors.open(cursor) if cursor is not None else None
    read = ReadFilter.UNREAD if status == "new" else ReadFilter.ANY
    found = reader.search(principal, BoxSearch(limit=limit, after=after, read=read))
    return model_json(page_out(request, found))


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses={**READ_PROBLEMS, 200: linked("The document", _ONE)},
)
def document(request: Request, caller: ApiCaller, document_id: str) -> DocumentOut:
    """One document's metadata (digest included)."""
    principal = receiver_of(caller, "documents:read")
    hit_limits(request, LIMIT, caller.client_id)
    box = reader_of(request)
    standing = box.securebox.entitlements.standing(principal)
    doc = box.open(principal, document_id, Operation.VIEW, standing=standing)
    return document_out(request, doc, principal, holder_since(standing))


@router.get("/documents/{document_id}/content", responses={**CONTENT, **READ_PROBLEMS})
def content(request: Request, caller: ApiCaller, document_id: str) -> Response:
    """The PDF (``Repr-Digest``: its SHA-256, checked before it is sent)."""
    principal = receiver_of(caller, "documents:read")
    hit_limits(request, LIMIT, caller.client_id)
    return download(request, reader_of(request), principal, document_id)


@router.post("/documents/{document_id}/read", response_model=ReadOut, responses=READ_PROBLEMS)
def mark_read(request: Request, caller: ApiCaller, document_id: str) -> ReadOut:
    """Mark the document read by the account (the sender sees it read)."""
    principal = receiver_of(caller, "documents:mark-read")
    hit_limits(request, LIMIT, caller.client_id)
    doc = reader_of(request).open(principal, document_id, Operation.VIEW)
    documents_of(request).record_read(doc, principal, ReadKind.VIEW)
    return ReadOut(id=doc.id, read=True)
