"""The document catalogue: listing and searching the documents a user may see.

A :class:`DocumentCatalogue` answers :class:`DocumentQuery` pages under a
:class:`~securebox_auth.entitlements.visibility.VisibilityFilter`, newest first, with keyset
pagination (the cursor is the last row's ``(issued_at, document_id)``, never an offset).
:class:`MemoryCatalogue` is the in-memory implementation; the SQL stores implement the same
Protocol with indexes.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from securebox_auth.clock import require_aware
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.errors import MalformedInput

__all__ = ["Cursor", "DocumentCatalogue", "DocumentQuery", "MemoryCatalogue", "Page"]

MAX_PAGE = 200


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Position after the last row of a page (rows are ordered by these, descending)."""

    issued_at: datetime
    document_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentQuery:
    """Newest first; optional date range (``issued_from`` inclusive, ``issued_to``
    exclusive), theme, and a case-insensitive label substring."""

    limit: int = 20
    after: Cursor | None = None
    issued_from: datetime | None = None
    issued_to: datetime | None = None
    theme: Theme | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise MalformedInput(f"a page holds 1 to {MAX_PAGE} documents")
        for name in ("issued_from", "issued_to"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_aware(value, name))
        if (
            self.issued_from is not None
            and self.issued_to is not None
            and self.issued_from >= self.issued_to
        ):
            raise MalformedInput("the start of the date range must be before its end")
        if self.label is not None and not 1 <= len(self.label.strip()) <= 100:
            raise MalformedInput("a label search is 1 to 100 characters")

    def matches(self, doc: DocumentRef) -> bool:
        if self.issued_from is not None and doc.issued_at < self.issued_from:
            return False
        if self.issued_to is not None and doc.issued_at >= self.issued_to:
            return False
        if self.theme is not None and doc.theme != self.theme:
            return False
        return self.label is None or self.label.strip().casefold() in doc.label.casefold()


@dataclass(frozen=True, slots=True)
class Page:
    documents: tuple[DocumentRef, ...]
    next: Cursor | None


class DocumentCatalogue(Protocol):
    def add(self, documents: Iterable[DocumentRef]) -> None: ...

    def page(self, visible: VisibilityFilter, query: DocumentQuery) -> Page: ...


def _key(doc: DocumentRef) -> Cursor:
    return Cursor(doc.issued_at, doc.document_id)


class MemoryCatalogue:
    """Documents kept sorted newest first; a page is a scan from the cursor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[Cursor] = []  # ascending
        self._docs: list[DocumentRef] = []
        self._ids: set[str] = set()  # document ids are unique across subscriptions

    def add(self, documents: Iterable[DocumentRef]) -> None:
        with self._lock:
            for doc in documents:
                if doc.document_id in self._ids:
                    raise MalformedInput("a document with this id exists")
                self._ids.add(doc.document_id)
                key = _key(doc)
                index = bisect.bisect_left(self._keys, key)
                self._keys.insert(index, key)
                self._docs.insert(index, doc)

    def page(self, visible: VisibilityFilter, query: DocumentQuery) -> Page:
        if visible.empty:
            return Page((), None)
        with self._lock:
            end = (
                len(self._keys)
                if query.after is None
                else bisect.bisect_left(self._keys, query.after)
            )
            found: list[DocumentRef] = []
            for index in range(end - 1, -1, -1):
                doc = self._docs[index]
                if query.issued_from is not None and doc.issued_at < query.issued_from:
                    break
                if query.matches(doc) and visible.matches(doc):
                    found.append(doc)
                    if len(found) > query.limit:
                        break
        more = len(found) > query.limit
        rows = tuple(found[: query.limit])
        return Page(rows, _key(rows[-1]) if more and rows else None)
