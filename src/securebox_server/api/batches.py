"""A sender's batch: ``POST /api/v1/sender/batches`` (scope ``documents:publish``, ADR 0060).

``multipart/form-data`` with a ``metadata`` field (JSON: :class:`~.box_models.BatchIn`, up
to :data:`~securebox_server.box.batches.MAX_BATCH` items, each a publication's metadata,
its own ``idempotency_key`` and the name of the part holding its PDF) and one file part per
item. Every PDF gets the upload checks of one publication; every item is checked before
anything is stored; then :meth:`DocumentStore.publish_batch` commits every item in **one**
durable commit, and ``201`` is sent only once it returned. All or nothing: a refused item
(``422`` naming it in ``item``: its PDF, its type, its key used for another request), a
full disk (``507``) or a crash leaves no item published. Each item's key behaves as the
``Idempotency-Key`` of one publication: an item committed before with the same request
answers its first answer (``replayed: true``), never a second document. No
``Idempotency-Key`` header: the items carry theirs (the header is refused, ``400``, rather
than silently ignored).

Limits: the body at most :data:`MAX_BATCH_BYTES`, each PDF the upload limit; the named rate
limits ``api.sender`` (the request) and ``api.sender.batch`` (batches a minute).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_server.api.box_common import PUBLISH_PROBLEMS, documents_of, sender_of
from securebox_server.api.box_models import BatchIn, BatchItemOut, BatchOut
from securebox_server.api.common import PREFIX, api_problem
from securebox_server.api.idempotency import HEADER, parse_key
from securebox_server.api.multipart import read_batch
from securebox_server.api.senders import LIMIT, company_result, declared
from securebox_server.box.batches import MAX_BATCH, BatchItem, BatchItemConflict
from securebox_server.box.model import Draft
from securebox_server.box.upload import DEFAULT_LIMITS, UploadRejected, check_upload
from securebox_server.clients.caller import ApiCaller
from securebox_server.login.flow import hit_limits
from securebox_server.web.routing import SecureRoute

__all__ = ["BATCH_LIMIT", "MAX_BATCH_BYTES", "router"]

router = APIRouter(prefix=f"{PREFIX}/sender", route_class=SecureRoute, tags=["senders"])
#: The named rate limit of batches (key: the API client), besides ``api.sender``.
BATCH_LIMIT: Final = "api.sender.batch"
#: A batch's whole body (the PDFs, the framing and the metadata).
MAX_BATCH_BYTES: Final = 32 * 1024 * 1024


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its local ``$defs`` written in place of each ``$ref`` to them: a
    schema embedded in an operation (not in the components) cannot carry ``$defs`` that
    the OpenAPI document's references would find."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


_MULTIPART: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata"],
                    "properties": {"metadata": _inlined(BatchIn.model_json_schema())},
                    "additionalProperties": {
                        "type": "string",
                        "contentMediaType": "application/pdf",
                        "description": (
                            "The PDFs: one file part per item, named as the item's ``file``"
                            " (with a file name in its Content-Disposition)"
                        ),
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    }
}


def _batch(raw: bytes) -> BatchIn:
    try:
        return BatchIn.model_validate_json(raw)
    except (ValidationError, ValueError):
        raise MalformedInput("the metadata part is not a valid batch") from None


def _sirens(texts: list[str]) -> list[Siren]:
    seen: dict[str, Siren] = {}
    for text in texts:
        siren = Siren(text)
        seen.setdefault(siren.value, siren)
    return list(seen.values())


@router.post(
    "/batches",
    status_code=201,
    response_model=BatchOut,
    responses={
        **PUBLISH_PROBLEMS,
        201: {"description": "Every item published (or replayed), in one durable commit"},
    },
    openapi_extra=_MULTIPART,
)
async def publish_batch(request: Request, caller: ApiCaller) -> Response:
    """Publish up to 100 PDFs, each to its companies under its own idempotency key, all
    in one durable commit (all or nothing)."""
    sender = sender_of(caller, "documents:publish")
    if HEADER.lower() in request.headers:
        raise MalformedInput("a batch's items carry their idempotency keys: no header")
    await run_in_threadpool(hit_limits, request, LIMIT, caller.client_id)
    await run_in_threadpool(hit_limits, request, BATCH_LIMIT, caller.client_id)
    documents = documents_of(request)
    limits = DEFAULT_LIMITS
    parts = await read_batch(request, limits.max_bytes, MAX_BATCH_BYTES, MAX_BATCH)
    batch = _batch(parts.metadata)
    named = [item.file for item in batch.items]
    if len(set(named)) != len(named) or set(named) != set(parts.files):
        raise MalformedInput("each item names its own file part, and every part is named")
    keys = [parse_key(item.idempotency_key) for item in batch.items]
    known = {t.type for t in await run_in_threadpool(documents.types_of, sender)}
    items: list[BatchItem] = []
    for index, (item, key) in enumerate(zip(batch.items, keys, strict=True)):
        if item.type not in known:
            return api_problem(request, 422, "unknown_document_type", item=index)
        part = parts.files[item.file]
        try:
            checked = await run_in_threadpool(
                check_upload, part.data, part.filename, limits, media_type=declared(part.media_type)
            )
        except UploadRejected as refused:
            return api_problem(
                request, 422, refused.code, reason=refused.reason, detail=str(refused), item=index
            )
        draft = Draft(item.type, item.label, item.issued_at, checked)
        items.append(BatchItem(draft, _sirens(item.companies), key))
    try:
        done = await run_in_threadpool(documents.publish_batch, sender, items)
    except BatchItemConflict as conflict:
        return api_problem(request, 422, conflict.code, item=conflict.item)
    out = BatchOut(
        items=[
            BatchItemOut(
                idempotency_key=item.idempotency_key,
                replayed=publication.replayed,
                digest=item.draft.upload.digest,
                size=item.draft.upload.size,
                results=[company_result(*r) for r in publication.results],
            )
            for item, publication in zip(items, done, strict=True)
        ]
    )
    replayed = all(p.replayed for p in done)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(out.model_dump(mode="json"), 201, headers=headers)
