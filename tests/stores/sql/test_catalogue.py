"""stores/sql/catalogue.py: the SQL catalogue answers exactly as the in-memory one, with
every plan, on SQLite and PostgreSQL; and its plans use the indexes (EXPLAIN)."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import timedelta
from typing import Final

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from securebox_auth.entitlements.catalogue import DocumentQuery, MemoryCatalogue, Page
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityClause, VisibilityFilter
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren, luhn_valid
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.planner import Index, Strategy, plan
from securebox_auth.stores.sql.sqltypes import text_array
from tests.support import NOW

A: Final = ClientId("111111111")
B: Final = ClientId("222222222")
COMPANIES: Final = {
    A: (Siren("732829320"), Siren("552100554"), Siren("443061841")),
    B: (Siren("542065479"),),
}
THEMES: Final = (Theme("payroll"), Theme("tax"), Theme("statements"))
LABELS: Final = (
    "Bulletin de paie",
    "Relevé de compte",
    "STRASSE 5",
    "Straße 7",
    "100% done",
    "a_b file",
    "Impôt 2025",
)


def _documents(count: int = 300, seed: int = 5) -> list[DocumentRef]:
    """Documents of both subscriptions; many share a time; ids whose byte order differs
    from a linguistic order (upper and lower case)."""
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        client = rng.choice((A, A, A, B))
        docs.append(
            DocumentRef(
                client,
                rng.choice(COMPANIES[client]),
                rng.choice(THEMES),
                f"{rng.choice('aBcD')}{i:03d}",
                rng.choice(LABELS),
                NOW - timedelta(hours=rng.randrange(60)),
            )
        )
    # ids that a PostgreSQL array literal would misread unquoted (text_array)
    for i, doc_id in enumerate(("NULL", "null", "a.b:c-d_e")):
        docs.append(DocumentRef(A, COMPANIES[A][i], THEMES[i], doc_id, LABELS[i], NOW))
    return docs


DOCS: Final = _documents()
IDS: Final = [d.document_id for d in DOCS]


@pytest.fixture
def catalogue(sql_engine: Engine) -> SqlCatalogue:
    found = SqlCatalogue(sql_engine)
    found.add(DOCS)
    return found


@pytest.fixture(scope="module")
def reference() -> MemoryCatalogue:
    found = MemoryCatalogue()
    found.add(DOCS)
    return found


@st.composite
def clauses(draw: st.DrawFn) -> VisibilityClause:
    client = draw(st.sampled_from((A, B)))
    pool = [*COMPANIES[client], *COMPANIES[A if client == B else B]]
    companies = draw(st.frozensets(st.sampled_from(pool), min_size=1))
    themes = draw(st.none() | st.frozensets(st.sampled_from(THEMES)))
    documents = draw(st.frozensets(st.sampled_from(IDS), max_size=6))
    return VisibilityClause(
        client, companies, themes, documents if themes is not None else frozenset()
    )


filters = st.lists(clauses(), min_size=1, max_size=3).map(lambda c: VisibilityFilter(tuple(c)))
moments = st.integers(0, 61).map(lambda h: NOW - timedelta(hours=h))


@st.composite
def queries(draw: st.DrawFn) -> DocumentQuery:
    start = draw(st.none() | moments)
    end = draw(st.none() | moments)
    if start is not None and end is not None and start >= end:
        start = None
    return DocumentQuery(
        limit=draw(st.integers(1, 7)),
        issued_from=start,
        issued_to=end,
        theme=draw(st.none() | st.sampled_from(THEMES)),
        label=draw(st.none() | st.sampled_from(["paie", "STRASSE", "straße", "%", "_", "é", "zz"])),
    )


def _pages(fetch: object, query: DocumentQuery, limit: int = 4) -> list[Page]:
    pages = []
    current = query
    for _ in range(limit):
        page: Page = fetch(current)  # type: ignore[operator]
        pages.append(page)
        if page.next is None:
            break
        current = replace(current, after=page.next)
    return pages


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(visible=filters, query=queries())
def test_every_plan_returns_what_the_reference_returns(
    catalogue: SqlCatalogue,
    reference: MemoryCatalogue,
    visible: VisibilityFilter,
    query: DocumentQuery,
) -> None:
    expected = _pages(lambda q: reference.page(visible, q), query)
    counts = catalogue.counts(c.client_id.value for c in visible.clauses)
    assert _pages(lambda q: catalogue.page(visible, q), query) == expected
    for strategy in Strategy:
        chosen = plan(visible, query, counts, allowed={strategy})
        got = _pages(lambda q, chosen=chosen: catalogue.run(chosen, q), query)
        assert got == expected, strategy


def test_a_walk_through_every_page_sees_every_visible_document_once(
    catalogue: SqlCatalogue, reference: MemoryCatalogue
) -> None:
    visible = VisibilityFilter(
        (
            VisibilityClause(A, frozenset(COMPANIES[A][:2]), None, frozenset()),
            VisibilityClause(B, frozenset(COMPANIES[B]), frozenset(THEMES[:1]), frozenset(IDS[:9])),
        )
    )
    pages = _pages(lambda q: catalogue.page(visible, q), DocumentQuery(limit=7), limit=1000)
    seen = [d for p in pages for d in p.documents]
    wanted = sorted(
        (d for d in DOCS if visible.matches(d)),
        key=lambda d: (d.issued_at, d.document_id),
        reverse=True,
    )
    assert seen == wanted
    assert pages[-1].next is None
    assert pages == _pages(lambda q: reference.page(visible, q), DocumentQuery(limit=7), 1000)


def test_nothing_visible_is_an_empty_page(catalogue: SqlCatalogue) -> None:
    assert catalogue.page(VisibilityFilter(()), DocumentQuery()) == Page((), None)
    nobody = VisibilityFilter(
        (VisibilityClause(A, frozenset(COMPANIES[A]), frozenset(), frozenset()),)
    )
    assert catalogue.page(nobody, DocumentQuery()) == Page((), None)


def test_label_search_ignores_case_as_casefold_does(catalogue: SqlCatalogue) -> None:
    everything = VisibilityFilter(
        tuple(VisibilityClause(c, frozenset(s), None, frozenset()) for c, s in COMPANIES.items())
    )
    for needle, label in (("strasse", "Straße 7"), ("IMPÔT", "Impôt 2025"), ("100%", "100% done")):
        page = catalogue.page(everything, DocumentQuery(limit=200, label=needle))
        assert page.documents
        assert label in {d.label for d in page.documents}
        assert all(needle.casefold() in d.label.casefold() for d in page.documents)
    assert catalogue.page(everything, DocumentQuery(label="a%b")).documents == ()


def test_an_existing_id_adds_nothing(catalogue: SqlCatalogue) -> None:
    new = replace(DOCS[0], document_id="fresh-1")
    with pytest.raises(MalformedInput):
        catalogue.add([new, DOCS[1]])
    everything = VisibilityFilter(
        (VisibilityClause(new.client_id, frozenset({new.company}), None, frozenset({"fresh-1"})),)
    )
    assert "fresh-1" not in {
        d.document_id for d in catalogue.page(everything, DocumentQuery(limit=200)).documents
    }


def test_documents_can_be_added_in_the_callers_transaction(sql_engine: Engine) -> None:
    """So that the server stores a body and its catalogue row together, or neither."""
    catalogue = SqlCatalogue(sql_engine)
    doc = DOCS[0]
    visible = VisibilityFilter(
        (VisibilityClause(doc.client_id, frozenset({doc.company}), None, frozenset()),)
    )
    with sql_engine.connect() as conn:
        transaction = conn.begin()
        catalogue.add([doc], connection=conn)
        transaction.rollback()
    assert catalogue.page(visible, DocumentQuery()).documents == ()
    assert catalogue.counts([doc.client_id.value])[doc.client_id.value].total == 0
    with sql_engine.begin() as conn:
        catalogue.add([doc], connection=conn)
    assert catalogue.page(visible, DocumentQuery()).documents == (doc,)


def test_counts_follow_the_documents_and_can_be_rebuilt(catalogue: SqlCatalogue) -> None:
    sizes = catalogue.counts([A.value])[A.value]
    assert sizes.total == sum(1 for d in DOCS if d.client_id == A)
    company, theme = COMPANIES[A][0].value, THEMES[1].name
    assert sizes.cells[(company, theme)] == sum(
        1 for d in DOCS if d.client_id == A and d.company.value == company and d.theme.name == theme
    )
    with catalogue.engine.begin() as conn:
        conn.execute(text("DELETE FROM document_counts"))
    catalogue.refresh_counts()
    assert catalogue.counts([A.value])[A.value] == sizes


def test_removed_documents_leave_the_pages_and_the_counts(
    catalogue: SqlCatalogue, reference: MemoryCatalogue
) -> None:
    gone = [d for d in DOCS if d.client_id == A][:40]
    ids = [d.document_id for d in gone]
    assert catalogue.remove([*ids, "never-added"]) == len(gone)
    assert catalogue.remove(ids) == 0
    everything = VisibilityFilter(
        tuple(
            VisibilityClause(client, frozenset(companies), None, frozenset())
            for client, companies in COMPANIES.items()
        )
    )
    seen: set[str] = set()
    query = DocumentQuery(limit=200)
    while True:
        page = catalogue.page(everything, query)
        seen |= {d.document_id for d in page.documents}
        if page.next is None:
            break
        query = replace(query, after=page.next)
    assert seen == set(IDS) - set(ids)
    kept = catalogue.counts([A.value])[A.value]
    catalogue.refresh_counts()
    assert catalogue.counts([A.value])[A.value] == kept  # counts were kept exact
    assert kept.total == sum(1 for d in DOCS if d.client_id == A) - len(gone)


def test_documents_can_be_removed_in_the_callers_transaction(catalogue: SqlCatalogue) -> None:
    doc = DOCS[0]
    before = catalogue.counts([doc.client_id.value])[doc.client_id.value].total
    with catalogue.engine.connect() as conn:
        transaction = conn.begin()
        assert catalogue.remove([doc.document_id], connection=conn) == 1
        transaction.rollback()
    assert catalogue.counts([doc.client_id.value])[doc.client_id.value].total == before
    with catalogue.engine.begin() as conn:
        catalogue.remove([doc.document_id], connection=conn)
    assert catalogue.counts([doc.client_id.value])[doc.client_id.value].total == before - 1


def test_wrong_counts_change_speed_never_answers(
    catalogue: SqlCatalogue, reference: MemoryCatalogue
) -> None:
    with catalogue.engine.begin() as conn:
        conn.execute(text("UPDATE document_counts SET documents = 1"))
        conn.execute(text("DELETE FROM document_counts WHERE theme = 'tax'"))
    fresh = SqlCatalogue(catalogue.engine)
    visible = VisibilityFilter(
        (VisibilityClause(A, frozenset(COMPANIES[A]), frozenset(THEMES[:2]), frozenset(IDS[:5])),)
    )
    query = DocumentQuery(limit=5)
    assert _pages(lambda q: fresh.page(visible, q), query, 100) == _pages(
        lambda q: reference.page(visible, q), query, 100
    )


# -- EXPLAIN: the plans use the indexes ----------------------------------------------------


def _plan_text(
    catalogue: SqlCatalogue,
    chosen_visible: VisibilityFilter,
    query: DocumentQuery,
    strategy: Strategy,
) -> str:
    counts = catalogue.counts(c.client_id.value for c in chosen_visible.clauses)
    chosen = plan(chosen_visible, query, counts, allowed={strategy})
    assert chosen.strategies == (strategy,), chosen
    return "\n".join(catalogue.explain_plan(chosen, query))


PARTIAL: Final = VisibilityFilter(
    (VisibilityClause(A, frozenset(COMPANIES[A][:2]), frozenset(THEMES[:2]), frozenset()),)
)
SEARCH: Final = DocumentQuery(
    limit=20,
    issued_from=NOW - timedelta(hours=40),
    label="paie",
    after=None,
)


@pytest.mark.parametrize(
    ("strategy", "indexes"),
    [
        (Strategy.EXACT, {Index.COMPANY_THEME}),
        (Strategy.BY_THEME, {Index.THEME}),
        (Strategy.BY_COMPANY, {Index.COMPANY}),
        (Strategy.BY_CLIENT, {Index.CLIENT}),
    ],
)
@pytest.mark.parametrize("query", [DocumentQuery(), SEARCH], ids=["newest", "search"])
def test_each_plan_scans_its_index_newest_first_without_sorting_the_table(
    catalogue: SqlCatalogue, strategy: Strategy, indexes: set[Index], query: DocumentQuery
) -> None:
    first = catalogue.page(PARTIAL, query)
    if first.next is not None:
        query = replace(query, after=first.next)  # a second page: the cursor is a seek too
    shown = _plan_text(catalogue, PARTIAL, query, strategy)
    if catalogue.postgresql:
        # On a small table the planner may use any of the indexes that give the order;
        # what matters: every arm is an ordered index scan, merged without sorting.
        scans = re.findall(r"Index Scan Backward using (\w+)", shown)
        assert scans, shown
        assert set(scans) <= {i.value for i in Index}
        assert "Seq Scan" not in shown
        assert "Bitmap" not in shown
        assert "Sort  (" not in shown, shown
        assert "->  Sort" not in shown, shown
        if query.after is not None:
            assert "ROW(issued_at" in shown  # the cursor is an index condition
    else:
        used = {i.value for i in Index if re.search(rf"\b{i.value}\b", shown)}
        assert used == {i.value for i in indexes}, shown
        assert "SCAN documents" not in shown
        assert "USE TEMP B-TREE" not in shown, shown
        if query.after is not None:  # the cursor is a seek into the index
            assert "(issued_at,id)<(?,?)" in shown


def _siren(n: int) -> Siren:
    body = f"{n:08d}"
    return next(Siren(body + d) for d in "0123456789" if luhn_valid(body + d))


def test_plans_on_a_large_subscription(sql_engine: Engine) -> None:
    """40,000 documents of 30 companies: the planner picks one ordered scan of the
    subscription for a whole portfolio, of a theme for a payroll clerk, and exact slices
    for a narrow right; none sorts."""
    rng = random.Random(11)
    client = ClientId("333333333")
    companies = [_siren(20_000_000 + i) for i in range(30)]
    catalogue = SqlCatalogue(sql_engine)
    catalogue.add(
        DocumentRef(
            client,
            rng.choice(companies),
            rng.choice(THEMES),
            f"g{i:05d}",
            "statement",
            NOW - timedelta(minutes=rng.randrange(500_000)),
        )
        for i in range(40_000)
    )
    with sql_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    cases = [
        (VisibilityClause(client, frozenset(companies), None, frozenset()), Strategy.BY_CLIENT),
        (
            VisibilityClause(client, frozenset(companies), frozenset(THEMES[:1]), frozenset()),
            Strategy.BY_THEME,
        ),
        (
            VisibilityClause(client, frozenset(companies[:2]), frozenset(THEMES[:1]), frozenset()),
            Strategy.EXACT,
        ),
    ]
    for clause, strategy in cases:
        visible = VisibilityFilter((clause,))
        for query in (DocumentQuery(), replace(SEARCH, label=None)):
            chosen = catalogue.plan(visible, query)
            assert chosen.strategies == (strategy,)
            shown = "\n".join(catalogue.explain(visible, query))
            if catalogue.postgresql:
                assert "Index Scan Backward" in shown, shown
                assert "Sort" not in shown.replace("Sort Key", ""), shown
                assert "Seq Scan" not in shown
                assert "Bitmap" not in shown
            else:
                assert "TEMP B-TREE" not in shown, shown
                assert "SCAN documents" not in shown
            if strategy is Strategy.BY_CLIENT:
                assert Index.CLIENT.value in shown
            if strategy is Strategy.BY_THEME:
                assert Index.THEME.value in shown


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12))
)
def test_a_text_array_literal_reads_back_as_its_values(
    postgres_url: str, values: list[str]
) -> None:
    """What ``ANY(%s::text[])`` receives: PostgreSQL reads the literal back as exactly the
    values (quotes, backslashes, commas, braces, spaces, ``NULL`` as text, empty strings)."""
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        found = conn.execute("SELECT %s::text[]", (text_array(values),)).fetchone()
    assert found is not None
    assert found[0] == values
