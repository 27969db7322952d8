"""How the SQL catalogue answers a page: a union of index range scans ("arms").

A :class:`~securebox_auth.entitlements.visibility.VisibilityFilter` says which companies of
which subscriptions a user sees, wholly or for some themes and documents. Written naively
(``WHERE client_id = ? AND company IN (...) ORDER BY issued_at DESC LIMIT 20``) a database
must read and sort every matching row: hundreds of times slower on a large subscription.
Instead the page is a ``UNION ALL`` of arms, each a newest-first range scan of one index
slice, merged by ``ORDER BY issued_at DESC, id DESC LIMIT n`` (SQLite merges the arms as
co-routines; PostgreSQL as a Merge Append of arms with their own ``LIMIT``), so a page reads
about ``n`` rows plus one index descent per arm. Four ways to cover one group of companies
that share the same access:

* ``EXACT``: one arm per company (every theme) or per (company, theme), plus one arm for
  documents granted one by one: nothing read is thrown away, one descent per arm;
* ``BY_THEME``: one arm per granted theme across the subscription, keeping the visible
  companies with a residual filter (a payroll clerk who sees the payroll of every company);
* ``BY_COMPANY``: one arm per company, keeping the granted themes with a residual filter;
* ``BY_CLIENT``: one arm over the whole subscription, keeping the visible companies and
  themes with a residual filter: one descent, but rows the user may not see are read.

:func:`plan` picks per group the cheapest by a small cost model (:class:`Costs`, one per
database) fed with how many documents each (subscription, company, theme) has, which the
catalogue keeps in ``document_counts``. The counts only choose the plan: every plan
returns exactly the visible documents, whatever the counts say.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.visibility import VisibilityFilter

__all__ = [
    "MAX_ARMS",
    "POSTGRESQL_COSTS",
    "SQLITE_COSTS",
    "Arm",
    "Costs",
    "Counts",
    "Group",
    "Index",
    "Plan",
    "Sizes",
    "Strategy",
    "groups_of",
    "plan",
]

#: At most this many arms in one query (statement size, planning time).
MAX_ARMS: Final = 48


@dataclass(frozen=True, slots=True, kw_only=True)
class Costs:
    """Relative costs, in reads of one table row (measured on the reference machine)."""

    #: One arm: an index descent and the arm's set-up in the merge.
    descent: float
    #: One index entry examined by a residual filter on indexed columns (company, theme)
    #: before the row itself is read.
    entry: float
    #: Rows read per match of a label search (a guess: labels are not counted).
    label_sparsity: float = 10.0
    #: A query with a residual filter on the rights is planned with its values at every
    #: execution (PostgreSQL; see :mod:`.catalogue`): the planning time, once per query.
    replan: float = 0.0


#: SQLite: ~4 µs per arm, ~0.3 µs per index entry, ~3 µs per row read (the residual
#: filter is tested on the index entry: the row is read only when it passes).
SQLITE_COSTS: Final = Costs(descent=2.0, entry=0.1)
#: PostgreSQL: ~20 µs per arm, ~2.5 µs per row read, ~0.5 µs per entry that a residual
#: filter rejects (evaluated on the heap row, but a subscription's pages stay cached).
#: Planning a query with its values costs ~0.15-0.4 ms.
POSTGRESQL_COSTS: Final = Costs(descent=8.0, entry=0.2, replan=80.0)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many documents one subscription has: per (company, theme), per company, per
    theme, in all."""

    cells: Mapping[tuple[str, str], int]
    companies: Mapping[str, int]
    themes: Mapping[str, int]
    total: int

    @classmethod
    def of(cls, cells: Mapping[tuple[str, str], int]) -> Sizes:
        companies: dict[str, int] = {}
        themes: dict[str, int] = {}
        for (company, theme), count in cells.items():
            companies[company] = companies.get(company, 0) + count
            themes[theme] = themes.get(theme, 0) + count
        return cls(dict(cells), companies, themes, sum(companies.values()))

    def visible(self, group: Group) -> int:
        if group.themes is None:
            found = sum(self.companies.get(c, 0) for c in group.companies)
        else:
            found = sum(self.cells.get((c, t), 0) for c in group.companies for t in group.themes)
        return found + len(group.documents)


#: ``{client_id: Sizes}``; a missing client means "unknown".
Counts = Mapping[str, Sizes]


class Index(enum.Enum):
    """Which index an arm scans (the names are the schema's)."""

    COMPANY = "ix_documents_company"
    COMPANY_THEME = "ix_documents_company_theme"
    THEME = "ix_documents_theme"
    CLIENT = "ix_documents_client"
    PRIMARY = "pk_documents"


class Strategy(enum.Enum):
    EXACT = "exact"
    BY_THEME = "by_theme"
    BY_COMPANY = "by_company"
    BY_CLIENT = "by_client"


