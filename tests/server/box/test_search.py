"""Paging a box search: the pages, put together, are exactly the brute-force answer (no
row missed, none twice), each page is bounded, and each request examines a bounded
number of catalogue rows."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.entitlements.catalogue import DocumentQuery, MemoryCatalogue
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import VisibilityClause, VisibilityFilter
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren
from securebox_server.box.search import BoxSearch, ListedPage, ReadFilter, collect, sift

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CLIENT = ClientId("123456789")
C1, C2 = Siren("732829320"), Siren("552100554")
THEMES = [Theme("tax"), Theme("payroll"), Theme("statements")]
SENDERS = ["bank", "urssaf", "insurer"]


@dataclass(frozen=True, slots=True)
class FakeRow:
    sender: str
    live: bool


@dataclass(frozen=True, slots=True)
class Item:
    ref: DocumentRef
    row: FakeRow | None  # None: a catalogue entry without a box row
    read: bool


items = st.lists(
    st.builds(
        lambda n, company, theme, days, sender, live, has_row, read: Item(
            DocumentRef(CLIENT, company, theme, f"d{n}", f"Doc {n}", NOW - timedelta(days=days)),
            FakeRow(sender, live) if has_row else None,
            read,
        ),
        st.integers(0, 10_000),
        st.sampled_from([C1, C2]),
        st.sampled_from(THEMES),
        st.integers(0, 30),
        st.sampled_from(SENDERS),
        st.booleans(),
        st.integers(0, 9).map(lambda n: n > 0),
        st.booleans(),
    ),
    max_size=80,
    unique_by=lambda i: i.ref.document_id,
)

searches = st.builds(
    BoxSearch,
    limit=st.integers(1, 12),
    theme=st.sampled_from([None, *THEMES]),
    sender=st.sampled_from([None, *SENDERS]),
    read=st.sampled_from(list(ReadFilter)),
    issued_from=st.sampled_from([None, NOW - timedelta(days=20)]),
)

ALL = VisibilityFilter((VisibilityClause(CLIENT, frozenset({C1, C2}), None, frozenset()),))


FakeFacts = Callable[[Sequence[DocumentRef]], tuple[Mapping[str, FakeRow], Collection[str]]]


def _world(found: list[Item]) -> tuple[MemoryCatalogue, FakeFacts]:
    catalogue = MemoryCatalogue()
    catalogue.add(i.ref for i in found)
    by_id = {i.ref.document_id: i for i in found}

    def facts(refs: Sequence[DocumentRef]) -> tuple[Mapping[str, FakeRow], Collection[str]]:
        rows = {
            r.document_id: row
            for r in refs
            if (row := by_id[r.document_id].row) is not None and row.live
        }
        return rows, {r for r in rows if by_id[r].read}

    return catalogue, facts


def _expected(found: list[Item], search: BoxSearch, visible: VisibilityFilter) -> list[str]:
    query = DocumentQuery(issued_from=search.issued_from, theme=search.theme)
    ordered = sorted(found, key=lambda i: (i.ref.issued_at, i.ref.document_id), reverse=True)
    return [
        i.ref.document_id
        for i in ordered
        if visible.matches(i.ref)
        and query.matches(i.ref)
        and i.row is not None
        and i.row.live
        and (search.sender is None or i.row.sender == search.sender)
        and (search.read is ReadFilter.ANY or i.read == (search.read is ReadFilter.READ))
    ]


@settings(max_examples=120, deadline=None)
@given(found=items, search=searches, budget=st.integers(1, 40), company=st.sampled_from([None, C1]))
def test_pages_put_together_are_the_brute_force_answer(
    found: list[Item], search: BoxSearch, budget: int, company: Siren | None
) -> None:
    catalogue, facts = _world(found)
    visible = ALL if company is None else ALL.only(company)
    got: list[str] = []
    current = search
    for _ in range(1_000):
        page: ListedPage[FakeRow] = collect(
            current,
            lambda q: catalogue.page(visible, q),
            facts,
            budget=budget,
        )
        assert len(page.documents) <= search.limit
        assert page.examined <= budget
        assert page.examined >= 1 or page.next is None
        for listed in page.documents:
            assert listed.read == next(i.read for i in found if i.ref == listed.ref)
        got.extend(listed.ref.document_id for listed in page.documents)
        if page.next is None:
            break
        current = replace(search, after=page.next)
    else:
        pytest.fail("the pages never end")
    assert got == _expected(found, search, visible)


def test_a_full_page_says_where_to_go_on() -> None:
    found = [
        Item(
            DocumentRef(CLIENT, C1, THEMES[0], f"d{n}", "x", NOW - timedelta(days=n)),
            FakeRow("bank", True),
            False,
        )
        for n in range(5)
    ]
    catalogue, facts = _world(found)
    page = collect(BoxSearch(limit=2), lambda q: catalogue.page(ALL, q), facts)
    assert [x.ref.document_id for x in page.documents] == ["d0", "d1"]
    assert page.next is not None
    assert page.next.document_id == "d1"
    assert not page.cut_short


def test_a_budget_spent_before_the_page_is_full_is_said() -> None:
    found = [
        Item(
            DocumentRef(CLIENT, C1, THEMES[0], f"d{n}", "x", NOW - timedelta(days=n)),
            FakeRow("bank" if n == 9 else "urssaf", True),
            False,
        )
        for n in range(10)
    ]
    catalogue, facts = _world(found)
    search = BoxSearch(limit=5, sender="bank")
    page = collect(search, lambda q: catalogue.page(ALL, q), facts, budget=4)
    assert page.documents == ()
    assert page.cut_short
    assert page.examined == 4
    assert page.next is not None
    assert page.next.document_id == "d3"


def test_sift_drops_rows_without_a_live_box_row() -> None:
    ref = DocumentRef(CLIENT, C1, THEMES[0], "d1", "x", NOW)
    rows: dict[str, FakeRow] = {}
    kept, examined = sift([ref], rows, set(), BoxSearch(), room=5, budget=5)
    assert kept == []
    assert examined == 1


@pytest.mark.parametrize(
    "kwargs", [{"limit": 0}, {"sender": ""}, {"sender": "x" * 65}, {"read": "yes"}, {"label": ""}]
)
def test_bad_searches_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(MalformedInput):
        BoxSearch(**kwargs)  # type: ignore[arg-type]
