"""How many documents a user may see were published since their previous visit (bounded).

For each subscription the user's visibility filter reaches, one indexed query reads the
newest live publications after ``since`` (``ix_box_documents_published``: client id, then
publication time), at most :data:`SCAN` of them, and the filter itself decides which the
user may see (:meth:`~securebox_auth.entitlements.visibility.VisibilityFilter.matches`, the
in-memory form held to ``check()``); a document past its validity is not counted, as the
list does not show it, even before the expiry job marks it expired. The work is bounded
whatever the box holds; when a subscription has more new documents than the scan reads, the
count is a lower bound and the page says "at least N".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.identity import Siren
from securebox_auth.stores.sql.database import Database
from securebox_server.box.rows import instant

__all__ = ["NEWEST_SINCE", "SCAN", "NewCount", "bound_time", "count_new"]

#: The most new publications read per subscription.
SCAN: Final = 500
_LIVE: Final = "live"


@dataclass(frozen=True, slots=True)
class NewCount:
    count: int
    #: the count is a lower bound (a subscription had more new documents than were read)
    at_least: bool = False


#: A subscription's newest publications after a time, at most a number of them
#: (``ix_box_documents_published`` gives the order: no sort).
NEWEST_SINCE: Final = (
    "SELECT id, company, theme, label, issued_at, status, valid_until FROM box_documents "
    "WHERE client_id = ? AND published_at > ? ORDER BY published_at DESC LIMIT ?"
)


def bound_time(db: Database, moment: datetime) -> Any:
    """``moment`` as the driver binds a stored instant (SQLite: UTC text)."""
    utc = moment.astimezone(UTC)
    return utc if db.postgresql else utc.strftime("%Y-%m-%d %H:%M:%S.%f")


def count_new(
    db: Database,
    visible: VisibilityFilter,
    since: datetime | None,
    now: datetime,
    *,
    scan: int = SCAN,
) -> NewCount:
    """The visible live documents published after ``since`` (``None``: a first visit, when
    nothing is "new") and still valid at ``now``, reading at most ``scan`` publications per
    subscription: one single-statement read (no transaction) per subscription."""
    if since is None or visible.empty:
        return NewCount(0)
    count, at_least = 0, False
    sql, after = db.sql(NEWEST_SINCE), bound_time(db, since)
    for client_id in sorted({c.client_id for c in visible.clauses}, key=lambda c: c.value):
        rows = db.fetch(sql, (client_id.value, after, scan))
        at_least = at_least or len(rows) == scan
        for doc_id, company, theme, label, issued_at, status, valid_until in rows:
            if status != _LIVE or (valid_until is not None and instant(valid_until) <= now):
                continue
            issued = instant(issued_at)
            ref = DocumentRef(client_id, Siren(company), Theme(theme), doc_id, label, issued)
            count += visible.matches(ref)
    return NewCount(count, at_least)