@dataclass(frozen=True, slots=True)
class Group:
    """Companies of one subscription with the same access: every theme (``themes=None``),
    or the given themes plus the given document ids. ``only_theme`` is the query's theme."""

    client_id: str
    companies: frozenset[str]
    themes: frozenset[str] | None
    documents: frozenset[str]


@dataclass(frozen=True, slots=True)
class Arm:
    """One range scan, newest first, of ``index`` at ``client_id`` (and ``company``,
    ``theme`` when set), or of the primary key at ``ids``, with a residual filter:
    ``company IN companies`` (when set) ``AND (theme IN themes OR id IN or_ids)`` (when
    ``themes`` is set) ``AND theme NOT IN not_themes``."""

    index: Index
    client_id: str
    company: str | None = None
    theme: str | None = None
    ids: frozenset[str] = frozenset()
    companies: frozenset[str] | None = None
    themes: frozenset[str] | None = None
    or_ids: frozenset[str] = frozenset()
    not_themes: frozenset[str] = frozenset()

    @property
    def residual_rights(self) -> bool:
        """Does this arm keep the visible rows of its slice with a filter on the rights?"""
        return self.index is not Index.PRIMARY and (
            self.companies is not None or self.themes is not None
        )


@dataclass(frozen=True, slots=True)
class Plan:
    arms: tuple[Arm, ...]
    #: The query's theme, applied to every arm (``theme = ?``).
    only_theme: str | None
    strategies: tuple[Strategy, ...]

    @property
    def empty(self) -> bool:
        return not self.arms


def groups_of(visible: VisibilityFilter, only_theme: str | None = None) -> list[Group]:
    """The filter's clauses merged per subscription and company, then grouped by access,
    with the query's theme applied. Deterministic order."""
    access: dict[str, dict[str, tuple[frozenset[str] | None, frozenset[str]]]] = {}
    for clause in visible.clauses:
        per_company = access.setdefault(clause.client_id.value, {})
        themes = None if clause.themes is None else frozenset(t.name for t in clause.themes)
        docs = frozenset(clause.documents) if themes is not None else frozenset()
        for siren in clause.companies:
            old = per_company.get(siren.value)
            if old is None:
                per_company[siren.value] = (themes, docs)
            elif old[0] is None or themes is None:  # every theme: the documents add nothing
                per_company[siren.value] = (None, frozenset())
            else:
                per_company[siren.value] = (old[0] | themes, old[1] | docs)
    groups: list[Group] = []
    for client_id in sorted(access):
        by_access: dict[tuple[frozenset[str] | None, frozenset[str]], set[str]] = {}
        for company, (granted, docs) in access[client_id].items():
            themes, ids = granted, docs
            if only_theme is not None:
                if granted is None or only_theme in granted:
                    themes, ids = frozenset({only_theme}), frozenset()
                else:
                    themes = frozenset()
            if themes is not None and not themes and not ids:
                continue  # nothing of this company can match
            by_access.setdefault((themes, ids), set()).add(company)
        for (themes, docs), companies in sorted(
            by_access.items(), key=lambda item: sorted(item[1])
        ):
            groups.append(Group(client_id, frozenset(companies), themes, docs))
    return groups


def _exact_arms(group: Group) -> list[Arm]:
    arms: list[Arm] = []
    for company in sorted(group.companies):
        if group.themes is None:
            arms.append(Arm(Index.COMPANY, group.client_id, company=company))
        else:
            arms.extend(
                Arm(Index.COMPANY_THEME, group.client_id, company=company, theme=theme)
                for theme in sorted(group.themes)
            )
    if group.themes is not None and group.documents:
        arms.append(
            Arm(
                Index.PRIMARY,
                group.client_id,
                ids=group.documents,
                companies=group.companies,
                not_themes=group.themes,
            )
        )
    return arms


def _by_company_arms(group: Group) -> list[Arm]:
    if group.themes is None:
        return _exact_arms(group)
    return [
        Arm(
            Index.COMPANY,
            group.client_id,
            company=company,
            themes=group.themes,
            or_ids=group.documents,
        )
        for company in sorted(group.companies)
    ]


def _by_theme_arms(group: Group) -> list[Arm]:
    if group.themes is None:
        return [_by_client_arm(group)]
    arms = [
        Arm(Index.THEME, group.client_id, theme=theme, companies=group.companies)
        for theme in sorted(group.themes)
    ]
    if group.documents:
        arms.append(
            Arm(
                Index.PRIMARY,
                group.client_id,
                ids=group.documents,
                companies=group.companies,
                not_themes=group.themes,
            )
        )
    return arms


def _by_client_arm(group: Group) -> Arm:
    return Arm(
        Index.CLIENT,
        group.client_id,
        companies=group.companies,
        themes=group.themes,
        or_ids=group.documents if group.themes is not None else frozenset(),
    )


def _arms_for(group: Group, strategy: Strategy) -> list[Arm]:
    if strategy is Strategy.EXACT:
        return _exact_arms(group)
    if strategy is Strategy.BY_THEME:
        return _by_theme_arms(group)
    if strategy is Strategy.BY_COMPANY:
        return _by_company_arms(group)
    return [_by_client_arm(group)]


