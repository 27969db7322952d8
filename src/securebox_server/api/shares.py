"""Sharing a document through a user's API session (ADR 0068), as from its page:

* ``POST /api/v1/documents/{id}/shares`` with ``{"to": "name@example.com", "note": "..."}``:
  ``202``, the share written with its audit event and sent by the jobs worker (the
  document attached); with an ``Idempotency-Key``, the same key, document and address
  answer the first share again (``Idempotent-Replayed: true``), another share under the
  key ``422``; with an ``Idempotency-Key``, the same key, document and address
  answer the first share again (``Idempotent-Replayed: true``), another share under the
  key ``422``; ``400`` with a ``detail`` saying what is wrong (the address, the note,
  a document too large for e-mail); ``404`` when the user may not share the document (the
  same answer as a missing one); ``429`` past the ``box.share`` limit.
* ``GET /api/v1/documents/{id}/shares``: the user's shares of the document, newest first,
  with whether each went out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Body, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from securebox_auth.errors import MalformedInput
from securebox_server.api.box_common import READ_PROBLEMS, reader_of
from securebox_server.api.common import PREFIX, PROBLEMS, Authenticated, api_problem
from securebox_server.api.idempotency import HEADER, parse_key
from securebox_server.box.model import IdempotencyConflict
from securebox_server.box.share_pages import LIMIT
from securebox_server.box.shares import MAX_NOTE, ShareRecord, share_request
from securebox_server.login.flow import hit_limits
from securebox_server.web.pages import language
from securebox_server.web.routing import SecureRoute

__all__ = ["ShareIn", "ShareList", "ShareOut", "router"]

router = APIRouter(prefix=PREFIX, route_class=SecureRoute, tags=["documents"])
_LIST_LIMIT: Final = "api.documents"


class ShareIn(BaseModel):
    """A copy of the document to send by e-mail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(min_length=3, max_length=254, description="One plain e-mail address")
    note: str = Field(
        default="", max_length=MAX_NOTE, description="Plain text for the recipient (optional)"
    )


class ShareOut(BaseModel):
    """One share and its delivery."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    to: str
    created_at: datetime
    status: str = Field(description="pending, sent, dropped, dead or bounced")
    sent_at: datetime | None = None


class ShareList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shares: list[ShareOut]


def _out(record: ShareRecord) -> ShareOut:
    return ShareOut(
        id=record.id,
        to=record.address,
        created_at=record.created_at,
        status=record.status,
        sent_at=record.sent_at,
    )


@router.post(
    "/documents/{document_id}/shares",
    status_code=202,
    response_model=ShareOut,
    responses={
        **READ_PROBLEMS,
        202: {"description": "The share is written (or replayed); it is sent soon"},
        422: {**PROBLEMS[400], "description": "The Idempotency-Key was used for another share"},
    },
)
def share(
    request: Request,
    api: Authenticated,
    document_id: str,
    body: Annotated[ShareIn | None, Body()] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            max_length=200,
            description="Optional: the same key, document and address answer the first share",
        ),
    ] = None,
) -> Response:
    """Send a copy of the document, attached to an e-mail, to one address."""
    principal = api.session.principal
    reader = reader_of(request)
    doc = reader.sharable(principal, document_id)  # first: a missing body says nothing more
    if body is None:
        raise MalformedInput("a share needs a JSON body with its address (to)")
    key = parse_key(idempotency_key) if idempotency_key is not None else None
    hit_limits(request, LIMIT, principal.key)
    asked = share_request(body.to, body.note, language(request))
    try:
        record = reader.share(principal, doc.id, asked, key=key)
    except IdempotencyConflict as conflict:
        return api_problem(request, 422, conflict.code)
    headers = {"Idempotent-Replayed": "true"} if record.replayed else None
    return Response(
        _out(record).model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers=headers,
    )


@router.get("/documents/{document_id}/shares", response_model=ShareList, responses=READ_PROBLEMS)
def shares(request: Request, api: Authenticated, document_id: str) -> Response:
    """The user's shares of the document, newest first."""
    principal = api.session.principal
    hit_limits(request, _LIST_LIMIT, principal.key)
    found = reader_of(request).shares(principal, document_id)
    listed = ShareList(shares=[_out(r) for r in found])
    return Response(listed.model_dump_json(), media_type="application/json")
