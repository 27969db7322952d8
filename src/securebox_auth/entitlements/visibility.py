"""What a user may see, as a filter a store turns into a query.

:func:`visibility_filter` computes, from the entitlement state, a :class:`VisibilityFilter`:
a disjunction of clauses, one per subscription the user reaches (their own, and those that
invited them). Each clause is *resolved*: "whole portfolio" becomes the companies in the
portfolio now, so a store needs no knowledge of roles or invitations to apply it. A SQL store
turns it into ``WHERE (client_id = ? AND company IN (...) AND (theme IN (...) OR id IN
(...))) OR ...``; :meth:`VisibilityFilter.matches` is the in-memory form. Both always agree
with :func:`~securebox_auth.entitlements.check.check` (a property test holds them to it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.check import effective_rights
from securebox_auth.entitlements.model import DOCUMENT_OPERATIONS, Operation, Subscription, Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren

__all__ = ["VisibilityClause", "VisibilityFilter", "visibility_filter"]


@dataclass(frozen=True, slots=True)
class VisibilityClause:
    """Documents of ``client_id`` for one of ``companies`` whose theme is in ``themes``
    (``None``: every theme) or whose id is in ``documents``."""

    client_id: ClientId
    companies: frozenset[Siren]
    themes: frozenset[Theme] | None
    documents: frozenset[str]

    def matches(self, doc: DocumentRef) -> bool:
        return (
            doc.client_id == self.client_id
            and doc.company in self.companies
            and (
                self.themes is None or doc.theme in self.themes or doc.document_id in self.documents
            )
        )


@dataclass(frozen=True, slots=True)
class VisibilityFilter:
    clauses: tuple[VisibilityClause, ...]

    @property
    def empty(self) -> bool:
        return not self.clauses

    def matches(self, doc: DocumentRef) -> bool:
        return any(clause.matches(doc) for clause in self.clauses)

    def only(self, company: Siren) -> VisibilityFilter:
        """The documents of this filter that belong to ``company`` (the company switcher):
        each clause keeps only that company, and a clause without it is dropped."""
        if not isinstance(company, Siren):
            raise MalformedInput("narrow a visibility filter to a Siren")
        return VisibilityFilter(
            tuple(
                replace(clause, companies=frozenset({company}))
                for clause in self.clauses
                if company in clause.companies
            )
        )

    @property
    def companies(self) -> frozenset[Siren]:
        """Every company this filter shows documents of."""
        return frozenset(s for clause in self.clauses for s in clause.companies)


def visibility_filter(
    actor: Account,
    subscriptions: Iterable[Subscription],
    now: datetime,
    action: Operation = Operation.VIEW,
) -> VisibilityFilter:
    """The documents ``actor`` may ``action`` (view by default) across ``subscriptions``
    (their own and the ones that invited them; others contribute nothing)."""
    if action not in DOCUMENT_OPERATIONS:
        raise MalformedInput("a visibility filter is for a document operation")
    if not actor.active:
        return VisibilityFilter(())
    clauses: list[VisibilityClause] = []
    for sub in subscriptions:
        rights, _ = effective_rights(actor, sub, now)
        if not rights.holds(action):
            continue
        companies = frozenset(s for s in sub.companies if rights.companies.covers(s))
        if not companies:
            continue
        if rights.documents.total:
            clauses.append(VisibilityClause(sub.client_id, companies, None, frozenset()))
        elif rights.documents.themes or rights.documents.documents:
            clauses.append(
                VisibilityClause(
                    sub.client_id, companies, rights.documents.themes, rights.documents.documents
                )
            )
    return VisibilityFilter(tuple(sorted(clauses, key=lambda c: c.client_id.value)))
