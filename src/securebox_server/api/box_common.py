"""What the box's API routes share: the box's services from the server, the caller's
identity as a sender or a receiver (an API client's kind and scope, RFC 6750 403
``insufficient_scope`` otherwise), and the error answers of the OpenAPI document."""

from __future__ import annotations

from typing import Any, Final

from fastapi import Request

from securebox_auth.errors import NotFound
from securebox_auth.identity import Principal
from securebox_server.api.common import PROBLEMS
from securebox_server.box.documents import DocumentStore
from securebox_server.box.reading import BoxReader
from securebox_server.clients.model import Caller, ClientKind, InsufficientScope
from securebox_server.clients.service import ApiClients
from securebox_server.web.context import server_of

__all__ = [
    "PUBLISH_PROBLEMS",
    "READ_PROBLEMS",
    "SCOPE_PROBLEMS",
    "documents_of",
    "reader_of",
    "receiver_of",
    "sender_of",
]

_PROBLEM: Final = {
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_COMMON: Final[dict[int | str, dict[str, Any]]] = {s: PROBLEMS[s] for s in (400, 401, 403, 429)}
#: Listing routes: malformed query, no token, wrong scope, rate limited.
SCOPE_PROBLEMS: Final[dict[int | str, dict[str, Any]]] = dict(_COMMON)
#: Routes on one document: also 404 (missing, or not the caller's: the same answer), 409
#: (a deletion refused) and 503 (a body that fails its digest is never served).
READ_PROBLEMS: Final[dict[int | str, dict[str, Any]]] = {
    **_COMMON,
    404: PROBLEMS[404],
    409: {**_PROBLEM, "description": "Refused: a retention period or a legal hold runs"},
    503: {**_PROBLEM, "description": "The document's body failed its digest check"},
}
PUBLISH_PROBLEMS: Final[dict[int | str, dict[str, Any]]] = {
    **_COMMON,
    413: {**_PROBLEM, "description": "The upload is over the size limit"},
    415: {**_PROBLEM, "description": "Not multipart/form-data"},
    422: {
        **_PROBLEM,
        "description": (
            "The PDF was refused (``reason``), the document type is unknown, or the "
            "Idempotency-Key was used for another request"
        ),
    },
    507: {
        **_PROBLEM,
        "description": (
            "No room left to store the document (``storage_full``, Retry-After): nothing "
            "was stored, the same request with the same Idempotency-Key may be sent again"
        ),
    },
}


class BoxUnavailable(NotFound):
    """The server runs without the box (no document store): its routes do not exist."""

    code = "not_found"
    status_hint = 404


def documents_of(request: Request) -> DocumentStore:
    found = server_of(request).documents
    if found is None:
        raise BoxUnavailable("the box is not configured")
    return found


def reader_of(request: Request) -> BoxReader:
    found = server_of(request).reader
    if found is None:
        raise BoxUnavailable("the box is not configured")
    return found


def _allowed(caller: Caller, kind: ClientKind, scope: str) -> None:
    ApiClients.require(caller, scope)
    if caller.client.kind is not kind:  # a sender's scopes never name a receiver's
        raise InsufficientScope(f"this call needs a {kind.value} token with the scope {scope}")


def sender_of(caller: Caller, scope: str) -> str:
    """The sender id of a sender's token holding ``scope``."""
    _allowed(caller, ClientKind.SENDER, scope)
    if caller.sender is None:  # pragma: no cover - a sender is registered with its id
        raise InsufficientScope(f"this client publishes for no sender: {scope}")
    return caller.sender


def receiver_of(caller: Caller, scope: str) -> Principal:
    """The library account of a receiver's token holding ``scope``: entitlements decide on
    it exactly as on a user."""
    _allowed(caller, ClientKind.RECEIVER, scope)
    if caller.principal is None:  # pragma: no cover - a receiver has its account
        raise InsufficientScope(f"this client has no account: {scope}")
    return caller.principal
