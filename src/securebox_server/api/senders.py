"""The senders' ingestion API (a bank's back office, an institution: an API client of kind
``sender``, issue 15; e-Box Enterprise's publication API is the model).

* ``POST /api/v1/sender/documents`` (scope ``documents:publish``): ``multipart/form-data``
  with a ``metadata`` part (JSON: :class:`~.box_models.PublishMetadata`) and a ``file``
  part (the PDF), and an ``Idempotency-Key`` header (:mod:`.idempotency`). The body is read
  with a size cap (413 before it is read in full, :mod:`.multipart`), checked by
  :func:`~securebox_server.box.upload.check_upload` before anything is stored (422
  ``upload_rejected`` with its ``reason``), then published by
  :meth:`DocumentStore.publish` in one commit; ``201`` is sent only once that commit
  returned. The same key and request again give the same answer (``Idempotent-Replayed:
  true``), never a second document; the same key with another request is ``422``
  ``idempotency_conflict`` (the draft's "key reused with another payload"). A full disk
  (the blob store's or the database's) is ``507`` ``storage_full`` with ``Retry-After``:
  nothing was stored and the key is still unused.
* ``GET /api/v1/sender/documents`` (``documents:status``): what it published, newest
  first, with each document's status and when it was first read (never by whom).
* ``GET /api/v1/sender/types`` (``documents:status``): its document types.
* ``DELETE /api/v1/sender/documents/{id}`` (``documents:publish``): a withdrawal, through
  :meth:`DocumentStore.delete` (the one deletion path: a retention period or a legal hold
  refuses it, ``409``). Deleting a document already deleted answers ``204`` again.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_server.api.box_common import (
    PUBLISH_PROBLEMS,
    READ_PROBLEMS,
    SCOPE_PROBLEMS,
    documents_of,
    sender_of,
)
from securebox_server.api.box_models import (
    CompanyResult,
    DocumentTypeOut,
    PublicationOut,
    PublishMetadata,
    SentDocumentOut,
    SentPage,
    TypesOut,
)
from securebox_server.api.common import PREFIX, api_problem
from securebox_server.api.cursors import decode, encode
from securebox_server.api.idempotency import HEADER, parse_key
from securebox_server.api.links import NEXT_PAGE, document_links, link, linked
from securebox_server.api.multipart import read_publication
from securebox_server.box.base import document_actor
from securebox_server.box.model import (
    BoxDocument,
    DeletionRefused,
    DocumentNotFound,
    Draft,
    IdempotencyConflict,
    Outcome,
    Read,
    Status,
)
from securebox_server.box.upload import DEFAULT_LIMITS, PDF, UploadRejected, check_upload
from securebox_server.clients.caller import ApiCaller
from securebox_server.login.flow import hit_limits
from securebox_server.web.routing import SecureRoute

__all__ = ["LIMIT", "company_result", "router"]

router = APIRouter(prefix=f"{PREFIX}/sender", route_class=SecureRoute, tags=["senders"])
#: The named rate limit of every sender call (key: the API client).
LIMIT: Final = "api.sender"
#: The multipart body, for the OpenAPI document (the route reads it itself, streaming).
_MULTIPART: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata", "file"],
                    "properties": {
                        # inline: no route names the model, so it is not a component
                        # (a $ref to it resolved to nothing: schemathesis skipped the body)
                        "metadata": PublishMetadata.model_json_schema(),
                        "file": {
                            "type": "string",
                            "contentMediaType": "application/pdf",
                            "description": (
                                "The PDF: a file part, with a file name (Content-Disposition"
                                ' filename="..."); a part without one is a text field (400)'
                            ),
                        },
                    },
                },
                "encoding": {
                    "metadata": {"contentType": "application/json"},
                    "file": {"contentType": "application/pdf"},
                },
            }
        },
    }
}


_WITHDRAW: Final = f"{PREFIX}/sender/documents/{{document_id}}"
_FIRST: Final = "$response.body#/results/0/document_id"
#: The published document (the first company's): its withdrawal, the receivers' and users'
#: reads (OpenAPI links).
_PUBLISHED: Final = {
    "Withdraw": link("delete", _WITHDRAW, {"path.document_id": _FIRST}, "Withdraw it"),
    **document_links(_FIRST),
}
_LISTED: Final = {
    "NextPage": link("get", f"{PREFIX}/sender/documents", NEXT_PAGE, "The next page"),
    "Withdraw": link(
        "delete", _WITHDRAW, {"path.document_id": "$response.body#/documents/0/id"}, "Withdraw"
    ),
}


def _companies(metadata: PublishMetadata) -> list[Siren]:
    """The SIRENs named (Luhn checked), each once, in the order given."""
    seen: dict[str, Siren] = {}
    for text in metadata.companies:
        siren = Siren(text)
        seen.setdefault(siren.value, siren)
    return list(seen.values())


def _metadata(raw: bytes) -> PublishMetadata:
    try:
        return PublishMetadata.model_validate_json(raw)
    except (ValidationError, ValueError):
        raise MalformedInput("the metadata part is not a valid publication") from None


def company_result(siren: Siren, outcome: Outcome, document_id: str | None) -> CompanyResult:
    if outcome is Outcome.PUBLISHED:
        return CompanyResult(company=siren.value, status="published", document_id=document_id)
    if outcome is Outcome.PAPER:
        return CompanyResult(company=siren.value, status="refused", reason="paper")
    return CompanyResult(company=siren.value, status="refused", reason="unknown_company")


@router.post(
    "/documents",
    status_code=201,
    response_model=PublicationOut,
    responses={**PUBLISH_PROBLEMS, 201: linked("Published (or refused), per company", _PUBLISHED)},
    openapi_extra=_MULTIPART,
)
async def publish(
    request: Request,
    caller: ApiCaller,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            max_length=200,
            description="Required: one per document (an RFC 8941 string, or a bare token)",
        ),
    ] = None,
) -> Response:
    """Publish one PDF to one company or many (one document each): answered once durable."""
    sender = sender_of(caller, "documents:publish")
    key = parse_key(idempotency_key)
    await run_in_threadpool(hit_limits, request, LIMIT, caller.client_id)
    documents = documents_of(request)
    limits = DEFAULT_LIMITS
    parts = await read_publication(request, limits.max_bytes)
    metadata = _metadata(parts.metadata)
    companies = _companies(metadata)
    try:
        checked = await run_in_threadpool(
            check_upload, parts.data, parts.filename, limits, media_type=declared(parts.media_type)
        )
    except UploadRejected as refused:
        return api_problem(request, 422, refused.code, reason=refused.reason, detail=str(refused))
    draft = Draft(metadata.type, metadata.label, metadata.issued_at, checked)
    try:
        done = await run_in_threadpool(
            lambda: documents.publish(sender, draft, companies, idempotency_key=key)
        )
    except IdempotencyConflict as conflict:
        return api_problem(request, 422, conflict.code)
    out = PublicationOut(
        digest=checked.digest,
        size=checked.size,
        results=[company_result(*result) for result in done.results],
    )
    headers = {"Idempotent-Replayed": "true"} if done.replayed else None
    return JSONResponse(out.model_dump(mode="json"), 201, headers=headers)


def _sent(doc: BoxDocument, first: Read | None) -> SentDocumentOut:
    return SentDocumentOut(
        id=doc.id,
        company=doc.company.value,
        type=doc.type,
        label=doc.label,
        issued_at=doc.issued_at,
        published_at=doc.published_at,
        valid_until=doc.valid_until,
        status=doc.status,
        digest=doc.digest,
        size=doc.size,
        read=first is not None,
        first_read_at=None if first is None else first.at,
    )


@router.get(
    "/documents",
    response_model=SentPage,
    responses={**SCOPE_PROBLEMS, 200: linked("A page of what it published", _LISTED)},
)
def published(
    request: Request,
    caller: ApiCaller,
    cursor: Annotated[str | None, Query(min_length=1, max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> SentPage:
    """What the sender published, newest first, with status and first-read time."""
    sender = sender_of(caller, "documents:status")
    hit_limits(request, LIMIT, caller.client_id)
    documents = documents_of(request)
    after = decode(cursor, 1)[0] if cursor is not None else None
    docs = documents.published_by(sender, after=after, limit=limit + 1)
    page, more = docs[:limit], len(docs) > limit
    out = [_sent(doc, documents.first_read(doc.id)) for doc in page]
    return SentPage(documents=out, next=encode([page[-1].id]) if more and page else None)


@router.get("/types", response_model=TypesOut, responses=SCOPE_PROBLEMS)
def types(request: Request, caller: ApiCaller) -> TypesOut:
    """The sender's document types (theme, validity, retention)."""
    sender = sender_of(caller, "documents:status")
    hit_limits(request, LIMIT, caller.client_id)
    return TypesOut(
        types=[
            DocumentTypeOut(
                type=t.type,
                title=t.title,
                theme=t.theme.name,
                validity_days=t.validity_days,
                warning_days=t.warning_days,
                retention_class=t.retention_class,
                retention_years=t.retention_years,
            )
            for t in documents_of(request).types_of(sender)
        ]
    )


@router.delete("/documents/{document_id}", status_code=204, responses=READ_PROBLEMS)
def withdraw(request: Request, caller: ApiCaller, document_id: str) -> Response:
    """Withdraw a document (refused while its retention runs or a legal hold is set)."""
    sender = sender_of(caller, "documents:publish")
    hit_limits(request, LIMIT, caller.client_id)
    documents = documents_of(request)
    doc = documents.get(document_id)
    if doc is None or doc.sender != sender:
        raise DocumentNotFound("no such document")
    if doc.status is not Status.DELETED:
        try:
            documents.delete(doc.id, reason="withdrawn", actor=document_actor(sender))
        except DeletionRefused as refused:
            return api_problem(request, 409, refused.code, detail=str(refused))
    return Response(status_code=204)


def declared(media_type: str) -> str:
    """The media type a file part declares, PDF when it declares none or a generic one
    (the upload check refuses any other)."""
    return media_type if media_type not in ("", "application/octet-stream") else PDF
