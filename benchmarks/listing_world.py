"""The rights of ``sql_world.py``'s bank in the stores, a portal's listing request, and the
hand-written page queries that ``bench_listing.py`` compares it with."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sql_world import NOW, World
from sqlalchemy import Engine

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.catalogue import DocumentQuery, MemoryCatalogue, Page
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.shell.filter_memo import FilterMemo
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore, PutAccount, PutSubscription
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.store import SqlStore

__all__ = ["Listing", "hand_page", "load_rights", "memory_listing"]

NEWEST: Final = DocumentQuery(limit=20)
COLUMNS: Final = "id, client_id, company, theme, label, issued_at"
ORDER: Final = "ORDER BY issued_at DESC, id DESC"
#: Newest documents of each subscription a memory listing holds (enough for a page).
MEMORY_DOCUMENTS: Final = 3_000


def _commit_rights(store: AuthStore, world: World) -> None:
    store.commit(
        [PutSubscription(s.client_id, 0, s) for s in world.subscriptions]
        + [PutAccount(a.principal, 0, a) for a in world.accounts],
        [],
    )


def load_rights(world: World, engine: Engine) -> None:
    """Subscriptions and accounts of ``world`` in the benchmark database, once (the cached
    database of ``sql_world`` holds the documents only)."""
    store = SqlStore(engine, audit_key=b"l" * 32, subscription_cache=0)
    if store.get_subscription(world.subscriptions[-1].client_id) is None:
        _commit_rights(store, world)


def _service(store: AuthStore, *, cached: bool = True) -> EntitlementService:
    service = EntitlementService(
        store,
        Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING),
        company_proofs=KeyedCompanyProofs(StaticKeyring.generate()),
        clock=FixedClock(NOW),
    )
    if not cached:
        service.filters = FilterMemo(0)
    return service


@dataclass
class Listing:
    """A portal's listing request for ``principal``: check the right to view the document
    they open, then the newest 20 they may see."""

    service: EntitlementService
    catalogue: Any  # SqlCatalogue or MemoryCatalogue
    principal: Principal
    doc: DocumentRef = field(init=False)
    filter: VisibilityFilter = field(init=False)
    #: The subscriptions the request reads (own and inviting).
    subscriptions: list[ClientId] = field(init=False)

    def __post_init__(self) -> None:
        self.filter = self.service.visible(self.principal)
        page = self.catalogue.page(self.filter, NEWEST)
        self.doc = page.documents[-1]
        clients = {c.client_id for c in self.filter.clauses} | {self.principal.client_id}
        self.subscriptions = sorted(clients, key=lambda c: c.value)

    @classmethod
    def on(
        cls, engine: Engine, catalogue: SqlCatalogue, principal: Principal, *, cached: bool = True
    ) -> Listing:
        size = 256 if cached else 0
        store = SqlStore(engine, audit_key=b"r" * 32, subscription_cache=size)
        return cls(_service(store, cached=cached), catalogue, principal)

    def request(self) -> Page:
        """One read of the user's standing for both the check and the filter
        (``check_in`` and ``visible_in``), then the page."""
        standing = self.service.standing(self.principal)
        decision = self.service.check_in(standing, self.principal, Operation.VIEW, self.doc)
        assert decision.allowed
        page: Page = self.catalogue.page(self.service.visible_in(standing), NEWEST)
        return page


def _document(row: Sequence[Any]) -> DocumentRef:
    doc_id, client, company, theme, label, issued = row
    if isinstance(issued, str):
        issued = datetime.fromisoformat(issued).replace(tzinfo=UTC)
    return DocumentRef(ClientId(client), Siren(company), Theme(theme), doc_id, label, issued)


def memory_listing(
    world: World, engine: Engine, principal: Principal
) -> tuple[Listing, Callable[[], object]]:
    """The listing on a MemoryStore and a MemoryCatalogue holding the newest documents of
    the subscriptions the user reads, and its baseline (pure check + page, filter known)."""
    store = MemoryStore(audit_key=b"m" * 32)
    _commit_rights(store, world)
    probe = _service(store)
    visible = probe.visible(principal)
    catalogue = MemoryCatalogue()
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        for client in sorted({c.client_id.value for c in visible.clauses}):
            cursor.execute(
                f"SELECT {COLUMNS} FROM documents WHERE client_id = ? {ORDER} "  # noqa: S608 - our names
                f"LIMIT {MEMORY_DOCUMENTS}",
                (client,),
            )
            catalogue.add(_document(row) for row in cursor.fetchall())
    finally:
        raw.close()
    listing = Listing(_service(store), catalogue, principal)
    account = store.get_account(principal)
    own = store.get_subscription(listing.doc.client_id)
    assert account is not None
    assert own is not None
    doc, sub, actor, page = listing.doc, own.value, account.value, catalogue.page

    def bare() -> object:
        check(actor, Operation.VIEW, doc, sub, NOW)
        return page(visible, NEWEST)

    return listing, bare


def _timed(run: Callable[[], object]) -> float:
    run()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(5):
            run()
        samples.append((time.perf_counter() - start) / 5)
    return statistics.median(samples)


def hand_page(
    engine: Engine, visible: VisibilityFilter, query: DocumentQuery, expected: list[str]
) -> Callable[[], object]:
    """The fastest of a few hand-written page queries that return ``expected``: a merge of
    newest-first scans of each (company[, theme]) slice, or one scan per subscription with
    the rights as a filter; raw driver, prepared or planned per call on PostgreSQL."""
    postgresql = engine.dialect.name == "postgresql"
    mark = "%s" if postgresql else "?"
    limit = query.limit + 1

    def among(column: str, values: Sequence[str], params: list[Any]) -> str:
        params.extend(values)
        return f"{column} IN ({', '.join(mark for _ in values)})"

    def union(arms: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
        params: list[Any] = [p for _, ps in arms for p in ps]
        if len(arms) == 1:
            return f"{arms[0][0]} {ORDER} LIMIT {limit}", params
        parts = [f"({sql} {ORDER} LIMIT {limit})" if postgresql else sql for sql, _ in arms]
        return " UNION ALL ".join(parts) + f" {ORDER} LIMIT {limit}", params

    def arm(index: str, where: list[str], params: list[Any]) -> tuple[str, list[Any]]:
        hint = "" if postgresql else f" INDEXED BY {index}"
        sql = f"SELECT {COLUMNS} FROM documents{hint} WHERE {' AND '.join(where)}"  # noqa: S608
        return sql, params

    slices: list[tuple[str, list[Any]]] = []
    scans: list[tuple[str, list[Any]]] = []
    for clause in visible.clauses:
        client = clause.client_id.value
        companies = sorted(s.value for s in clause.companies)
        themes = None if clause.themes is None else sorted(t.name for t in clause.themes)
        for company in companies:
            base = [f"client_id = {mark}", f"company = {mark}"]
            if themes is None:
                slices.append(arm("ix_documents_company", base, [client, company]))
            for theme in themes or ():
                where = [*base, f"theme = {mark}"]
                slices.append(arm("ix_documents_company_theme", where, [client, company, theme]))
        params: list[Any] = [client]
        rights = [among("company", companies, params)]
        if themes is not None:
            rights.append(among("theme", themes, params))
        residual = " AND ".join(rights)
        if postgresql:
            residual = f"coalesce(({residual}), false)"
        scans.append(arm("ix_documents_client", [f"client_id = {mark}", residual], params))
    best: tuple[float, Callable[[], object]] | None = None
    raw = engine.raw_connection()
    if postgresql:
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
    for sql, params in (union(slices), union(scans)):
        for prepare in (None, False) if postgresql else (None,):
            cursor: Any = raw.cursor()

            # ``raw`` is held by the runner: the pool must not take the connection back
            # while its cursor is in use.
            def run(cursor: Any = cursor, sql: str = sql, params: Any = tuple(params),
                    prepare: bool | None = prepare, raw: Any = raw) -> object:  # fmt: skip
                if postgresql:
                    cursor.execute(sql, params, prepare=prepare)
                else:
                    cursor.execute(sql, params)
                return cursor.fetchall()

            rows: Any = run()
            got = [row[0] for row in rows][: len(expected)]
            if got != expected:
                raise AssertionError("a hand-written page disagrees with the catalogue")
            took = _timed(run)
            if best is None or took < best[0]:
                best = (took, run)
    assert best is not None
    return best[1]
