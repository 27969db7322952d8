"""The box's reads for a page, each one statement in autocommit (one round trip, no
``BEGIN``/``ROLLBACK``: a single statement sees one snapshot), through the library's
:meth:`~securebox_auth.stores.sql.database.Database.fetch` (SQL text, kept read
connections, PostgreSQL statements prepared after a few runs).

* :meth:`PageReads.listed`: the live box rows of a catalogue page **and** which of them the
  reader has read, in one statement;
* :meth:`PageReads.document`: one document's row, whatever its status, and
  :meth:`PageReads.document_page`: the row with its type's title and its first reader;
* :meth:`PageReads.visit_marks`: the reader's recorded visits;
* :meth:`PageReads.senders`: the senders a search can name;
* :meth:`PageReads.feed`: a page of a subscription's feed **with** its documents' rows
  (tombstones included), in one statement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from securebox_auth.entitlements.model import Theme
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.stores.sql.database import Database
from securebox_server.box.model import BoxDocument, FeedEvent, FeedKind, Read, ReadKind, Status

__all__ = ["COLUMNS", "EPOCH", "KEPT", "PageReads", "document_of"]

#: The ``box_documents`` columns, in :class:`BoxDocument`'s order.
COLUMNS: Final = (
    "id, client_id, company, sender, type, theme, label, issued_at, published_at, "
    "valid_until, warn_at, warned_at, retention_class, retain_until, legal_hold, digest, "
    "size, media_type, filename, status, expired_at, deleted_at, deletion_reason"
)
#: Read by the reader **since their account's creation**: a user number given again after
#: a removal does not inherit its previous holder's marks (their read times stay, as the
#: senders' evidence; a read by the new holder moves ``last_at``).
_READ: Final = (
    "EXISTS (SELECT 1 FROM box_reads r WHERE r.document_id = d.id"
    " AND r.client_id = ? AND r.user_number = ? AND r.last_at >= ?)"
)
#: The bound of :data:`_READ` for a reader whose account is not known (every mark).
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Only our own constants and placeholders are spelled into the texts: values are bound.
_LISTED: Final = (
    f"SELECT {COLUMNS}, {_READ} FROM box_documents d "  # noqa: S608
    "WHERE d.id {where} AND {status}d.status = 'live'"
)
_WIDTH: Final = COLUMNS.count(",") + 1
_DOCUMENT: Final = f"SELECT {COLUMNS} FROM box_documents d WHERE d.id = ?"  # noqa: S608
#: The row, its type's title, and its first read (the earliest, ties by reader).
_DOCUMENT_PAGE: Final = (
    "SELECT "  # noqa: S608
    + ", ".join(f"d.{name.strip()}" for name in COLUMNS.split(","))
    + ", t.title, r.client_id, r.user_number, r.first_at, r.first_how FROM box_documents d"
    " LEFT JOIN box_document_types t ON t.sender = d.sender AND t.type = d.type"
    " LEFT JOIN box_reads r ON r.document_id = d.id AND r.first_at ="
    " (SELECT min(f.first_at) FROM box_reads f WHERE f.document_id = d.id)"
    " WHERE d.id = ? ORDER BY r.client_id, r.user_number LIMIT 1"
)
#: The most decoded rows (and identifiers) kept per process.
KEPT: Final = 4096
_VISITS: Final = (
    "SELECT previous_at, current_at FROM box_visits WHERE client_id = ? AND user_number = ?"
)
_SENDERS: Final = "SELECT DISTINCT sender FROM box_document_types ORDER BY sender"
#: The feed's events after a number, each with its document's row (``NULL``s without one).
_FEED: Final = (
    "SELECT e.seq, e.kind, e.document_id, e.company, e.at, e.details, "  # noqa: S608
    + ", ".join(f"d.{name.strip()}" for name in COLUMNS.split(","))
    + " FROM box_events e LEFT JOIN box_documents d ON d.id = e.document_id"
    " WHERE e.client_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?"
)
#: The event's own columns before the document's in :data:`_FEED`.
_EVENT: Final = 6


def _instant(value: Any) -> datetime | None:
    """A stored instant from the driver: aware UTC (SQLite gives UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    moment: datetime = value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _sure(value: Any) -> datetime:
    moment = _instant(value)
    if moment is None:
        raise ValueError("a required instant is missing")
    return moment


def document_of(
    row: Sequence[Any], names: Callable[[type[Any], str], Any] | None = None
) -> BoxDocument:
    """A ``box_documents`` row selected as :data:`COLUMNS`; ``names(kind, text)`` may
    give the client id, SIREN and theme values already made (their checks run once)."""
    name = names or (lambda kind, text: kind(text))
    return BoxDocument(
        id=row[0],
        client_id=name(ClientId, row[1]),
        company=name(Siren, row[2]),
        sender=row[3],
        type=row[4],
        theme=name(Theme, row[5]),
        label=row[6],
        issued_at=_sure(row[7]),
        published_at=_sure(row[8]),
        valid_until=_instant(row[9]),
        warn_at=_instant(row[10]),
        warned_at=_instant(row[11]),
        retention_class=row[12],
        retain_until=_sure(row[13]),
        legal_hold=bool(row[14]),
        digest=row[15],
        size=int(row[16]),
        media_type=row[17],
        filename=row[18],
        status=Status(row[19]),
        expired_at=_instant(row[20]),
        deleted_at=_instant(row[21]),
        deletion_reason=row[22],
    )


class PageReads:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._listed: dict[int, str] = {}
        # Decoded rows by their whole stored value (a changed row is another key), and the
        # identifiers they name: a page of rows seen before costs lookups, not checks.
        self._documents: dict[tuple[Any, ...], BoxDocument] = {}
        self._names: dict[tuple[type[Any], str], Any] = {}
        self._document_sql = db.sql(_DOCUMENT)
        self._document_page = db.sql(_DOCUMENT_PAGE)
        self._visits = db.sql(_VISITS)
        self._senders = db.sql(_SENDERS)
        self._feed = db.sql(_FEED)

    def _listed_sql(self, count: int) -> str:
        """PostgreSQL: one text for any count (``= ANY``); SQLite: one per count."""
        key = 0 if self.db.postgresql else count
        found = self._listed.get(key)
        if found is None:
            where = "= ANY(?)" if self.db.postgresql else f"IN ({', '.join('?' * count)})"
            # SQLite: the unary plus keeps the planner off the (status, ...) indexes, which
            # it would walk for every live row (0.4 s at 1,000,000 documents) instead of
            # looking the ids up by the primary key (0.2 ms).
            status = "" if self.db.postgresql else "+"
            sql = _LISTED.format(where=where, status=status)
            found = self._listed[key] = self.db.sql(sql)
        return found

    def listed(
        self, reader: Principal, ids: Sequence[str], now: datetime, since: datetime | None = None
    ) -> tuple[dict[str, BoxDocument], set[str]]:
        """The box rows among ``ids`` that a reader may see (live, still valid), and which
        of those ``reader`` has read since ``since`` (their account's creation): one
        statement."""
        if not ids:
            return {}, set()
        who = (reader.client_id.value, reader.user_number.value, self.db.instant(since or EPOCH))
        params: tuple[Any, ...] = (*who, list(ids)) if self.db.postgresql else (*who, *ids)
        rows: dict[str, BoxDocument] = {}
        read: set[str] = set()
        for row in self.db.fetch(self._listed_sql(len(ids)), params):
            doc = self._document(row)
            if doc.valid_until is not None and doc.valid_until <= now:
                continue
            rows[doc.id] = doc
            if row[_WIDTH]:
                read.add(doc.id)
        return rows, read

    def _document(self, row: Sequence[Any]) -> BoxDocument:
        key = tuple(row[:_WIDTH])
        found = self._documents.get(key)
        if found is None:
            if len(self._documents) >= KEPT:
                self._documents.clear()
            found = self._documents[key] = document_of(row, self._name)
        return found

    def _name(self, kind: type[Any], text: str) -> Any:
        found = self._names.get((kind, text))
        if found is None:
            if len(self._names) >= KEPT:
                self._names.clear()
            found = self._names[kind, text] = kind(text)
        return found

    def document(self, document_id: str) -> BoxDocument | None:
        """The document's row, whatever its status (no entitlement check): one statement."""
        found = self.db.fetch(self._document_sql, (document_id,))
        return self._document(found[0]) if found else None

    def document_page(self, document_id: str) -> tuple[BoxDocument, str | None, Read | None] | None:
        """The document's row (whatever its status, no entitlement check), its type's
        title (``None`` if the type is gone) and its first read: one statement."""
        found = self.db.fetch(self._document_page, (document_id,))
        if not found:
            return None
        row = found[0]
        title, client, number, first_at, how = row[_WIDTH:]
        first = None
        if client is not None:
            reader = Principal(ClientId(client), UserNumber(number))
            first = Read(reader, _sure(first_at), ReadKind(how))
        return self._document(row[:_WIDTH]), title, first

    def visit_marks(self, reader: Principal) -> tuple[datetime | None, datetime] | None:
        """The reader's (previous, current) visits, ``None`` before the first."""
        found = self.db.fetch(self._visits, (reader.client_id.value, reader.user_number.value))
        if not found:
            return None
        previous, current = found[0]
        return _instant(previous), _sure(current)

    def senders(self) -> tuple[str, ...]:
        return tuple(str(row[0]) for row in self.db.fetch(self._senders))

    def feed(
        self, client_id: ClientId, after: int, limit: int
    ) -> list[tuple[FeedEvent, BoxDocument | None]]:
        """The events of ``client_id``'s feed numbered after ``after`` (at most ``limit``,
        oldest first), each with its document's row whatever its status (``None`` if the
        row is gone): where the receivers' API read the page, then the rows, in two
        transactions of SQLAlchemy statements."""
        out: list[tuple[FeedEvent, BoxDocument | None]] = []
        for row in self.db.fetch(self._feed, (client_id.value, after, limit)):
            seq, kind, document_id, company, at, details = row[:_EVENT]
            event = FeedEvent(
                client_id,
                int(seq),
                FeedKind(kind),
                str(document_id),
                self._name(Siren, company),
                _sure(at),
                tuple(sorted(json.loads(details).items())),
            )
            doc = None if row[_EVENT] is None else self._document(row[_EVENT:])
            out.append((event, doc))
        return out
