"""The ``securebox box`` commands (parser: :mod:`securebox_auth.cli.box`): an operator's
legal holds and a document's record, on the settings' database like ``securebox jobs``.

The hold goes through :meth:`~securebox_server.box.documents.DocumentStore.set_legal_hold`
(the audited path every deletion checks); ``show`` prints the row and the first read, never
the body (reading it would be a read of the document, which only its entitled users do).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from securebox_auth.errors import MalformedInput
from securebox_server.box.base import audit_actor
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import BoxDocument, DocumentNotFound, Status
from securebox_server.box.rows import document_from_row
from securebox_server.db.schema import BOX_DOCUMENTS
from securebox_server.settings import load_settings
from securebox_server.wiring import build_documents, build_securebox

__all__ = ["held", "record", "run"]


def _documents(args: argparse.Namespace) -> DocumentStore:
    extra = {"SECUREBOX_SETTINGS": str(Path(args.settings).resolve())} if args.settings else {}
    settings = load_settings({**os.environ, **extra})
    documents = build_documents(settings, build_securebox(settings))
    if documents is None:  # pragma: no cover - the server's settings name a SQL database
        raise MalformedInput("the digital box needs a SQL database")
    return documents


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat()


def record(documents: DocumentStore, doc: BoxDocument) -> Iterator[str]:
    """A document's record as ``key: value`` lines (no body)."""
    yield f"id: {doc.id}"
    yield f"status: {doc.status.value}"
    yield f"subscription: {doc.client_id.value}"
    yield f"company: {doc.company.value}"
    yield f"sender: {doc.sender}"
    yield f"type: {doc.type}"
    yield f"theme: {doc.theme.name}"
    yield f"label: {doc.label!r}"
    yield f"filename: {doc.filename!r}"
    yield f"media type: {doc.media_type}"
    yield f"size: {doc.size}"
    yield f"sha256: {doc.digest}"
    yield f"issued: {_when(doc.issued_at)}"
    yield f"published: {_when(doc.published_at)}"
    yield f"valid until: {_when(doc.valid_until)}"
    yield f"expiry warning: {_when(doc.warn_at)} (sent {_when(doc.warned_at)})"
    yield f"retention: {doc.retention_class} until {_when(doc.retain_until)}"
    yield f"legal hold: {'on' if doc.legal_hold else 'off'}"
    if doc.status is not Status.LIVE:
        yield f"expired: {_when(doc.expired_at)}"
        yield f"deleted: {_when(doc.deleted_at)} ({doc.deletion_reason or '-'})"
    first = documents.first_read(doc.id)
    read = "never" if first is None else f"{first.at.isoformat()} by {first.reader.key}"
    yield f"first read: {read}" + ("" if first is None else f" ({first.how.value})")


def held(documents: DocumentStore) -> list[BoxDocument]:
    """The documents under a legal hold, oldest publication first."""
    query = (
        select(BOX_DOCUMENTS)
        .where(BOX_DOCUMENTS.c.legal_hold.is_(True))
        .order_by(BOX_DOCUMENTS.c.published_at, BOX_DOCUMENTS.c.id)
    )
    with documents.engine.connect() as conn:
        return [document_from_row(r) for r in conn.execute(query).mappings()]


def _hold(documents: DocumentStore, args: argparse.Namespace) -> int:
    actor = audit_actor(f"operator/{args.actor}")
    try:
        documents.set_legal_hold(args.document_id, args.hold, actor=actor, reason=args.reason)
    except DocumentNotFound:
        print("securebox: error: no such document", file=sys.stderr)
        return 1
    print(f"legal hold {'set on' if args.hold else 'lifted from'} {args.document_id}")
    return 0


def _show(documents: DocumentStore, args: argparse.Namespace) -> int:
    doc = documents.get(args.document_id)
    if doc is None:
        print("securebox: error: no such document", file=sys.stderr)
        return 1
    for line in record(documents, doc):
        print(line)
    return 0


def _holds(documents: DocumentStore) -> int:
    found = held(documents)
    for doc in found:
        print(f"{doc.id}  {doc.status.value}  {doc.company.value}  {doc.sender}  {doc.label!r}")
    print(f"{len(found)} documents under a legal hold")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "hold" and not isinstance(args.hold, bool):
        print("securebox: error: give --on or --off", file=sys.stderr)
        return 2
    documents = _documents(args)
    try:
        if args.command == "hold":
            return _hold(documents, args)
        if args.command == "show":
            return _show(documents, args)
        return _holds(documents)
    finally:
        documents.engine.dispose()
