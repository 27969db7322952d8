"""What a user of the box sees: the home, searches, a document and its body.

Visibility is the library's entitlement filter (``securebox.entitlements.visible``) for
lists and ``securebox.entitlements.check`` for one document, both on the current stored
state: a right revoked a second ago hides the document at once. A document that does not
exist, was deleted, has expired, or that the user may not see raises the same
:class:`~securebox_server.box.model.DocumentNotFound`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select

from securebox_auth.entitlements.model import Operation, Theme, valid_document_id
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_server.box.cursors import CursorSeal
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import BoxDocument, DocumentNotFound, Read, ReadKind, Status
from securebox_server.box.new_documents import NewCount, count_new
from securebox_server.box.rows import document_from_row, instant
from securebox_server.box.search import BoxSearch, ListedPage, collect
from securebox_server.db.schema import BOX_DOCUMENT_TYPES, BOX_DOCUMENTS, BOX_VISITS

__all__ = ["BoxReader", "CompanyChoice", "DocumentPage", "Home"]

NEWEST: Final = 20
_HOW: Final = {Operation.VIEW: ReadKind.VIEW, Operation.DOWNLOAD: ReadKind.DOWNLOAD}


@dataclass(frozen=True, slots=True)
class CompanyChoice:
    siren: Siren
    name: str


@dataclass(frozen=True, slots=True)
class Home:
    new: NewCount
    #: the previous visit (``None``: the first one)
    since: datetime | None
    newest: ListedPage[BoxDocument]
    themes: tuple[Theme, ...]
    companies: tuple[CompanyChoice, ...]
    company: Siren | None


@dataclass(frozen=True, slots=True)
class DocumentPage:
    document: BoxDocument
    type_title: str
    first_read: Read | None
    may_download: bool


def _ref(doc: BoxDocument) -> DocumentRef:
    return DocumentRef(doc.client_id, doc.company, doc.theme, doc.id, doc.label, doc.issued_at)


class BoxReader:
    """The reading side of the box for signed-in users (pages; the receivers' API later)."""

    def __init__(
        self,
        store: DocumentStore,
        securebox: Securebox,
        catalogue: SqlCatalogue,
        *,
        cursor_key: bytes,
    ) -> None:
        self.store = store
        self.securebox = securebox
        self.catalogue = catalogue
        self.cursors = CursorSeal(cursor_key)

    # -- what the user may see ------------------------------------------------------------

    def visible(
        self, principal: Principal, company: Siren | None, action: Operation = Operation.VIEW
    ) -> VisibilityFilter:
        found = self.securebox.entitlements.visible(principal, action)
        return found if company is None else found.only(company)

    def portfolio(
        self, principal: Principal, visible: VisibilityFilter
    ) -> tuple[tuple[CompanyChoice, ...], tuple[Theme, ...]]:
        """The companies (SIREN and name) and themes the user may see documents of."""
        standing = self.securebox.store.standing(principal, principal.client_id, inviting=True)
        subs = {s.client_id: s for s in standing.inviting}
        if standing.subscription is not None:
            subs[principal.client_id] = standing.subscription.value
        companies: dict[Siren, str] = {}
        themes: set[Theme] = set()
        for clause in visible.clauses:
            sub = subs.get(clause.client_id)
            if sub is None:
                continue
            for siren in clause.companies:
                company = sub.companies.get(siren)
                companies[siren] = company.name if company is not None else siren.value
            themes |= sub.themes if clause.themes is None else clause.themes
        chosen = tuple(CompanyChoice(s, n) for s, n in sorted(companies.items(), key=_by_name))
        return chosen, tuple(sorted(themes, key=lambda t: t.name))

    # -- pages ----------------------------------------------------------------------------

    def home(self, principal: Principal, company: Siren | None, *, session_start: datetime) -> Home:
        """The box's home for a session that started at ``session_start``: the visit is
        rotated on the session's first home page only, so "new since your last visit"
        stays the same while the session lasts."""
        visible = self.visible(principal, company)
        since = self._previous_visit(principal, session_start)
        companies, themes = self.portfolio(principal, self.visible(principal, None))
        return Home(
            new=count_new(self.store.engine, visible, since),
            since=since,
            newest=self._page(principal, visible, BoxSearch(limit=NEWEST, company=company)),
            themes=themes,
            companies=companies,
            company=company,
        )

    def _previous_visit(self, principal: Principal, session_start: datetime) -> datetime | None:
        t = BOX_VISITS.c
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(t.previous_at, t.current_at).where(
                    t.client_id == principal.client_id.value,
                    t.user_number == principal.user_number.value,
                )
            ).first()
        if row is not None and instant(row.current_at) >= session_start:
            # this session's visit is already recorded
            return None if row.previous_at is None else instant(row.previous_at)
        return self.store.visit(principal)

    def search(self, principal: Principal, search: BoxSearch) -> ListedPage[BoxDocument]:
        return self._page(principal, self.visible(principal, search.company), search)

    def _page(
        self, principal: Principal, visible: VisibilityFilter, search: BoxSearch
    ) -> ListedPage[BoxDocument]:
        if visible.empty:
            return ListedPage((), None, 0)
        return collect(
            search,
            lambda query: self.catalogue.page(visible, query),
            lambda refs: self._facts(principal, refs),
        )

    def _facts(
        self, principal: Principal, refs: Sequence[DocumentRef]
    ) -> tuple[dict[str, BoxDocument], set[str]]:
        rows = self._live(refs)
        return rows, (self.store.read_by(principal, list(rows)) if rows else set())

    def _live(self, refs: Sequence[DocumentRef]) -> dict[str, BoxDocument]:
        """The box rows of these catalogue entries that a reader may see (live, valid):
        one primary-key query for a catalogue page."""
        now = self.store.clock.now()
        t = BOX_DOCUMENTS.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(BOX_DOCUMENTS).where(
                    t.id.in_([r.document_id for r in refs]), t.status == Status.LIVE.value
                )
            ).mappings()
            found = [document_from_row(row) for row in rows]
        return {d.id: d for d in found if d.valid_until is None or d.valid_until > now}

    def senders(self) -> tuple[str, ...]:
        """Every sender with a document type (the search form's choices)."""
        t = BOX_DOCUMENT_TYPES.c
        with self.store.engine.connect() as conn:
            return tuple(conn.execute(select(t.sender).distinct().order_by(t.sender)).scalars())

    # -- one document ---------------------------------------------------------------------

    def open(self, principal: Principal, document_id: str, action: Operation) -> BoxDocument:
        """The document, if ``principal`` may ``action`` (VIEW or DOWNLOAD) it now; else
        :class:`DocumentNotFound`, whatever the reason."""
        if action not in _HOW:
            raise MalformedInput("a document is opened to view or download it")
        try:
            valid_document_id(document_id)
        except MalformedInput:
            raise DocumentNotFound("no such document") from None
        doc = self.store.get(document_id)
        now = self.store.clock.now()
        if (
            doc is None
            or doc.status is not Status.LIVE
            or (doc.valid_until is not None and doc.valid_until <= now)
            or not self.securebox.entitlements.check(principal, action, _ref(doc)).allowed
        ):
            raise DocumentNotFound("no such document")
        return doc

    def page(self, principal: Principal, document_id: str) -> DocumentPage:
        doc = self.open(principal, document_id, Operation.VIEW)
        download = self.securebox.entitlements.check(principal, Operation.DOWNLOAD, _ref(doc))
        try:
            title = self.store.document_type(doc.sender, doc.type).title
        except LookupError:
            title = doc.type
        return DocumentPage(doc, title, self.store.first_read(doc.id), download.allowed)

    def read(
        self, principal: Principal, document_id: str, action: Operation
    ) -> tuple[BoxDocument, bytes]:
        """The document and its body (digest checked: a corrupted body raises
        :class:`~securebox_server.box.model.BodyCorrupted` and is never returned), the read
        recorded (an audit event every time)."""
        doc = self.open(principal, document_id, action)
        body = self.store.body(doc)
        self.store.record_read(doc, principal, _HOW[action])
        return doc, body


def _by_name(item: tuple[Siren, str]) -> tuple[str, str]:
    return (item[1].casefold(), item[0].value)
