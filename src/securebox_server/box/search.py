"""What a box search asks and answers, and the pure step that filters catalogue rows.

The catalogue (:class:`~securebox_auth.stores.sql.catalogue.SqlCatalogue`) answers the date
range, theme and label under the user's visibility filter with indexed keyset pages. The
sender and the read status live in the box's own rows, so they are applied while paging:
:func:`sift` walks the catalogue rows of one page in order, keeps those that pass, and says
how many rows it consumed, so that the next page starts right after the last row examined
(never after the last row shown: a row examined and dropped is not examined again, a row
not examined is never skipped). A request examines at most a fixed number of rows; when
the budget runs out first, the page is shorter (possibly empty) and still has a cursor.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, Protocol, TypeVar

from securebox_auth.entitlements.catalogue import MAX_PAGE, Cursor, DocumentQuery, Page
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren

__all__ = [
    "SCAN_BUDGET",
    "BoxSearch",
    "Listed",
    "ListedPage",
    "ReadFilter",
    "Row",
    "collect",
    "sift",
]

#: The most catalogue rows one search request examines (a few indexed pages).
SCAN_BUDGET: Final = 1_000


class ReadFilter(enum.StrEnum):
    ANY = "any"
    READ = "read"
    UNREAD = "unread"


class Row(Protocol):
    """What :func:`sift` needs of a box row."""

    @property
    def sender(self) -> str: ...


R = TypeVar("R", bound=Row)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoxSearch:
    """A search of the box: the catalogue's criteria (date range: ``issued_from``
    inclusive, ``issued_to`` exclusive; theme; label substring) and the box's (sender,
    read status), narrowed to one company or not, from ``after`` on."""

    limit: int = 20
    after: Cursor | None = None
    issued_from: datetime | None = None
    issued_to: datetime | None = None
    theme: Theme | None = None
    label: str | None = None
    sender: str | None = None
    read: ReadFilter = ReadFilter.ANY
    company: Siren | None = None

    def __post_init__(self) -> None:
        self.catalogue_query(self.limit)  # validates the catalogue's criteria
        if self.sender is not None and not 1 <= len(self.sender) <= 64:
            raise MalformedInput("a sender is 1 to 64 characters")
        if not isinstance(self.read, ReadFilter):
            raise MalformedInput("read status: any, read or unread")

    @property
    def sifted(self) -> bool:
        """Whether rows are filtered on the box's side (sender, read status)."""
        return self.sender is not None or self.read is not ReadFilter.ANY

    def catalogue_query(self, limit: int, after: Cursor | None = None) -> DocumentQuery:
        return DocumentQuery(
            limit=min(limit, MAX_PAGE),
            after=after if after is not None else self.after,
            issued_from=self.issued_from,
            issued_to=self.issued_to,
            theme=self.theme,
            label=self.label,
        )


@dataclass(frozen=True, slots=True)
class Listed(Generic[R]):
    """One line of a list: the catalogue entry, the box row, read by this user or not."""

    ref: DocumentRef
    row: R
    read: bool


@dataclass(frozen=True, slots=True)
class ListedPage(Generic[R]):
    """A page of results; ``next`` continues after the last row examined; ``cut_short``:
    the request's scan budget ran out before the page was full."""

    documents: tuple[Listed[R], ...]
    next: Cursor | None
    examined: int
    cut_short: bool = False


def sift(
    refs: Sequence[DocumentRef],
    rows: Mapping[str, R],
    read: Collection[str],
    search: BoxSearch,
    *,
    room: int,
    budget: int,
) -> tuple[list[Listed[R]], int]:
    """The rows of ``refs`` (in order) that pass, until ``room`` are kept or ``budget``
    are examined; and how many were examined. A catalogue row without a live box row
    (``rows`` holds only live ones) never passes."""
    kept: list[Listed[R]] = []
    examined = 0
    for ref in refs:
        if len(kept) >= room or examined >= budget:
            break
        examined += 1
        row = rows.get(ref.document_id)
        if row is None:
            continue
        if search.sender is not None and row.sender != search.sender:
            continue
        seen = ref.document_id in read
        if search.read is ReadFilter.READ and not seen:
            continue
        if search.read is ReadFilter.UNREAD and seen:
            continue
        kept.append(Listed(ref, row, seen))
    return kept, examined


#: The box's facts about catalogue rows: the live box rows by id, and the ids the user read.
Facts = Callable[[Sequence[DocumentRef]], tuple[Mapping[str, R], Collection[str]]]


def collect(
    search: BoxSearch,
    fetch: Callable[[DocumentQuery], Page],
    facts: Facts[R],
    *,
    budget: int = SCAN_BUDGET,
) -> ListedPage[R]:
    """One page of ``search``: catalogue pages from ``fetch`` (the catalogue under the
    user's filter), sifted with ``facts``, until the page is full, the catalogue ends, or
    ``budget`` rows were examined. The cursor is the last row examined."""
    kept: list[Listed[R]] = []
    examined, after = 0, search.after
    while True:
        room, left = search.limit - len(kept), budget - examined
        batch = min(MAX_PAGE, left, MAX_PAGE if search.sifted else room + 1)
        page = fetch(search.catalogue_query(batch, after))
        refs = page.documents
        rows, read = facts(refs) if refs else ({}, ())
        got, n = sift(refs, rows, read, search, room=room, budget=left)
        kept.extend(got)
        examined += n
        if n < len(refs):  # stopped inside this catalogue page
            last = refs[n - 1]
            cursor = Cursor(last.issued_at, last.document_id)
            return ListedPage(tuple(kept), cursor, examined, len(kept) < search.limit)
        if page.next is None:
            return ListedPage(tuple(kept), None, examined)
        after = page.next
        if len(kept) >= search.limit or examined >= budget:
            return ListedPage(tuple(kept), after, examined, len(kept) < search.limit)
