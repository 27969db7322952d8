"""The receivers' feed (``box_feed_heads`` / ``box_events``), numbered per subscription.

:func:`append` takes the subscription's head row (an upsert that adds the number of new
events and returns the new last number: the row stays locked until the commit), so two
commits of one subscription number their events one after the other and commit in that
order: a reader that saw ``n`` never misses an event numbered below ``n`` later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren
from securebox_server.box.model import FeedEvent, FeedKind
from securebox_server.box.rows import instant
from securebox_server.db.schema import BOX_EVENTS, BOX_FEED_HEADS

__all__ = ["MAX_FEED_PAGE", "NewEvent", "append", "check_page", "page"]

MAX_FEED_PAGE = 1000
#: kind, document id, company, details
NewEvent = tuple[FeedKind, str, Siren, Mapping[str, str]]


def append(conn: Connection, client_id: ClientId, events: Sequence[NewEvent], at: datetime) -> int:
    """Number and insert ``events`` of one subscription; the last number."""
    if not events:
        return 0
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    head = make(BOX_FEED_HEADS).values(client_id=client_id.value, last_seq=len(events))
    last = conn.execute(
        head.on_conflict_do_update(
            index_elements=["client_id"],
            set_={"last_seq": BOX_FEED_HEADS.c.last_seq + len(events)},
        ).returning(BOX_FEED_HEADS.c.last_seq)
    ).scalar_one()
    first = int(last) - len(events) + 1
    conn.execute(
        insert(BOX_EVENTS),
        [
            {
                "client_id": client_id.value,
                "seq": first + i,
                "kind": kind.value,
                "document_id": document_id,
                "company": company.value,
                "at": at,
                "details": json.dumps(dict(details), sort_keys=True, separators=(",", ":")),
            }
            for i, (kind, document_id, company, details) in enumerate(events)
        ],
    )
    return int(last)


def check_page(after: int, limit: int) -> None:
    """A feed page's bounds, else :class:`MalformedInput`."""
    if not isinstance(after, int) or after < 0:
        raise MalformedInput("after is a sequence number (0 or more)")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_FEED_PAGE:
        raise MalformedInput(f"a feed page holds 1 to {MAX_FEED_PAGE} events")


def page(engine: Engine, client_id: ClientId, *, after: int, limit: int) -> list[FeedEvent]:
    """The events numbered after ``after``, oldest first."""
    query = (
        select(BOX_EVENTS)
        .where(BOX_EVENTS.c.client_id == client_id.value, BOX_EVENTS.c.seq > after)
        .order_by(BOX_EVENTS.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        FeedEvent(
            client_id,
            int(r["seq"]),
            FeedKind(r["kind"]),
            str(r["document_id"]),
            Siren(r["company"]),
            instant(r["at"]),
            tuple(sorted(json.loads(r["details"]).items())),
        )
        for r in rows
    ]
