"""The administrative changes of users, as step-up drafts: checked before the step-up by the
library's pure rules (:mod:`securebox_auth.entitlements.admin`, so that a change the rules
refuse is refused at once, without asking for a proof), and applied after it by the
library's :class:`~securebox_auth.shell.entitlements.EntitlementService`, which decides
again on the state it changes (the step-up only proves who asks).

A new confidential code (a new user's, a regenerated one) goes from the library straight
to :class:`~.codes.CodeCourier`: :func:`apply_order` returns only the channel it went to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from securebox_auth.entitlements import admin
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.delegation import Delegated, authorise_delegated
from securebox_auth.entitlements.model import Operation
from securebox_auth.entitlements.resources import UserRef
from securebox_auth.errors import NotPermitted
from securebox_auth.factors.code import OneTimeCode
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.oob_issue import OobMessage
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import DeliveryFailed
from securebox_auth.shell.securebox import Securebox
from securebox_server.admin.codes import CodeChannel, CodeCourier, Undelivered
from securebox_server.admin.forms import rights_from_json, rights_json
from securebox_server.admin.profiles import Profile, ProfileBook, put_profile
from securebox_server.admin.removal import forget_user
from securebox_server.stepup.requests import Draft, Kind

__all__ = [
    "ADMIN_KINDS",
    "Admin",
    "add_draft",
    "apply_order",
    "code_draft",
    "delivery_draft",
    "edit_draft",
    "may_add",
    "precheck",
    "register_contacts",
    "remove_draft",
    "unblock_draft",
]

ADMIN_KINDS: Final = frozenset(
    {
        Kind.USER_ADD,
        Kind.USER_EDIT,
        Kind.USER_REMOVE,
        Kind.CODE_REGENERATE,
        Kind.UNBLOCK,
        Kind.DELIVERY,
    }
)


@dataclass(frozen=True, slots=True)
class Admin:
    """What the administration pages hold: the profiles and the code courier."""

    profiles: ProfileBook
    courier: CodeCourier


# -- drafts ------------------------------------------------------------------------------


def add_draft(
    user: Principal, role: Role, rights: Any, profile: Profile, channel: CodeChannel
) -> Draft:
    details = {"user": user.key, "role": role.value, "rights": rights_json(rights)}
    return Draft(Kind.USER_ADD, details | {"profile": profile.as_dict(), "channel": channel})


def edit_draft(user: Principal, profile: Profile, role: Role | None, rights: Any) -> Draft:
    """``role`` and ``rights`` are ``None`` when only the profile changes (one's own)."""
    details: dict[str, Any] = {"user": user.key, "profile": profile.as_dict()}
    if role is not None:
        details |= {"role": role.value, "rights": rights_json(rights)}
    return Draft(Kind.USER_EDIT, details)


def remove_draft(user: Principal) -> Draft:
    return Draft(Kind.USER_REMOVE, {"user": user.key})


def code_draft(user: Principal, channel: CodeChannel) -> Draft:
    return Draft(Kind.CODE_REGENERATE, {"user": user.key, "channel": channel.value})


def unblock_draft(user: Principal) -> Draft:
    return Draft(Kind.UNBLOCK, {"user": user.key})


def delivery_draft(*, digital: bool) -> Draft:
    return Draft(Kind.DELIVERY, {"digital": digital})


# -- the rules, before the step-up ---------------------------------------------------------


def _state(box: Securebox, actor: Principal) -> tuple[Account, Any]:
    account = box.store.get_account(actor)
    sub = box.store.get_subscription(actor.client_id)
    if account is None or sub is None or not account.value.active:
        raise NotPermitted("no active account")
    return account.value, sub.value


def _target(box: Securebox, actor: Principal, key: str) -> Account:
    user = Principal.from_key(key)
    found = box.store.get_account(user) if user.client_id == actor.client_id else None
    if found is None or not found.value.active:
        raise NotPermitted("no such user in this subscription")
    return found.value


def _own_edit(box: Securebox, actor: Principal) -> None:
    if not box.entitlements.check(actor, Operation.EDIT_OWN_ACCOUNT, actor):
        raise NotPermitted("not permitted")


def may_add(box: Securebox, actor: Principal) -> bool:
    """Would the library let ``actor`` add a plain user (``manage_users`` on a new user of
    the subscription)? For the pages deciding what to offer; the change decides again."""
    try:
        acting, sub = _state(box, actor)
    except NotPermitted:
        return False
    other = Principal.parse(actor.client_id.value, "1" if actor.user_number.value == "0" else "0")
    ref = UserRef(other, Role.USER)
    return check(acting, Operation.MANAGE_USERS, ref, sub, box.clock.now()).allowed


def precheck(box: Securebox, actor: Principal, draft: Draft) -> None:
    """Raise :class:`NotPermitted` (or another library error) when the library's rules
    refuse ``draft`` for ``actor`` on the current state."""
    acting, sub = _state(box, actor)
    now = box.clock.now()
    details = draft.details
    delegation = box.entitlements.policies.for_subscription(actor.client_id).delegation
    others = box.store.accounts_of(actor.client_id)
    if draft.kind is Kind.USER_ADD:
        user = Principal.from_key(str(details["user"]))
        existing = box.store.get_account(user)
        role, rights = Role(str(details["role"])), rights_from_json(details["rights"])
        found = existing.value if existing else None
        admin.add_user(acting, sub, user, role, rights, existing=found, now=now)
    elif draft.kind is Kind.DELIVERY:
        admin.switch_delivery(acting, sub, digital=bool(details["digital"]), now=now)
    elif draft.kind is Kind.USER_EDIT and str(details["user"]) == actor.key:
        if "role" in details:
            raise NotPermitted("nobody changes their own role or rights")
        _own_edit(box, actor)
    else:
        target = _target(box, actor, str(details["user"]))
        if draft.kind is Kind.USER_REMOVE:
            admin.remove_user(acting, sub, target, others=others, now=now)
        elif draft.kind in (Kind.CODE_REGENERATE, Kind.UNBLOCK):
            authorise_delegated(acting, Delegated.CODES, delegation)
            admin.authorise_user_management(acting, sub, target, now=now)
        elif "role" in details:
            authorise_delegated(acting, Delegated.RIGHTS, delegation)
            admin.set_rights(acting, sub, target, rights_from_json(details["rights"]), now=now)
            if Role(str(details["role"])) is not target.role:
                admin.set_role(
                    acting, sub, target, Role(str(details["role"])), others=others, now=now
                )
        else:
            admin.authorise_user_management(acting, sub, target, now=now)


# -- the change, after the step-up -----------------------------------------------------------


def _address(box: Securebox, user: Principal, channel: CodeChannel) -> str | None:
    """A regenerated code goes to a verified destination of the user only."""
    if channel is CodeChannel.LETTER:
        return None
    wanted = Channel(channel.value)
    found = [d.destination for d in box.factors.oob.destinations(user) if d.channel is wanted]
    return found[0] if found else None


REGISTERED: Final = "Your contact details were registered"


def _registered(user: Principal) -> str:
    return (
        f"Client identifier {user.client_id.value}, user number {user.user_number.value}: "
        "this address was registered for your account by an administrator of your "
        "subscription; codes for logging in may be sent here. "
        "If you did not expect this message, call your bank.\n"
    )


def register_contacts(
    box: Securebox,
    actor: Principal,
    user: Principal,
    *,
    mobile: str | None,
    email: str | None,
    tell: bool = True,
) -> None:
    """The new user's mobile and e-mail, as the administrator typed them, registered as the
    user's verified destinations (the bank's registration channel, docs/administration.md
    "First access"): the first login is completed by a code sent there. Only at creation:
    a later change goes through the user's own profile, with a code sent to the new address.
    ``tell``: a notice goes to each (unless the caller's own messages reach both already)."""
    for channel, destination in ((Channel.SMS, mobile), (Channel.EMAIL, email)):
        if not destination:
            continue
        box.register_destination(actor, user, channel=channel, destination=destination)
        gateway = box.gateways.get(channel.value)
        notice = OobMessage(channel, destination, REGISTERED, _registered(user), "registered")
        try:  # the user is told on each channel; the registration stands either way
            if tell and gateway is not None:
                gateway.send(notice)
        except DeliveryFailed:
            pass


def _send(
    state: Admin,
    code: OneTimeCode,
    user: Principal,
    channel: CodeChannel,
    address: str | None,
    now: datetime,
) -> str:
    profile = state.profiles.get(user)
    try:
        state.courier.deliver(code, user, channel, address=address, profile=profile, now=now)
    except Undelivered:
        return "undelivered"
    return f"sent_{channel.value}"


def apply_order(
    box: Securebox,
    state: Admin,
    session_id: str,
    actor: Principal,
    kind: Kind,
    details: dict[str, Any],
) -> str:
    """Apply an approved draft in the session ``session_id`` (the library decides again);
    the answer is a note key: ``done``, ``sent_<channel>`` or ``undelivered``."""
    ent, now = box.entitlements, box.clock.now()
    if kind is Kind.DELIVERY:
        ent.switch_delivery(session_id, digital=bool(details["digital"]))
        return "done"
    user = Principal.from_key(str(details["user"]))
    if kind is Kind.USER_ADD:
        profile = Profile.from_dict(details["profile"])
        code = ent.add_user(  # the account, its rights and its profile commit together
            session_id,
            user,
            Role(str(details["role"])),
            rights_from_json(details["rights"]),
            also=lambda conn: put_profile(conn, user, profile, now),
        )
        register_contacts(box, actor, user, mobile=profile.mobile, email=profile.email)
        channel = CodeChannel(str(details["channel"]))
        address = {CodeChannel.SMS: profile.mobile, CodeChannel.EMAIL: profile.email}.get(channel)
        return _send(state, code, user, channel, address, now)
    if kind is Kind.USER_REMOVE:
        ent.remove_user(session_id, user, also=lambda conn: forget_user(conn, user))
        return "done"
    if kind is Kind.CODE_REGENERATE:
        channel = CodeChannel(str(details["channel"]))
        code = ent.regenerate_code(session_id, user)
        return _send(state, code, user, channel, _address(box, user, channel), now)
    if kind is Kind.UNBLOCK:
        ent.unblock(session_id, user)
        return "done"
    # USER_EDIT
    if user == actor:
        _own_edit(box, actor)
    elif "role" in details:
        ent.set_rights(session_id, user, rights_from_json(details["rights"]))
        role = Role(str(details["role"]))
        found = box.store.get_account(user)
        if found is not None and found.value.role is not role:
            ent.set_role(session_id, user, role)
    elif not ent.check(actor, Operation.MANAGE_USERS, user):
        raise NotPermitted("not permitted")
    state.profiles.put(user, Profile.from_dict(details["profile"]), now)
    return "done"
