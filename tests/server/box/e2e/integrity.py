"""What must hold in the box's tables whatever was killed when (bodies in the database):
nothing half-published is visible.

* every body belongs to a document that is not a tombstone, and every such document has
  its body (no orphan blob, no document without its body);
* the library's catalogue lists exactly the live documents;
* every outbox row, feed event and idempotency record names a document that exists, and
  every document has exactly one ``document.new`` event.
"""

from __future__ import annotations

import json
from collections import Counter

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.stores.sql.schema import DOCUMENTS
from securebox_server.db.schema import (
    BOX_BLOBS,
    BOX_DOCUMENTS,
    BOX_EVENTS,
    BOX_NOTIFICATIONS,
    BOX_PUBLICATIONS,
)

__all__ = ["check_integrity"]


def _ids(result: str) -> list[str]:
    """The document ids of a stored publication result: ``[[siren, outcome, id], ...]``."""
    return [str(doc) for _, _, doc in json.loads(result) if doc is not None]


def check_integrity(engine: Engine) -> int:
    """Assert the invariants of the module documentation; the number of documents."""
    d = BOX_DOCUMENTS
    with engine.connect() as conn:
        docs = {
            r.id: (r.status, r.digest)
            for r in conn.execute(sa.select(d.c.id, d.c.status, d.c.digest))
        }
        blobs = set(conn.execute(sa.select(BOX_BLOBS.c.digest)).scalars())
        listed = set(conn.execute(sa.select(DOCUMENTS.c.id)).scalars())
        told = set(conn.execute(sa.select(BOX_NOTIFICATIONS.c.document_id)).scalars())
        news = Counter(
            conn.execute(
                sa.select(BOX_EVENTS.c.document_id).where(BOX_EVENTS.c.kind == "document.new")
            ).scalars()
        )
        events = set(conn.execute(sa.select(BOX_EVENTS.c.document_id)).scalars())
        results = list(conn.execute(sa.select(BOX_PUBLICATIONS.c.result)).scalars())
    kept = {digest for status, digest in docs.values() if status != "deleted"}
    assert blobs == kept, "an orphan body, or a document without its body"
    assert listed == {i for i, (status, _) in docs.items() if status == "live"}
    assert told <= set(docs), "an outbox row names no document"
    assert events <= set(docs), "a feed event names no document"
    assert set(news) == set(docs), "a document without its document.new event"
    assert max(news.values(), default=1) == 1, "a document announced twice in the feed"
    published = [i for text in results for i in _ids(text)]
    assert set(published) <= set(docs), "an idempotency record names no document"
    assert len(published) == len(set(published)), "two publications made the same document"
    return len(docs)
