"""How many documents a user may see were published since their previous visit (bounded).

For each subscription the user's visibility filter reaches, one indexed query reads the
newest live publications after ``since`` (``ix_box_documents_published``: client id, then
publication time), at most :data:`SCAN` of them, and the filter itself decides which the
user may see (:meth:`~securebox_auth.entitlements.visibility.VisibilityFilter.matches`, the
in-memory form held to ``check()``). The work is bounded whatever the box holds; when a
subscription has more new documents than the scan reads, the count is a lower bound and
the page says "at least N".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, Select, select

from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.identity import ClientId, Siren
from securebox_server.db.schema import BOX_DOCUMENTS

__all__ = ["SCAN", "NewCount", "count_new", "newest_since"]

#: The most new publications read per subscription.
SCAN: Final = 500
_LIVE: Final = "live"


@dataclass(frozen=True, slots=True)
class NewCount:
    count: int
    #: the count is a lower bound (a subscription had more new documents than were read)
    at_least: bool = False


def newest_since(client_id: ClientId, since: datetime, scan: int = SCAN) -> Select[Any]:
    """A subscription's newest publications after ``since``, at most ``scan`` of them."""
    t = BOX_DOCUMENTS.c
    return (
        select(t.id, t.company, t.theme, t.label, t.issued_at, t.status)
        .where(t.client_id == client_id.value, t.published_at > since)
        .order_by(t.published_at.desc())
        .limit(scan)
    )


def count_new(
    engine: Engine, visible: VisibilityFilter, since: datetime | None, *, scan: int = SCAN
) -> NewCount:
    """The visible live documents published after ``since`` (``None``: a first visit, when
    nothing is "new"), reading at most ``scan`` publications per subscription."""
    if since is None or visible.empty:
        return NewCount(0)
    count, at_least = 0, False
    with engine.connect() as conn:
        for client_id in sorted({c.client_id for c in visible.clauses}, key=lambda c: c.value):
            rows = conn.execute(newest_since(client_id, since, scan)).all()
            at_least = at_least or len(rows) == scan
            for doc_id, company, theme, label, issued_at, status in rows:
                ref = DocumentRef(client_id, Siren(company), Theme(theme), doc_id, label, issued_at)
                count += status == _LIVE and visible.matches(ref)
    return NewCount(count, at_least)
