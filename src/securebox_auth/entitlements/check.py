"""``check(actor, action, resource, subscription, now) -> AccessDecision``.

A pure function of the current entitlement state: a revoked right or invitation is refused
at the very next check, whatever a session remembers. Every decision can say why
(:meth:`AccessDecision.explain`), naming the rules that fired and the facts they used.

Rules (see ``docs/entitlements.md``):

* the principal user holds every right; other users hold the rights stored for them;
* administrative operations need an administrator-level role *and* the operation in the
  rights; an access manager may manage plain users only; only the principal user and
  administrators switch a subscription back to paper;
* every user may list the users of their subscription and edit their own account only;
* a third party reaches only the companies of an *accepted* invitation, for view and
  download, within the invitation's document scope;
* a company removed from the portfolio is out of reach for everybody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securebox_auth.accounts import Account, Role
from securebox_auth.entitlements.model import (
    ADMIN_OPERATIONS,
    BANKING_OPERATIONS,
    DOCUMENT_OPERATIONS,
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Subscription,
)
from securebox_auth.entitlements.resources import (
    CompanyRef,
    DocumentRef,
    Resource,
    SubscriptionRef,
    UserRef,
)
from securebox_auth.identity import Siren

__all__ = ["AccessDecision", "Fact", "check", "effective_rights"]

ADMIN_ROLES = frozenset({Role.PRINCIPAL_USER, Role.ADMINISTRATOR})


@dataclass(frozen=True, slots=True)
class Fact:
    """One rule that fired, with the facts it used."""

    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    action: Operation
    facts: tuple[Fact, ...]

    def __bool__(self) -> bool:
        return self.allowed

    def explain(self) -> str:
        verdict = "ALLOW" if self.allowed else "DENY"
        lines = [f"{verdict} {self.action.value}"]
        lines.extend(f"  - {f.rule}: {f.detail}" for f in self.facts)
        return "\n".join(lines)


def _deny(action: Operation, *facts: Fact) -> AccessDecision:
    return AccessDecision(False, action, facts)


def _allow(action: Operation, *facts: Fact) -> AccessDecision:
    return AccessDecision(True, action, facts)


def effective_rights(
    actor: Account, subscription: Subscription, now: datetime
) -> tuple[Rights, str]:
    """The rights ``actor`` holds in ``subscription`` now, and where they come from."""
    if actor.principal.client_id == subscription.client_id:
        if actor.role is Role.PRINCIPAL_USER:
            return Rights.everything(), "principal user"
        return subscription.rights_of(actor.principal), f"rights of the {actor.role.value}"
    invitations = subscription.active_invitations(actor.principal, now)
    if not invitations:
        return Rights(), "no accepted invitation"
    merged = invitations[0].rights()
    for inv in invitations[1:]:
        merged = _union(merged, inv.rights())
    ids = ", ".join(sorted(inv.id for inv in invitations))
    return merged, f"accepted invitation(s) {ids}"


def _union(a: Rights, b: Rights) -> Rights:
    total = a.documents.total or b.documents.total
    documents = (
        DocumentScope.all()
        if total
        else DocumentScope(
            themes=a.documents.themes | b.documents.themes,
            documents=a.documents.documents | b.documents.documents,
        )
    )
    companies = (
        CompanyScope.portfolio()
        if a.companies.everything or b.companies.everything
        else CompanyScope(chosen=a.companies.chosen | b.companies.chosen)
    )
    return Rights(companies, documents, a.operations | b.operations)


def check(
    actor: Account,
    action: Operation,
    resource: Resource,
    subscription: Subscription,
    now: datetime,
) -> AccessDecision:
    """May ``actor`` do ``action`` on ``resource``, which belongs to ``subscription``?"""
    if resource.client_id != subscription.client_id:
        return _deny(action, Fact("tenant", "the resource is not in this subscription"))
    if not actor.active:
        return _deny(action, Fact("account", "the account is not active"))
    own = actor.principal.client_id == subscription.client_id
    rights, source = effective_rights(actor, subscription, now)
    origin = Fact("rights", source)

    if action is Operation.LIST_USERS:
        if own and isinstance(resource, SubscriptionRef):
            return _allow(action, Fact("members", "every user may list the users"))
        return _deny(action, Fact("members", "only users of the subscription list its users"))

    if action is Operation.EDIT_OWN_ACCOUNT:
        if own and isinstance(resource, UserRef) and resource.principal == actor.principal:
            return _allow(action, Fact("own account", "a user edits their own account"))
        return _deny(action, Fact("own account", "only one's own account"))

    if action is Operation.SWITCH_TO_PAPER:
        if own and actor.role in ADMIN_ROLES and isinstance(resource, SubscriptionRef):
            return _allow(action, Fact("paper", f"{actor.role.value} may switch to paper"))
        return _deny(action, Fact("paper", "only an administrator may switch back to paper"))

    if action in ADMIN_OPERATIONS:
        return _check_admin(actor, action, resource, rights, own, origin)

    if action in DOCUMENT_OPERATIONS:
        if not isinstance(resource, DocumentRef):
            return _deny(action, Fact("resource", f"{action.value} applies to documents"))
        return _check_document(action, resource, subscription, rights, origin)

    if action in BANKING_OPERATIONS:
        if not own:
            return _deny(action, Fact("third party", "third parties do no banking operations"))
        if not isinstance(resource, CompanyRef):
            return _deny(action, Fact("resource", f"{action.value} applies to a company"))
        return _check_company(action, resource.company, subscription, rights, origin)

    return _deny(action, Fact("action", "unknown action"))  # pragma: no cover


def _check_admin(
    actor: Account,
    action: Operation,
    resource: Resource,
    rights: Rights,
    own: bool,
    origin: Fact,
) -> AccessDecision:
    if not own:
        return _deny(action, Fact("third party", "third parties administer nothing"))
    if action not in rights.operations:
        return _deny(action, origin, Fact("operation", f"{action.value} is not granted"))
    if isinstance(resource, UserRef) and resource.principal == actor.principal:
        return _deny(action, Fact("self", "nobody administers their own rights or account"))
    if actor.role in ADMIN_ROLES:
        if (
            isinstance(resource, UserRef)
            and resource.role is Role.PRINCIPAL_USER
            and actor.role is not Role.PRINCIPAL_USER
        ):
            return _deny(action, Fact("principal user", "administrators cannot act on them"))
        return _allow(action, origin, Fact("role", f"{actor.role.value} administers"))
    if actor.role is Role.ACCESS_MANAGER and action is not Operation.MANAGE_COMPANIES:
        if isinstance(resource, UserRef) and resource.role is Role.USER:
            return _allow(action, origin, Fact("role", "an access manager manages plain users"))
        return _deny(action, Fact("role", "an access manager manages plain users only"))
    return _deny(action, Fact("role", f"a {actor.role.value} does not administer"))


def _check_company(
    action: Operation,
    company: Siren,
    subscription: Subscription,
    rights: Rights,
    origin: Fact,
) -> AccessDecision:
    if company not in subscription.companies:
        return _deny(action, Fact("portfolio", f"company {company} is not in the portfolio"))
    if action not in rights.operations:
        return _deny(action, origin, Fact("operation", f"{action.value} is not granted"))
    if not rights.companies.covers(company):
        return _deny(action, origin, Fact("company", f"no right on company {company}"))
    scope = "whole portfolio" if rights.companies.everything else f"company {company}"
    return _allow(action, origin, Fact("company", scope), Fact("operation", "granted"))


def _check_document(
    action: Operation,
    doc: DocumentRef,
    subscription: Subscription,
    rights: Rights,
    origin: Fact,
) -> AccessDecision:
    decision = _check_company(action, doc.company, subscription, rights, origin)
    if not decision.allowed:
        return decision
    if not rights.documents.covers(doc.theme, doc.document_id):
        return _deny(
            action,
            origin,
            Fact("documents", f"partial access excludes theme {doc.theme} and this document"),
        )
    scope = (
        "total access"
        if rights.documents.total
        else (f"theme {doc.theme}" if doc.theme in rights.documents.themes else "chosen document")
    )
    return _allow(action, *decision.facts, Fact("documents", scope))