def plan(
    visible: VisibilityFilter,
    query: DocumentQuery,
    counts: Counts,
    *,
    costs: Costs = SQLITE_COSTS,
    max_arms: int = MAX_ARMS,
    allowed: Collection[Strategy] = tuple(Strategy),
) -> Plan:
    """Choose the arms of the page query (see the module documentation). ``allowed``
    restricts the strategies (``BY_CLIENT`` remains when none of them fits the arm budget)."""
    only_theme = None if query.theme is None else query.theme.name
    groups = groups_of(visible, only_theme)
    sparsity = costs.label_sparsity if query.label is not None else 1.0
    wanted = float(query.limit + 1)
    visible_total = sum(counts[g.client_id].visible(g) for g in groups if g.client_id in counts)
    # The fraction of each slice the merge reads before it has its page (documents spread
    # evenly in time); at most all of it.
    fraction = min(1.0, wanted * sparsity / visible_total) if visible_total else 1.0
    model = _Model(costs, fraction, sparsity)
    arms: list[Arm] = []
    strategies: list[Strategy] = []
    # Groups with the most arms choose first, while the arm budget is widest.
    order = sorted(range(len(groups)), key=lambda i: -_arm_count(groups[i], Strategy.EXACT))
    replanned = False
    for position, index in enumerate(order):
        group = groups[index]
        budget = max_arms - len(arms) - (len(order) - position - 1)
        sizes = counts.get(group.client_id)
        options: list[tuple[float, int, Strategy]] = []
        for rank, strategy in enumerate(Strategy):
            if strategy not in allowed or _arm_count(group, strategy) > budget:
                continue
            if group.themes is None and strategy in (Strategy.BY_THEME, Strategy.BY_COMPANY):
                continue  # every theme: the same arms as EXACT or BY_CLIENT
            # Unknown sizes: prefer the exact plan, which reads nothing it throws away.
            cost = float(rank) if sizes is None else model.cost(group, strategy, sizes)
            if sizes is not None and not replanned and _filters_rights(group, strategy):
                cost += costs.replan
            options.append((cost, rank, strategy))
        _, _, chosen = min(options, default=(0.0, 0, Strategy.BY_CLIENT))
        arms.extend(_arms_for(group, chosen))
        strategies.append(chosen)
        replanned = replanned or _filters_rights(group, chosen)
    return Plan(tuple(arms), only_theme, tuple(strategies))


def _filters_rights(group: Group, strategy: Strategy) -> bool:
    """Does this way of covering ``group`` need a residual filter on the rights?"""
    if strategy is Strategy.EXACT:
        return False
    return strategy is not Strategy.BY_COMPANY or group.themes is not None


def _arm_count(group: Group, strategy: Strategy) -> int:
    if strategy is Strategy.BY_CLIENT or (strategy is Strategy.BY_THEME and group.themes is None):
        return 1
    if strategy is Strategy.BY_THEME:
        return len(group.themes or ()) + (1 if group.documents else 0)
    if group.themes is None or strategy is Strategy.BY_COMPANY:
        return len(group.companies)
    return len(group.companies) * len(group.themes) + (1 if group.documents else 0)


@dataclass(frozen=True, slots=True)
class _Model:
    costs: Costs
    #: The fraction of each slice read before the page is full.
    fraction: float
    #: Rows read per match of the residual label filter (1 without a label).
    sparsity: float

    def _arm(self, scanned: float, visible: float) -> float:
        """One arm: a descent, the entries it scans (tested on the index), and the rows it
        reads (at least the ones needed for its first match)."""
        read = max(self.sparsity, visible * self.fraction)
        return self.costs.descent + self.costs.entry * scanned * self.fraction + read

    def cost(self, group: Group, strategy: Strategy, sizes: Sizes) -> float:
        if strategy is Strategy.BY_CLIENT or (
            strategy is Strategy.BY_THEME and group.themes is None
        ):
            return self._arm(sizes.total, sizes.visible(group))
        if strategy is Strategy.BY_THEME:
            cost = 0.0
            for theme in group.themes or ():
                visible = sum(sizes.cells.get((c, theme), 0) for c in group.companies)
                cost += self._arm(sizes.themes.get(theme, 0), visible)
            if group.documents:
                cost += self.costs.descent + len(group.documents)
            return cost
        cost = 0.0
        if group.themes is None:
            for company in group.companies:
                size = sizes.companies.get(company, 0)
                cost += self._arm(0, size)
            return cost
        if strategy is Strategy.BY_COMPANY:
            for company in group.companies:
                visible = sum(sizes.cells.get((company, t), 0) for t in group.themes)
                cost += self._arm(sizes.companies.get(company, 0), visible)
            return cost
        for company in group.companies:
            for theme in group.themes:
                cost += self._arm(0, sizes.cells.get((company, theme), 0))
        if group.documents:
            cost += self.costs.descent + len(group.documents)
        return cost
