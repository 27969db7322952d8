"""What a user of the box sees: the home, searches, a document and its body.

Visibility is the library's entitlement filter (``securebox.entitlements.visible``) for
lists and ``securebox.entitlements.check`` for one document, both on the current stored
state: a right revoked a second ago hides the document at once. A document that does not
exist, was deleted, has expired, or that the user may not see raises the same
:class:`~securebox_server.box.model.DocumentNotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from securebox_auth.entitlements.model import Operation, Theme, valid_document_id
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import Standing
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_server.box.blobs import Streamed
from securebox_server.box.cursors import CursorSeal
from securebox_server.box.documents import DocumentStore
from securebox_server.box.feed import check_page
from securebox_server.box.model import (
    BoxDocument,
    DocumentNotFound,
    FeedEvent,
    Read,
    ReadKind,
    Status,
)
from securebox_server.box.new_documents import NewCount, count_new
from securebox_server.box.page_reads import PageReads
from securebox_server.box.search import BoxSearch, ListedPage, collect
from securebox_server.box.shares import ShareRecord, ShareRequest

__all__ = ["BoxReader", "CompanyChoice", "DocumentPage", "Home", "Sight", "holder_since"]

NEWEST: Final = 20
_HOW: Final = {Operation.VIEW: ReadKind.VIEW, Operation.DOWNLOAD: ReadKind.DOWNLOAD}


@dataclass(frozen=True, slots=True)
class CompanyChoice:
    siren: Siren
    name: str


@dataclass(frozen=True, slots=True)
class Sight:
    """What a user may view (every company) and their forms' choices."""

    visible: VisibilityFilter
    companies: tuple[CompanyChoice, ...]
    themes: tuple[Theme, ...]
    #: the standing they were decided on (the page's other decisions reuse it)
    standing: Standing | None = None


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
    #: may the user send it by e-mail (:mod:`.shares`)
    may_share: bool = False


def _known(document_id: str) -> str:
    """``document_id`` if it may name a document; else :class:`DocumentNotFound`, the
    answer for a document that does not exist."""
    try:
        return valid_document_id(document_id)
    except MalformedInput:
        raise DocumentNotFound("no such document") from None


