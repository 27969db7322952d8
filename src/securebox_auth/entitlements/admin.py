"""Administrative transitions of a subscription: pure functions with their rules.

Each function takes the acting account, the current state and the request, checks the
rules (through :func:`~securebox_auth.entitlements.check.check` for "may this actor do this
at all", plus the anti-escalation rules below), and returns an :class:`AdminChange`: the new
subscription, the accounts to write, and the audit events (who changed what for whom,
before and after). Refusals raise :class:`~securebox_auth.errors.NotPermitted` and change
nothing.

Anti-escalation rules:

* nobody grants a right they do not hold, nor manages a user who holds rights they lack;
* nobody changes their own rights or role, or removes themselves;
* nobody but the bank's back office makes a principal user; an administrator cannot
  remove or demote the principal user; the last administrator-level user cannot go;
* a third party only ever gets view/download on companies of the portfolio, by an
  invitation that they must accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from securebox_auth.accounts import Account, AccountStatus, Role
from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.entitlements.check import ADMIN_ROLES, check, effective_rights
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    Company,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.entitlements.resources import SubscriptionRef, UserRef
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal, Siren

__all__ = [
    "AdminChange",
    "accept_invitation",
    "add_company",
    "add_theme",
    "add_user",
    "authorise_user_management",
    "decline_invitation",
    "describe_rights",
    "invite_third_party",
    "remove_company",
    "remove_user",
    "revoke_invitation",
    "set_rights",
    "set_role",
    "switch_delivery",
]

INVITATION_LIFETIME = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class AdminChange:
    subscription: Subscription
    accounts: tuple[Account, ...]
    events: tuple[AuditEvent, ...]


def describe_rights(rights: Rights) -> str:
    """A short, stable text form of rights for audit records."""
    companies = (
        "portfolio"
        if rights.companies.everything
        else ",".join(sorted(s.value for s in rights.companies.chosen)) or "-"
    )
    if rights.documents.total:
        documents = "total"
    else:
        parts = [f"theme:{t}" for t in sorted(rights.documents.themes)]
        parts += [f"doc:{d}" for d in sorted(rights.documents.documents)]
        documents = ",".join(parts) or "-"
    operations = ",".join(sorted(op.value for op in rights.operations)) or "-"
    return f"companies={companies};documents={documents};operations={operations}"


def _require(decision_ok: bool, message: str) -> None:
    if not decision_ok:
        raise NotPermitted(message)


def _event(
    now: datetime,
    action: str,
    actor: Account,
    subject: str,
    details: dict[str, str],
) -> AuditEvent:
    return AuditEvent.make(
        now, action, actor=actor.principal.key, subject=subject, outcome="success", details=details
    )


def _may(
    actor: Account,
    action: Operation,
    target: UserRef | SubscriptionRef,
    sub: Subscription,
    now: datetime,
) -> None:
    decision = check(actor, action, target, sub, now)
    _require(decision.allowed, f"not permitted: {decision.explain()}")


def _admin_level_count(accounts: Iterable[Account], excluding: Principal) -> int:
    return sum(
        1 for a in accounts if a.active and a.role in ADMIN_ROLES and a.principal != excluding
    )


def authorise_user_management(
    actor: Account, sub: Subscription, target: Account, *, now: datetime
) -> None:
    """May ``actor`` manage ``target`` (remove, change rights, regenerate a code, unblock)?

    Raises :class:`NotPermitted` unless the entitlement check allows ``manage_users`` on
    the target and the target holds no right the actor lacks (managing a more privileged
    user, for instance learning their new code, would be an escalation).
    """
    now = require_aware(now)
    _may(actor, Operation.MANAGE_USERS, UserRef(target.principal, target.role), sub, now)
    held, _ = effective_rights(actor, sub, now)
    _require(sub.rights_of(target.principal).within(held), "this user holds rights you lack")


def add_company(
    actor: Account,
    sub: Subscription,
    siren: Siren,
    name: str,
    *,
    proof_valid: bool,
    now: datetime,
) -> AdminChange:
    """Add a company to the portfolio. ``proof_valid`` is the answer of the company-proof
    check (the company-specific secret found on mail), done by the shell."""
    now = require_aware(now)
    _may(actor, Operation.MANAGE_COMPANIES, SubscriptionRef(sub.client_id), sub, now)
    _require(proof_valid, "the company proof does not match")
    if siren in sub.companies:
        raise MalformedInput("this company is already in the portfolio")
    if not name.strip() or len(name) > 200:
        raise MalformedInput("a company name is 1 to 200 characters")
    new = sub.with_company(Company(siren, name.strip(), now))
    event = _event(now, "company.add", actor, sub.client_id.value, {"siren": siren.value})
    return AdminChange(new, (), (event,))


def remove_company(
    actor: Account, sub: Subscription, siren: Siren, *, now: datetime
) -> AdminChange:
    now = require_aware(now)
    _may(actor, Operation.MANAGE_COMPANIES, SubscriptionRef(sub.client_id), sub, now)
    if siren not in sub.companies:
        raise MalformedInput("this company is not in the portfolio")
    new = sub.without_company(siren)
    event = _event(now, "company.remove", actor, sub.client_id.value, {"siren": siren.value})
    return AdminChange(new, (), (event,))


def add_theme(actor: Account, sub: Subscription, theme: Theme, *, now: datetime) -> AdminChange:
    now = require_aware(now)
    _may(actor, Operation.MANAGE_COMPANIES, SubscriptionRef(sub.client_id), sub, now)
    new = replace(sub, themes=sub.themes | {theme})
    event = _event(now, "theme.add", actor, sub.client_id.value, {"theme": theme.name})
    return AdminChange(new, (), (event,))


def _grantable_by(actor: Account, sub: Subscription, rights: Rights, now: datetime) -> None:
    held, _ = effective_rights(actor, sub, now)
    _require(rights.within(held), "nobody grants a right they do not hold")
    unknown = rights.companies.chosen - set(sub.companies)
    if unknown:
        raise MalformedInput("rights name companies that are not in the portfolio")
    unknown_themes = rights.documents.themes - sub.themes
    if unknown_themes:
        raise MalformedInput("rights name themes the subscription does not have")


def add_user(
    actor: Account,
    sub: Subscription,
    principal: Principal,
    role: Role,
    rights: Rights,
    *,
    existing: Account | None,
    now: datetime,
) -> AdminChange:
    """Create a user of the subscription with a role and rights. ``existing`` is the
    account already stored under ``principal`` (refused when active)."""
    now = require_aware(now)
    if principal.client_id != sub.client_id:
        raise MalformedInput("a user is created inside the actor's subscription")
    if role in (Role.PRINCIPAL_USER, Role.THIRD_PARTY):
        raise NotPermitted(f"a {role.value} is not created this way")
    if existing is not None and existing.active:
        raise NotPermitted("this user already exists")
    _may(actor, Operation.MANAGE_USERS, UserRef(principal, role), sub, now)
    _grantable_by(actor, sub, rights, now)
    account = Account(principal=principal, role=role, created_at=now)
    new = sub.with_rights(principal, rights)
    event = _event(
        now,
        "user.add",
        actor,
        principal.key,
        {"role": role.value, "rights_after": describe_rights(rights)},
    )
    return AdminChange(new, (account,), (event,))


def remove_user(
    actor: Account,
    sub: Subscription,
    target: Account,
    *,
    others: Iterable[Account],
    now: datetime,
) -> AdminChange:
    """Disable a user and drop their rights. ``others`` are the subscription's accounts,
    used to keep at least one administrator-level user."""
    now = require_aware(now)
    authorise_user_management(actor, sub, target, now=now)
    _require(target.role is not Role.PRINCIPAL_USER, "the principal user cannot be removed")
    if target.role in ADMIN_ROLES:
        _require(
            _admin_level_count(others, target.principal) >= 1,
            "the last administrator cannot be removed",
        )
    before = describe_rights(sub.rights_of(target.principal))
    new = sub.without_user(target.principal)
    disabled = replace(target, status=AccountStatus.DISABLED)
    event = _event(
        now,
        "user.remove",
        actor,
        target.principal.key,
        {"role": target.role.value, "rights_before": before},
    )
    return AdminChange(new, (disabled,), (event,))


def set_role(
    actor: Account,
    sub: Subscription,
    target: Account,
    role: Role,
    *,
    others: Iterable[Account],
    now: datetime,
) -> AdminChange:
    now = require_aware(now)
    _may(actor, Operation.MANAGE_RIGHTS, UserRef(target.principal, target.role), sub, now)
    _require(actor.role in ADMIN_ROLES, "only administrators change roles")
    _require(target.role is not Role.PRINCIPAL_USER, "the principal user cannot be demoted")
    _require(role not in (Role.PRINCIPAL_USER, Role.THIRD_PARTY), f"cannot make a {role.value}")
    if target.role in ADMIN_ROLES and role not in ADMIN_ROLES:
        _require(
            _admin_level_count(others, target.principal) >= 1,
            "the last administrator cannot be demoted",
        )
    changed = replace(target, role=role)
    event = _event(
        now,
        "user.role",
        actor,
        target.principal.key,
        {"role_before": target.role.value, "role_after": role.value},
    )
    return AdminChange(sub, (changed,), (event,))


def set_rights(
    actor: Account, sub: Subscription, target: Account, rights: Rights, *, now: datetime
) -> AdminChange:
    now = require_aware(now)
    _may(actor, Operation.MANAGE_RIGHTS, UserRef(target.principal, target.role), sub, now)
    _require(target.role is not Role.PRINCIPAL_USER, "the principal user holds every right")
    held, _ = effective_rights(actor, sub, now)
    before = sub.rights_of(target.principal)
    _require(before.within(held), "this user holds rights you lack")
    _grantable_by(actor, sub, rights, now)
    new = sub.with_rights(target.principal, rights)
    event = _event(
        now,
        "user.rights",
        actor,
        target.principal.key,
        {"rights_before": describe_rights(before), "rights_after": describe_rights(rights)},
    )
    return AdminChange(new, (), (event,))


def invite_third_party(
    actor: Account,
    sub: Subscription,
    invitee: Principal,
    companies: frozenset[Siren],
    *,
    invitation_id: str,
    documents: DocumentScope | None = None,
    operations: frozenset[Operation] = THIRD_PARTY_OPERATIONS,
    now: datetime,
    lifetime: timedelta = INVITATION_LIFETIME,
) -> AdminChange:
    """Invite a user of another subscription (an accountant) on some companies. The
    invitation is pending until the invitee accepts; ``invitation_id`` is a random
    identifier made by the shell."""
    now = require_aware(now)
    if invitee.client_id == sub.client_id:
        raise MalformedInput("a third party belongs to another subscription")
    if not timedelta(hours=1) <= lifetime <= timedelta(days=90):
        raise MalformedInput("an invitation lives 1 hour to 90 days")
    if invitation_id in sub.invitations:
        raise MalformedInput("this invitation id is taken")
    _may(actor, Operation.MANAGE_USERS, SubscriptionRef(sub.client_id), sub, now)
    invitation = Invitation(
        id=invitation_id,
        invitee=invitee,
        companies=companies,
        documents=documents or DocumentScope.all(),
        operations=operations,
        invited_by=actor.principal,
        created_at=now,
        expires_at=now + lifetime,
    )
    _grantable_by(actor, sub, invitation.rights(), now)
    event = _event(
        now,
        "invitation.create",
        actor,
        invitee.key,
        {"invitation": invitation_id, "rights_after": describe_rights(invitation.rights())},
    )
    return AdminChange(sub.with_invitation(invitation), (), (event,))


def _decide_invitation(
    invitee: Account,
    sub: Subscription,
    invitation_id: str,
    status: InvitationStatus,
    now: datetime,
) -> AdminChange:
    now = require_aware(now)
    invitation = sub.invitations.get(invitation_id)
    # The same refusal whether the invitation does not exist or is someone else's.
    if invitation is None or invitation.invitee != invitee.principal or not invitee.active:
        raise NotPermitted("no such pending invitation")
    if invitation.status_at(now) is not InvitationStatus.PENDING:
        raise NotPermitted("no such pending invitation")
    decided = replace(invitation, status=status, decided_at=now)
    event = AuditEvent.make(
        now,
        f"invitation.{status.value}",
        actor=invitee.principal.key,
        subject=sub.client_id.value,
        outcome="success",
        details={"invitation": invitation_id},
    )
    return AdminChange(sub.with_invitation(decided), (), (event,))


def accept_invitation(
    invitee: Account, sub: Subscription, invitation_id: str, *, now: datetime
) -> AdminChange:
    return _decide_invitation(invitee, sub, invitation_id, InvitationStatus.ACCEPTED, now)


def decline_invitation(
    invitee: Account, sub: Subscription, invitation_id: str, *, now: datetime
) -> AdminChange:
    return _decide_invitation(invitee, sub, invitation_id, InvitationStatus.DECLINED, now)


def revoke_invitation(
    actor: Account, sub: Subscription, invitation_id: str, *, now: datetime
) -> AdminChange:
    now = require_aware(now)
    invitation = sub.invitations.get(invitation_id)
    if invitation is None:
        raise MalformedInput("no such invitation")
    _may(actor, Operation.MANAGE_USERS, SubscriptionRef(sub.client_id), sub, now)
    if invitation.status_at(now) in (InvitationStatus.REVOKED, InvitationStatus.DECLINED):
        return AdminChange(sub, (), ())
    revoked = replace(invitation, status=InvitationStatus.REVOKED, decided_at=now)
    event = _event(
        now,
        "invitation.revoke",
        actor,
        invitation.invitee.key,
        {"invitation": invitation_id, "rights_before": describe_rights(invitation.rights())},
    )
    return AdminChange(sub.with_invitation(revoked), (), (event,))


def switch_delivery(
    actor: Account, sub: Subscription, *, digital: bool, now: datetime
) -> AdminChange:
    """Opt in to digital delivery, or go back to paper (administrators only)."""
    now = require_aware(now)
    _may(actor, Operation.SWITCH_TO_PAPER, SubscriptionRef(sub.client_id), sub, now)
    new = replace(sub, digital=digital)
    event = _event(
        now,
        "subscription.delivery",
        actor,
        sub.client_id.value,
        {
            "before": "digital" if sub.digital else "paper",
            "after": "digital" if digital else "paper",
        },
    )
    return AdminChange(new, (), (event,))
