"""Third-party invitations, the shell: declare (open the account when the third party has
none, invite through the library, store the link, send the e-mail and the code), revoke,
and the invitee's answer. Every rule (who may invite, on what, what an accepted invitation
grants, what an expired one is) is the library's
:class:`~securebox_auth.shell.entitlements.EntitlementService`; this module holds the link
and the messages.

A new third-party account is what the library says a third party is: a user of another
subscription. The server opens that subscription as the back office would
(``open_subscription``, the operator ``invitations``), its principal user being the invited
person; the one-time code it returns goes by SMS to the declared mobile number (the e-mail
carries the identifier and the link): the two never travel together, and no page shows
either. The first login then asks for a new code (the library's rule for one-time codes),
then a code by SMS or e-mail: the declared mobile and e-mail are registered as the account's
verified destinations by the inviter (docs/administration.md, "First access").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.invitations import INVITATION_LIFETIME
from securebox_auth.errors import AccountExists, MalformedInput, NotFound, NotPermitted
from securebox_auth.factors.code import OneTimeCode
from securebox_auth.identity import ClientId, Principal
from securebox_auth.shell.securebox import Securebox
from securebox_server.admin.changes import register_contacts
from securebox_server.admin.drafts import Declaration
from securebox_server.invitations.links import InvitationLinks, Link, new_token
from securebox_server.invitations.mail import code_sms, invitation_mail

__all__ = [
    "LINK_LIFETIME",
    "OPERATOR",
    "Invitations",
    "invitations_of",
]

#: The back-office identity that opens third parties' accounts (audit trail).
OPERATOR = Operator("invitations")
#: A link lives as long as the invitation it answers (the library's 14 days): it is no
#: credential by itself (only the invitee, logged in, can answer), and an accountant may
#: need days to act; after that the invitation is expired and a new one is sent.
LINK_LIFETIME = INVITATION_LIFETIME


@dataclass(frozen=True, slots=True)
class Invitations:
    box: Securebox
    links: InvitationLinks
    public_url: str

    def _open_account(self) -> tuple[Principal, OneTimeCode]:
        """Open a subscription for the third party: its principal user and one-time code
        (sent by :meth:`declare` once the invitation is made, never stored)."""
        for _ in range(5):
            client = ClientId(f"{secrets.randbelow(10**9):09d}")
            principal = Principal.parse(client.value, "01")
            try:
                return principal, self.box.entitlements.open_subscription(OPERATOR, principal)
            except AccountExists:
                continue
        raise NotPermitted("no free client identifier")  # pragma: no cover (1e9 of them)

    def declare(self, session_id: str, inviter: Principal, declared: Declaration) -> Link:
        """Invite the declared third party (the library checks the actor's rights and the
        step-up), store the link, then send the e-mail (and the new account's code by SMS).
        """
        email, sms = self.box.gateways.get("email"), self.box.gateways.get("sms")
        if email is None:
            raise MalformedInput("no e-mail channel to send the invitation")
        if declared.invitee is None and (sms is None or not declared.mobile):
            raise MalformedInput("no SMS channel: the third party needs an existing account")
        opened = None if declared.invitee is not None else self._open_account()
        invitee = opened[0] if opened is not None else declared.invitee
        if invitee is None:  # pragma: no cover (a declaration names one or the other)
            raise MalformedInput("no third party")
        invitation_id = self.box.entitlements.invite(session_id, invitee, declared.companies)
        sub = self.box.store.get_subscription(inviter.client_id)
        made = None if sub is None else sub.value.invitations.get(invitation_id)
        now = self.box.clock.now() if made is None else made.created_at
        expires = now + LINK_LIFETIME if made is None else made.expires_at
        link = Link(
            invitation_id,
            inviter.client_id,
            declared.siren,
            declared.name,
            declared.email,
            invitee,
            opened is not None,
            now,
            expires,
            None,
        )
        token = new_token()
        self.links.add(link, token)
        names = (
            []
            if sub is None
            else sorted(
                c.name for c in sub.value.companies.values() if c.siren in declared.companies
            )
        )
        mail = invitation_mail(
            to=declared.email,
            inviter=", ".join(names) or inviter.client_id.value,
            link=f"{self.public_url.rstrip('/')}/invitations/{token}",
            expires_at=link.expires_at,
            reference=invitation_id,
            new_account=None if opened is None else invitee,
        )
        if opened is not None:  # the inviter registers the contacts they declared
            register_contacts(
                self.box,
                inviter,
                invitee,
                mobile=declared.mobile,
                email=declared.email,
                tell=False,  # the invitation e-mail and the code's SMS reach both already
            )
        email.send(mail)
        if opened is not None and sms is not None and declared.mobile:
            code = code_sms(to=declared.mobile, code=opened[1].reveal(), reference=invitation_id)
            sms.send(code)
        return link

    def revoke(self, session_id: str, inviter: Principal, invitation_id: str) -> None:
        if self.links.get(inviter.client_id, invitation_id) is None:
            raise NotFound("no such invitation")
        self.box.entitlements.revoke_invitation(session_id, invitation_id)
        self.links.use(invitation_id, self.box.clock.now())

    def answer(self, session_id: str, link: Link, *, accept: bool, now: datetime) -> None:
        """The invitee's answer (the library checks it is theirs and still pending); the link
        is spent once the answer is recorded."""
        if not link.usable(now):
            raise NotPermitted("no such pending invitation")
        if accept:
            self.box.entitlements.accept_invitation(session_id, link.client_id, link.invitation_id)
        else:
            self.box.entitlements.decline_invitation(session_id, link.client_id, link.invitation_id)
        self.links.use(link.invitation_id, self.box.clock.now())


def invitations_of(request: Request) -> Invitations:
    """The app's :class:`Invitations` (``app.state.invitations``)."""
    found: Invitations = request.app.state.invitations
    return found
