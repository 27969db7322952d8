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
from dataclasses import replace
from datetime import datetime

from securebox_auth.clock import require_aware
from securebox_auth.entitlements._common import (
    AdminChange,
    _event,
    _grantable_by,
    _may,
    _require,
    describe_rights,
)
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.entitlements.check import ADMIN_ROLES, check_user
from securebox_auth.entitlements.invitations import (
    INVITATION_LIFETIME,
    accept_invitation,
    decline_invitation,
    invite_third_party,
    revoke_invitation,
    revoke_invitations_of,
)
from securebox_auth.entitlements.model import (
    Company,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.entitlements.resources import SubscriptionRef, UserRef
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal, Siren

__all__ = [
    "INVITATION_LIFETIME",
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
    "revoke_invitations_of",
    "set_rights",
    "set_role",
    "switch_delivery",
]


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
    _authorise_on_user(actor, Operation.MANAGE_USERS, sub, target, now)


def _authorise_on_user(
    actor: Account, action: Operation, sub: Subscription, target: Account, now: datetime
) -> None:
    """``action`` on ``target`` passes the check, and the target holds no right the actor
    lacks: the rule of every transition that acts on a user (remove, rights, role, code)."""
    decision = check_user(actor, action, target, sub, now)
    if not decision.allowed:
        lacking = any(rule == "target" for rule, _, _ in decision.reasons)
        raise NotPermitted(
            "this user holds rights you lack" if lacking else f"not permitted: {decision.explain()}"
        )


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
    """Change ``target``'s role. Like every change made to a user, refused when the target
    holds a right the actor lacks: promoting them would hand over that right with an
    administrator's role, and demoting them would be a limited administrator acting on a
    more privileged one."""
    now = require_aware(now)
    _authorise_on_user(actor, Operation.MANAGE_RIGHTS, sub, target, now)
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
    _authorise_on_user(actor, Operation.MANAGE_RIGHTS, sub, target, now)
    _require(target.role is not Role.PRINCIPAL_USER, "the principal user holds every right")
    before = sub.rights_of(target.principal)
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
