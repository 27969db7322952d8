"""Invitations of third parties: create, accept, decline, revoke (pure transitions).

An invitation names one person: the user of another subscription who holds the invitee's
principal when it is made. When that user is removed, :func:`revoke_invitations_of` revokes
every invitation naming them (the service applies it to every subscription that invited them,
in the commit that removes the user), so a new user who later gets the same number inherits
nothing; and :func:`~securebox_auth.entitlements.check.check` ignores any invitation made
before the invitee's account was created.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.entitlements._common import (
    AdminChange,
    _event,
    _grantable_by,
    _may,
    describe_rights,
)
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Subscription,
)
from securebox_auth.entitlements.resources import SubscriptionRef
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal, Siren

__all__ = [
    "INVITATION_LIFETIME",
    "accept_invitation",
    "decline_invitation",
    "invite_third_party",
    "revoke_invitation",
    "revoke_invitations_of",
]

INVITATION_LIFETIME = timedelta(days=14)


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
    if (
        invitation is None
        or invitation.invitee != invitee.principal
        or not invitee.active
        or invitation.created_at < invitee.created_at  # made for a previous holder
    ):
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


def revoke_invitations_of(
    sub: Subscription, invitee: Principal, *, actor: str, now: datetime
) -> tuple[Subscription, tuple[AuditEvent, ...]]:
    """Revoke every invitation of ``sub`` naming ``invitee`` that still grants or may grant
    something (pending or accepted): the invitee's account is being removed. ``actor`` is
    the key of whoever removes them. Returns ``sub`` itself when nothing changes."""
    now = require_aware(now)
    events: list[AuditEvent] = []
    for invitation in sorted(sub.invitations.values(), key=lambda i: i.id):
        if invitation.invitee != invitee or invitation.status not in (
            InvitationStatus.PENDING,
            InvitationStatus.ACCEPTED,
        ):
            continue
        sub = sub.with_invitation(
            replace(invitation, status=InvitationStatus.REVOKED, decided_at=now)
        )
        events.append(
            AuditEvent.make(
                now,
                "invitation.revoke",
                actor=actor,
                subject=invitee.key,
                outcome="success",
                details={
                    "invitation": invitation.id,
                    "subscription": sub.client_id.value,
                    "reason": "invitee_removed",
                    "rights_before": describe_rights(invitation.rights()),
                },
            )
        )
    return sub, tuple(events)
