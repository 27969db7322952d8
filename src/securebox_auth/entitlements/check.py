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
  download, within the invitation's document scope, and only an invitation made after their
  account was created (not one made for a previous holder of their user number);
* download and share act on a document one may view: without view they are refused too;
* a company removed from the portfolio is out of reach for everybody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple

from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import (
    ADMIN_OPERATIONS,
    BANKING_OPERATIONS,
    DOCUMENT_OPERATIONS,
    NO_RIGHTS,
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

__all__ = ["AccessDecision", "Fact", "check", "check_user", "effective_rights"]

ADMIN_ROLES = frozenset({Role.PRINCIPAL_USER, Role.ADMINISTRATOR})


class Fact(NamedTuple):
    """One rule that fired, with the facts it used."""

    rule: str
    detail: str


#: A fact before formatting: (rule, template, arguments). Formatting waits for explain(),
#: so the hot path of a check builds no strings.
_Raw = tuple[str, str, tuple[object, ...]]


def _f(rule: str, template: str, *args: object) -> _Raw:
    return (rule, template, args)


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    action: Operation
    reasons: tuple[_Raw, ...]

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def facts(self) -> tuple[Fact, ...]:
        return tuple(Fact(rule, template.format(*args)) for rule, template, args in self.reasons)

    def explain(self) -> str:
        verdict = "ALLOW" if self.allowed else "DENY"
        lines = [f"{verdict} {self.action.value}"]
        lines.extend(f"  - {f.rule}: {f.detail}" for f in self.facts)
        return "\n".join(lines)


def _deny(action: Operation, *reasons: _Raw) -> AccessDecision:
    return AccessDecision(False, action, reasons)


def _allow(action: Operation, *reasons: _Raw) -> AccessDecision:
    return AccessDecision(True, action, reasons)


_EVERYTHING: Final = Rights.everything()


def _rights(actor: Account, subscription: Subscription, now: datetime) -> tuple[Rights, _Raw]:
    if actor.principal.client_id == subscription.client_id:
        if actor.role is Role.PRINCIPAL_USER:
            return _EVERYTHING, _f("rights", "principal user")
        return subscription.rights_of(actor.principal), _f("rights", "rights of the {}", actor.role)
    # An invitation names the person who held the invitee's principal when it was made: one
    # made before this account was created was for a previous holder of the user number.
    invitations = tuple(
        inv
        for inv in subscription.active_invitations(actor.principal, now)
        if inv.created_at >= actor.created_at
    )
    if not invitations:
        return NO_RIGHTS, _f("rights", "no accepted invitation")
    merged = invitations[0].rights()
    for inv in invitations[1:]:
        merged = _union(merged, inv.rights())
    ids = (
        tuple(sorted(inv.id for inv in invitations))
        if len(invitations) > 1
        else (invitations[0].id,)
    )
    return merged, _f("rights", "accepted invitation(s) {}", ", ".join(ids))


def effective_rights(
    actor: Account, subscription: Subscription, now: datetime
) -> tuple[Rights, str]:
    """The rights ``actor`` holds in ``subscription`` now, and where they come from."""
    rights, (_, template, args) = _rights(actor, subscription, now)
    return rights, template.format(*args)


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
        return _deny(action, _f("tenant", "the resource is not in this subscription"))
    if not actor.active:
        return _deny(action, _f("account", "the account is not active"))
    own = actor.principal.client_id == subscription.client_id
    rights, origin = _rights(actor, subscription, now)

    if action is Operation.LIST_USERS:
        if own and isinstance(resource, SubscriptionRef):
            return _allow(action, _f("members", "every user may list the users"))
        return _deny(action, _f("members", "only users of the subscription list its users"))

    if action is Operation.EDIT_OWN_ACCOUNT:
        if own and isinstance(resource, UserRef) and resource.principal == actor.principal:
            return _allow(action, _f("own account", "a user edits their own account"))
        return _deny(action, _f("own account", "only one's own account"))

    if action is Operation.SWITCH_TO_PAPER:
        if own and actor.role in ADMIN_ROLES and isinstance(resource, SubscriptionRef):
            return _allow(action, _f("paper", "{} may switch to paper", actor.role))
        return _deny(action, _f("paper", "only an administrator may switch back to paper"))

    if action in ADMIN_OPERATIONS:
        return _check_admin(actor, action, resource, rights, own, origin)

    if action in DOCUMENT_OPERATIONS:
        if not isinstance(resource, DocumentRef):
            return _deny(action, _f("resource", "{} applies to documents", action))
        return _check_document(action, resource, subscription, rights, origin)

    if action in BANKING_OPERATIONS:
        if not own:
            return _deny(action, _f("third party", "third parties do no banking operations"))
        if not isinstance(resource, CompanyRef):
            return _deny(action, _f("resource", "{} applies to a company", action))
        return _check_company(action, resource.company, subscription, rights, origin)

    return _deny(action, _f("action", "unknown action"))  # pragma: no cover


def check_user(
    actor: Account,
    action: Operation,
    target: Account,
    subscription: Subscription,
    now: datetime,
) -> AccessDecision:
    """May ``actor`` do ``action`` on the user whose stored account is ``target``?

    The target's role comes from their account, never from the caller; an administrative
    operation also needs the target to hold no right the actor lacks (acting on a more
    privileged user would be an escalation). The rule of every transition of
    :mod:`~securebox_auth.entitlements.admin` that acts on a user."""
    decision = check(actor, action, UserRef(target.principal, target.role), subscription, now)
    if not decision.allowed or action not in ADMIN_OPERATIONS:
        return decision
    held, _ = _rights(actor, subscription, now)
    if not subscription.rights_of(target.principal).within(held):
        return _deny(action, _f("target", "{} holds rights the actor lacks", target.principal))
    return decision


def _check_admin(
    actor: Account,
    action: Operation,
    resource: Resource,
    rights: Rights,
    own: bool,
    origin: _Raw,
) -> AccessDecision:
    if not own:
        return _deny(action, _f("third party", "third parties administer nothing"))
    if action not in rights.operations:
        return _deny(action, origin, _f("operation", "{} is not granted", action))
    if isinstance(resource, UserRef) and resource.principal == actor.principal:
        return _deny(action, _f("self", "nobody administers their own rights or account"))
    if actor.role in ADMIN_ROLES:
        if (
            isinstance(resource, UserRef)
            and resource.role is Role.PRINCIPAL_USER
            and actor.role is not Role.PRINCIPAL_USER
        ):
            return _deny(action, _f("principal user", "administrators cannot act on them"))
        return _allow(action, origin, _f("role", "{} administers", actor.role))
    if actor.role is Role.ACCESS_MANAGER and action is not Operation.MANAGE_COMPANIES:
        if isinstance(resource, UserRef) and resource.role is Role.USER:
            return _allow(action, origin, _f("role", "an access manager manages plain users"))
        return _deny(action, _f("role", "an access manager manages plain users only"))
    return _deny(action, _f("role", "a {} does not administer", actor.role))


def _check_company(
    action: Operation,
    company: Siren,
    subscription: Subscription,
    rights: Rights,
    origin: _Raw,
) -> AccessDecision:
    if company not in subscription.companies:
        return _deny(action, _f("portfolio", "company {} is not in the portfolio", company))
    if action not in rights.operations:
        return _deny(action, origin, _f("operation", "{} is not granted", action))
    if not rights.companies.covers(company):
        return _deny(action, origin, _f("company", "no right on company {}", company))
    if rights.companies.everything:
        return _allow(action, origin, _f("company", "whole portfolio"), _f("operation", "granted"))
    return _allow(action, origin, _f("company", "company {}", company), _f("operation", "granted"))


def _check_document(
    action: Operation,
    doc: DocumentRef,
    subscription: Subscription,
    rights: Rights,
    origin: _Raw,
) -> AccessDecision:
    decision = _check_company(action, doc.company, subscription, rights, origin)
    if not decision.allowed:
        return decision
    if not rights.holds(action):
        return _deny(action, origin, _f("operation", "{} needs view, which is not granted", action))
    if not rights.documents.covers(doc.theme, doc.document_id):
        return _deny(
            action,
            origin,
            _f("documents", "partial access excludes theme {} and this document", doc.theme),
        )
    if rights.documents.total:
        scope = _f("documents", "total access")
    elif doc.theme in rights.documents.themes:
        scope = _f("documents", "theme {}", doc.theme)
    else:
        scope = _f("documents", "chosen document")
    return AccessDecision(True, action, (*decision.reasons, scope))
