"""stores/sql/planner.py: grouping the rights and choosing the arms (pure, no database)."""

from __future__ import annotations

from typing import Final

from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.visibility import VisibilityClause, VisibilityFilter
from securebox_auth.identity import ClientId, Siren, luhn_valid
from securebox_auth.stores.sql.planner import (
    MAX_ARMS,
    POSTGRESQL_COSTS,
    SQLITE_COSTS,
    Group,
    Index,
    Sizes,
    Strategy,
    groups_of,
    plan,
)

A: Final = ClientId("111111111")
B: Final = ClientId("222222222")
PAYROLL, TAX, LETTERS = Theme("payroll"), Theme("tax"), Theme("letters")


def _siren(n: int) -> Siren:
    body = f"{n:08d}"
    return next(Siren(body + d) for d in "0123456789" if luhn_valid(body + d))


C = [_siren(30_000_000 + i) for i in range(40)]


def _clause(
    client: ClientId,
    companies: list[Siren],
    themes: set[Theme] | None = None,
    documents: set[str] | None = None,
) -> VisibilityClause:
    return VisibilityClause(
        client,
        frozenset(companies),
        None if themes is None else frozenset(themes),
        frozenset(documents or ()),
    )


def _sizes(companies: list[Siren], per_cell: int, themes: tuple[Theme, ...]) -> Sizes:
    return Sizes.of({(c.value, t.name): per_cell for c in companies for t in themes})


ALL_THEMES: Final = (PAYROLL, TAX, LETTERS)


def test_clauses_merge_per_company_and_group_by_access() -> None:
    visible = VisibilityFilter(
        (
            _clause(A, C[:2], {PAYROLL}, {"d1"}),
            _clause(A, C[1:3], {TAX}),
            _clause(A, C[3:4]),  # every theme
            _clause(A, C[3:4], {TAX}, {"d9"}),  # adds nothing to "every theme"
            _clause(B, C[:1], {PAYROLL}),
        )
    )
    assert groups_of(visible) == [
        Group(A.value, frozenset({C[0].value}), frozenset({"payroll"}), frozenset({"d1"})),
        Group(A.value, frozenset({C[1].value}), frozenset({"payroll", "tax"}), frozenset({"d1"})),
        Group(A.value, frozenset({C[2].value}), frozenset({"tax"}), frozenset()),
        Group(A.value, frozenset({C[3].value}), None, frozenset()),
        Group(B.value, frozenset({C[0].value}), frozenset({"payroll"}), frozenset()),
    ]


def test_a_query_theme_narrows_the_groups() -> None:
    visible = VisibilityFilter(
        (
            _clause(A, C[:1], {PAYROLL}, {"d1"}),  # granted: the theme's slice only
            _clause(A, C[1:2], {TAX}, {"d2"}),  # not granted: its documents of that theme
            _clause(A, C[2:3], {TAX}),  # not granted, no documents: nothing
            _clause(A, C[3:4]),  # every theme: the theme's slice
        )
    )
    assert groups_of(visible, "payroll") == [
        Group(A.value, frozenset({C[0].value, C[3].value}), frozenset({"payroll"}), frozenset()),
        Group(A.value, frozenset({C[1].value}), frozenset(), frozenset({"d2"})),
    ]


def test_without_counts_the_exact_plan_is_chosen() -> None:
    visible = VisibilityFilter((_clause(A, C[:3], {PAYROLL, TAX}, {"d1"}),))
    chosen = plan(visible, DocumentQuery(), {})
    assert chosen.strategies == (Strategy.EXACT,)
    assert [a.index for a in chosen.arms] == [Index.COMPANY_THEME] * 6 + [Index.PRIMARY]
    doc_arm = chosen.arms[-1]
    assert doc_arm.ids == frozenset({"d1"})
    assert doc_arm.not_themes == frozenset({"payroll", "tax"})  # no document twice


def test_a_whole_portfolio_of_a_large_subscription_is_one_scan() -> None:
    visible = VisibilityFilter((_clause(A, C),))
    counts = {A.value: _sizes(C, 500, ALL_THEMES)}
    for costs in (SQLITE_COSTS, POSTGRESQL_COSTS):
        chosen = plan(visible, DocumentQuery(), counts, costs=costs)
        assert chosen.strategies == (Strategy.BY_CLIENT,)
        (arm,) = chosen.arms
        assert arm.index is Index.CLIENT
        assert arm.residual_rights  # the companies are still checked, row by row


def test_a_payroll_clerk_scans_the_payroll_of_the_subscription() -> None:
    visible = VisibilityFilter((_clause(A, C, {PAYROLL}),))
    counts = {A.value: _sizes(C, 500, ALL_THEMES)}
    chosen = plan(visible, DocumentQuery(), counts)
    assert chosen.strategies == (Strategy.BY_THEME,)
    assert [(a.index, a.theme) for a in chosen.arms] == [(Index.THEME, "payroll")]


def test_a_narrow_right_on_a_large_subscription_takes_exact_slices() -> None:
    visible = VisibilityFilter((_clause(A, C[:2], {TAX}),))
    counts = {A.value: _sizes(C, 500, ALL_THEMES)}
    for costs in (SQLITE_COSTS, POSTGRESQL_COSTS):
        chosen = plan(visible, DocumentQuery(), counts, costs=costs)
        assert chosen.strategies == (Strategy.EXACT,)
        assert not any(a.residual_rights for a in chosen.arms)


def test_postgresql_prefers_slices_to_replanning_a_small_subscription() -> None:
    """On PostgreSQL a residual filter costs a planning per query; a few exact slices of a
    small subscription are cheaper. SQLite has no such cost and scans once."""
    visible = VisibilityFilter((_clause(A, C[:4]),))
    counts = {A.value: _sizes(C[:4], 40, ALL_THEMES)}
    assert plan(visible, DocumentQuery(), counts, costs=SQLITE_COSTS).strategies == (
        Strategy.BY_CLIENT,
    )
    assert plan(visible, DocumentQuery(), counts, costs=POSTGRESQL_COSTS).strategies == (
        Strategy.EXACT,
    )


def test_the_arm_budget_holds_across_groups() -> None:
    visible = VisibilityFilter(
        tuple(_clause(ClientId(f"{400_000_000 + i}"), C, {PAYROLL, TAX}) for i in range(3))
    )
    chosen = plan(visible, DocumentQuery(), {}, allowed={Strategy.EXACT})
    assert len(chosen.arms) <= MAX_ARMS
    assert chosen.strategies == (Strategy.BY_CLIENT,) * 3  # 80 exact arms each: too many
    narrow = VisibilityFilter(
        tuple(_clause(ClientId(f"{400_000_000 + i}"), C[:4]) for i in range(30))
    )
    chosen = plan(narrow, DocumentQuery(), {})
    assert len(chosen.arms) <= MAX_ARMS
    assert Strategy.EXACT in chosen.strategies
    assert Strategy.BY_CLIENT in chosen.strategies