def holder_since(standing: Standing | None) -> datetime | None:
    """Since when the reader's user number is theirs (their account's creation): their read
    marks count from then (a number given again after a removal starts with none)."""
    account = None if standing is None else standing.account
    return None if account is None else account.value.created_at


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
        self.reads = PageReads(store.db)

    # -- what the user may see ------------------------------------------------------------

    def visible(
        self, principal: Principal, company: Siren | None, action: Operation = Operation.VIEW
    ) -> VisibilityFilter:
        found = self.securebox.entitlements.visible(principal, action)
        return found if company is None else found.only(company)

    def sight(self, principal: Principal) -> Sight:
        """What ``principal`` may view and the choices of their forms, from one read of
        their standing (account and subscriptions, at their current versions)."""
        standing = self._standing(principal)
        visible = self.securebox.entitlements.visible_in(standing, Operation.VIEW)
        return Sight(visible, *_portfolio(standing, visible), standing)

    def _standing(self, principal: Principal) -> Standing:
        return self.securebox.entitlements.standing(principal)

    def portfolio(
        self, principal: Principal, visible: VisibilityFilter
    ) -> tuple[tuple[CompanyChoice, ...], tuple[Theme, ...]]:
        """The companies (SIREN and name) and themes the user may see documents of."""
        return _portfolio(self._standing(principal), visible)

    # -- pages ----------------------------------------------------------------------------

    def home(
        self,
        principal: Principal,
        company: Siren | None,
        *,
        session_start: datetime,
        sight: Sight | None = None,
    ) -> Home:
        """The box's home for a session that started at ``session_start``: the visit is
        rotated on the session's first home page only, so "new since your last visit"
        stays the same while the session lasts. ``sight``: the one the caller already read
        for this page."""
        sight = sight or self.sight(principal)
        visible = sight.visible if company is None else sight.visible.only(company)
        since = self._previous_visit(principal, session_start)
        newest = BoxSearch(limit=NEWEST, company=company)
        return Home(
            new=count_new(self.store.db, visible, since, self.store.clock.now()),
            since=since,
            newest=self._page(principal, visible, newest, holder_since(sight.standing)),
            themes=sight.themes,
            companies=sight.companies,
            company=company,
        )

    def _previous_visit(self, principal: Principal, session_start: datetime) -> datetime | None:
        marks = self.reads.visit_marks(principal)
        if marks is not None and marks[1] >= session_start:
            return marks[0]  # this session's visit is already recorded
        return self.store.visit(principal)

    def search(
        self, principal: Principal, search: BoxSearch, *, sight: Sight | None = None
    ) -> ListedPage[BoxDocument]:
        """A page of ``search``; ``sight``: :meth:`sight`, when the caller read it already."""
        if sight is None:
            read = self._standing(principal)
            standing: Standing | None = read
            visible = self.securebox.entitlements.visible_in(read, Operation.VIEW)
        else:
            standing, visible = sight.standing, sight.visible
        if search.company is not None:
            visible = visible.only(search.company)
        return self._page(principal, visible, search, holder_since(standing))

    def _page(
        self,
        principal: Principal,
        visible: VisibilityFilter,
        search: BoxSearch,
        since: datetime | None,
    ) -> ListedPage[BoxDocument]:
        if visible.empty:
            return ListedPage((), None, 0)
        now = self.store.clock.now()
        return collect(
            search,
            lambda query: self.catalogue.page(visible, query),
            lambda refs: self.reads.listed(principal, [r.document_id for r in refs], now, since),
        )

    def senders(self) -> tuple[str, ...]:
        """Every sender with a document type (the search form's choices)."""
        return self.reads.senders()

    def feed(
        self, client_id: ClientId, *, after: int, limit: int
    ) -> list[tuple[FeedEvent, BoxDocument | None]]:
        """A page of the subscription's feed with its documents (tombstones included; the
        caller filters what its receiver may see): one statement."""
        check_page(after, limit)
        return self.reads.feed(client_id, after, limit)

    # -- one document ---------------------------------------------------------------------

    def open(
        self,
        principal: Principal,
        document_id: str,
        action: Operation,
        *,
        standing: Standing | None = None,
    ) -> BoxDocument:
        """The document, if ``principal`` may ``action`` (VIEW or DOWNLOAD) it now; else
        :class:`DocumentNotFound`, whatever the reason. ``standing``: the principal's, when
        the caller read it already for this request."""
        if action not in _HOW:
            raise MalformedInput("a document is opened to view or download it")
        return self._may(principal, action, self.reads.document(_known(document_id)), standing)

    def _may(
        self,
        principal: Principal,
        action: Operation,
        doc: BoxDocument | None,
        standing: Standing | None,
    ) -> BoxDocument:
        now = self.store.clock.now()
        if (
            doc is None
            or doc.status is not Status.LIVE
            or (doc.valid_until is not None and doc.valid_until <= now)
            or not self._allows(principal, action, doc, standing)
        ):
            raise DocumentNotFound("no such document")
        return doc

    def _allows(
        self, principal: Principal, action: Operation, doc: BoxDocument, standing: Standing | None
    ) -> bool:
        entitlements = self.securebox.entitlements
        if standing is None:
            return entitlements.check(principal, action, _ref(doc)).allowed
        return entitlements.check_in(standing, principal, action, _ref(doc)).allowed

    def page(self, principal: Principal, document_id: str) -> DocumentPage:
        """The document's page: may ``principal`` view it, download it and share it (one
        read of their standing for the three decisions)."""
        standing = self._standing(principal)
        found = self.reads.document_page(_known(document_id))
        doc = self._may(principal, Operation.VIEW, None if found is None else found[0], standing)
        download = self._allows(principal, Operation.DOWNLOAD, doc, standing)
        share = self._allows(principal, Operation.SHARE, doc, standing)
        assert found is not None  # a document was found
        _, title, first = found
        return DocumentPage(doc, title or doc.type, first, download, share)

    def sharable(self, principal: Principal, document_id: str) -> BoxDocument:
        """The document, if ``principal`` may share it now; else :class:`DocumentNotFound`
        (whatever the reason: the same answer as :meth:`open`)."""
        return self._may(principal, Operation.SHARE, self.reads.document(_known(document_id)), None)

    def share(
        self,
        principal: Principal,
        document_id: str,
        request: ShareRequest,
        *,
        key: str | None = None,
    ) -> ShareRecord:
        """Send a copy of the document to ``request.address`` (:mod:`.shares`): the share is
        written with its audit event and sent by the jobs worker. :class:`DocumentNotFound`
        when ``principal`` may not share it; :class:`~.shares.ShareRefused` for a body too
        large for e-mail; ``key``: an idempotency key (:meth:`.shares.Shares.enqueue_share`)."""
        doc = self.sharable(principal, document_id)
        keys = self.securebox.factors.oob.keys
        recipient = keyed_destination_key(keys, Channel.EMAIL, request.address)
        return self.store.enqueue_share(doc, principal, request, recipient=recipient, key=key)

    def shares(self, principal: Principal, document_id: str) -> list[ShareRecord]:
        """``principal``'s shares of a document they may share now (newest first)."""
        doc = self.sharable(principal, document_id)
        return self.store.shares_by(principal, doc.id)

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

    def stream(
        self, principal: Principal, document_id: str, action: Operation
    ) -> tuple[BoxDocument, Streamed]:
        """As :meth:`read`, the body streamed (:meth:`DocumentStore.stream`): checked whole
        before the read is recorded, checked again as it is sent."""
        doc = self.open(principal, document_id, action)
        body = self.store.stream(doc)
        self.store.record_read(doc, principal, _HOW[action])
        return doc, body


def _portfolio(
    standing: Standing, visible: VisibilityFilter
) -> tuple[tuple[CompanyChoice, ...], tuple[Theme, ...]]:
    """The companies (SIREN and name) and themes of ``standing`` that ``visible`` shows."""
    subs = {s.client_id: s for s in standing.inviting}
    if standing.subscription is not None:
        subs[standing.subscription.value.client_id] = standing.subscription.value
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


def _by_name(item: tuple[Siren, str]) -> tuple[str, str]:
    return (item[1].casefold(), item[0].value)
