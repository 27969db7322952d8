"""The visibility filter always agrees with check(), and the catalogue pages correctly."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.catalogue import Cursor, DocumentQuery, MemoryCatalogue
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.visibility import visibility_filter
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from tests.entitlements.world import (
    ACCOUNTANT,
    ACCOUNTS,
    C1,
    C2,
    C3,
    CLERK,
    NOW,
    PAYROLL,
    PU,
    STATEMENTS,
    TAX,
    TREASURER,
    A,
    B,
    disabled,
    doc,
    sub_a,
    sub_b,
)

THEMES = [PAYROLL, TAX, STATEMENTS]
COMPANIES = [C1, C2, C3]
DOC_OPS = [Operation.VIEW, Operation.DOWNLOAD, Operation.SHARE]

documents = st.builds(
    lambda n, client, company, theme, days: DocumentRef(
        client, company, theme, f"d-{n}", f"label {n}", NOW - timedelta(days=days)
    ),
    st.integers(0, 30),
    st.sampled_from([A, B]),
    st.sampled_from(COMPANIES),
    st.sampled_from(THEMES),
    st.integers(0, 400),
)

rights_strategy = st.builds(
    Rights,
    st.one_of(
        st.just(CompanyScope.portfolio()),
        st.frozensets(st.sampled_from(COMPANIES[:2])).map(lambda s: CompanyScope(chosen=s)),
    ),
    st.one_of(
        st.just(DocumentScope.all()),
        st.builds(
            lambda t, d: DocumentScope(themes=t, documents=d),
            st.frozensets(st.sampled_from(THEMES)),
            st.frozensets(st.sampled_from([f"d-{i}" for i in range(8)])),
        ),
    ),
    st.frozensets(st.sampled_from(DOC_OPS)),
)


@settings(max_examples=300)
@given(
    docs=st.lists(documents, max_size=20),
    rights=rights_strategy,
    actor=st.sampled_from([PU, CLERK, TREASURER, ACCOUNTANT]),
    invitation=st.sampled_from([None, *InvitationStatus]),
    action=st.sampled_from(DOC_OPS),
    active=st.booleans(),
)
def test_filter_agrees_with_check(
    docs: list[DocumentRef],
    rights: Rights,
    actor: object,
    invitation: InvitationStatus | None,
    action: Operation,
    active: bool,
) -> None:
    sub = sub_a(invitation).with_rights(CLERK, rights)
    subs = [sub, sub_b()]
    account: Account = ACCOUNTS[actor]  # type: ignore[index]
    if not active:
        account = disabled(account)
    visible = visibility_filter(account, subs, NOW, action)
    for d in docs:
        owner = sub if d.client_id == A else subs[1]
        assert visible.matches(d) == check(account, action, d, owner, NOW).allowed


def test_filter_is_only_for_document_operations() -> None:
    with pytest.raises(MalformedInput):
        visibility_filter(ACCOUNTS[PU], [sub_a()], NOW, Operation.TRANSFER)


def test_filter_resolves_the_portfolio_now() -> None:
    visible = visibility_filter(ACCOUNTS[TREASURER], [sub_a()], NOW)
    (clause,) = visible.clauses
    assert clause.companies == {C1, C2}
    assert clause.themes is None


def _catalogue(n: int) -> tuple[MemoryCatalogue, list[DocumentRef]]:
    docs = [
        doc(i, company=[C1, C2][i % 2], theme=THEMES[i % 3], days_ago=i // 3, label=f"Item {i}")
        for i in range(n)
    ]
    catalogue = MemoryCatalogue()
    catalogue.add(docs)
    return catalogue, docs


def _newest_first(docs: list[DocumentRef]) -> list[DocumentRef]:
    return sorted(docs, key=lambda d: (d.issued_at, d.document_id), reverse=True)


def test_newest_twenty_then_keyset_pages() -> None:
    catalogue, docs = _catalogue(95)
    visible = visibility_filter(ACCOUNTS[PU], [sub_a()], NOW)
    seen: list[DocumentRef] = []
    after: Cursor | None = None
    while True:
        page = catalogue.page(visible, DocumentQuery(limit=20, after=after))
        seen.extend(page.documents)
        if page.next is None:
            break
        assert len(page.documents) == 20
        after = page.next
    assert seen == _newest_first(docs)


@settings(max_examples=100)
@given(
    theme=st.sampled_from([None, *THEMES]),
    start=st.integers(0, 40),
    span=st.integers(1, 40),
    label=st.sampled_from([None, "item 1", "ITEM", "nothing"]),
    limit=st.integers(1, 30),
    rights=rights_strategy,
)
def test_search_pages_equal_a_plain_filter(
    theme: Theme | None, start: int, span: int, label: str | None, limit: int, rights: Rights
) -> None:
    catalogue, docs = _catalogue(60)
    sub = sub_a().with_rights(CLERK, rights)
    visible = visibility_filter(ACCOUNTS[CLERK], [sub], NOW)
    query = DocumentQuery(
        limit=limit,
        theme=theme,
        issued_from=NOW - timedelta(days=start + span),
        issued_to=NOW - timedelta(days=start),
        label=label,
    )
    expected = [d for d in _newest_first(docs) if query.matches(d) and visible.matches(d)]
    got: list[DocumentRef] = []
    after: Cursor | None = None
    for _ in range(100):
        page = catalogue.page(visible, replace(query, after=after))
        got.extend(page.documents)
        if page.next is None:
            break
        after = page.next
    assert got == expected


def test_empty_filter_lists_nothing() -> None:
    catalogue, _ = _catalogue(10)
    visible = visibility_filter(disabled(ACCOUNTS[PU]), [sub_a()], NOW)
    assert catalogue.page(visible, DocumentQuery()).documents == ()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 201},
        {"issued_from": NOW, "issued_to": NOW},
        {"label": ""},
        {"label": "x" * 101},
    ],
)
def test_bad_queries_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(MalformedInput):
        DocumentQuery(**kwargs)  # type: ignore[arg-type]


def test_duplicate_document_ids_are_refused() -> None:
    catalogue = MemoryCatalogue()
    catalogue.add([doc(1)])
    with pytest.raises(MalformedInput):
        catalogue.add([doc(1, client=B, company=C3)])


def test_third_party_sees_only_invited_companies_across_subscriptions() -> None:
    sub = sub_a()
    own = Subscription(B, companies=sub_b().companies)
    visible = visibility_filter(ACCOUNTS[ACCOUNTANT], [sub, own], NOW)
    assert {c.client_id for c in visible.clauses} == {A, B}
    a_clause = next(c for c in visible.clauses if c.client_id == A)
    assert a_clause.companies == {C1}
    assert not visible.matches(doc(9, company=C2))
    assert visible.matches(doc(9, client=B, company=C3))


@settings(max_examples=300)
@given(
    docs=st.lists(documents, max_size=20),
    rights=rights_strategy,
    actor=st.sampled_from([PU, CLERK, TREASURER, ACCOUNTANT]),
    invitation=st.sampled_from([None, *InvitationStatus]),
    action=st.sampled_from(DOC_OPS),
    company=st.sampled_from(COMPANIES),
)
def test_narrowed_filter_agrees_with_check_on_that_company(
    docs: list[DocumentRef],
    rights: Rights,
    actor: object,
    invitation: InvitationStatus | None,
    action: Operation,
    company: Siren,
) -> None:
    sub = sub_a(invitation).with_rights(CLERK, rights)
    subs = [sub, sub_b()]
    account: Account = ACCOUNTS[actor]  # type: ignore[index]
    visible = visibility_filter(account, subs, NOW, action)
    narrowed = visible.only(company)
    assert narrowed.companies <= {company}
    assert narrowed.companies == ({company} & visible.companies)
    for d in docs:
        owner = sub if d.client_id == A else subs[1]
        allowed = check(account, action, d, owner, NOW).allowed
        assert narrowed.matches(d) == (allowed and d.company == company)


def test_narrowing_to_a_company_outside_the_filter_shows_nothing() -> None:
    visible = visibility_filter(ACCOUNTS[CLERK], [sub_a()], NOW)
    assert visible.only(C2).empty
    assert visible.only(C1).clauses == visible.clauses
    with pytest.raises(MalformedInput):
        visible.only("732829320")  # type: ignore[arg-type]
