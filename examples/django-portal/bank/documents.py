"""Entitlements as a queryset: the documents a customer may see.

securebox decides who sees what (``box.entitlements.visible(principal)`` resolves the
user's rights, role and accepted invitations into a :class:`~securebox_auth.
VisibilityFilter`); this module only spells that filter as a Django ``Q``, clause by clause,
as securebox's own SQL store does: ``(client = ? AND company IN (...) AND (theme IN (...) OR
document_id IN (...))) OR ...``. An empty filter is an empty queryset. Opening one document
asks securebox again (``box.entitlements.check``), on the state of that instant.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from securebox_auth import AccessDecision, Operation, Principal, VisibilityFilter

from .models import Document
from .securebox import portal_box

__all__ = ["may", "visible_documents", "visible_to"]


def visible_to(documents: QuerySet[Document], seen: VisibilityFilter) -> QuerySet[Document]:
    """``documents`` narrowed to those ``seen`` lets through."""
    where = Q(pk__in=[])  # matches nothing: an empty filter shows nothing
    for clause in seen.clauses:
        scope = Q(
            client_id=clause.client_id.value,
            company__in=sorted(s.value for s in clause.companies),
        )
        if clause.themes is not None:
            themes = Q(theme__in=sorted(t.name for t in clause.themes))
            scope &= themes | Q(document_id__in=sorted(clause.documents))
        where |= scope
    return documents.filter(where)


def visible_documents(
    principal: Principal, action: Operation = Operation.VIEW
) -> QuerySet[Document]:
    """The portal's documents ``principal`` may ``action`` now, newest first."""
    seen = portal_box().entitlements.visible(principal, action)
    return visible_to(Document.objects.all(), seen)


def may(principal: Principal, action: Operation, document: Document) -> AccessDecision:
    """securebox's decision on one document (``explain()`` says why)."""
    return portal_box().entitlements.check(principal, action, document.ref())
