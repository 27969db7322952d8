"""A forgotten code, by card: the identifiers, then a CAP Respond code over the digits the
page shows (the card proves possession and, through its PIN, knowledge); a right code
gets a new one-time code by SMS to the registered mobile (changed at the next login), an
e-mail notice, and every session ends.

A user without a card, an unknown user and a user without a mobile get the same pages:
the library draws decoy challenges for cards that are not bound, and their codes fail like
wrong ones (counted by the lockout when the account exists)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from securebox_auth.errors import FlowExpired, MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import RecoveryFlow, RecoveryKind, RecoveryState
from securebox_auth.identity import Principal
from securebox_server.methods.cap import card_of
from securebox_server.recovery import messages
from securebox_server.recovery.service import NOBODY, RecoveryService

__all__ = ["CardChallenge", "answer_card", "start_card"]

_CODE: Final = re.compile(r"[0-9]{4,16}")
_CHALLENGE_ID: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True, slots=True)
class CardChallenge:
    flow: RecoveryFlow
    challenge_id: str
    digits: str


def _challenge(service: RecoveryService, flow: RecoveryFlow, principal: Principal) -> CardChallenge:
    """A Respond challenge for the card of ``principal`` (decoy digits without one)."""
    card = card_of(service.box, principal)
    issued = service.box.factors.cap.issue_challenge(principal, card, purpose="recovery")
    return CardChallenge(flow, issued.challenge_id, issued.value)


def start_card(
    service: RecoveryService, client_id: str, user_number: str, flow_id: str | None = None
) -> CardChallenge:
    """The claimed user on flow ``flow_id`` (a new one when ``None``) and a Respond
    challenge for their card (decoy digits when there is none): the claimed principal is
    kept, the proof is checked against it."""
    if service.box.factors.issuer is None:
        raise MalformedInput("card recovery needs the issuer's keys")
    principal = service.box.codes.parse_principal(client_id, user_number)
    if flow_id is None:
        flow_id = service.start(RecoveryKind.CODE_BY_CARD).id
    stored = service.awaiting(flow_id, RecoveryKind.CODE_BY_CARD)
    now = service.box.clock.now()
    moved = core.address_given(stored.flow, now=now, link_lifetime=core.CHALLENGE_LIFETIME)
    if not service.store.claim(stored, moved, principal, None, supersede=NOBODY):
        raise FlowExpired("this recovery moved on: start again")
    return _challenge(service, moved, principal)


def answer_card(
    service: RecoveryService, flow_id: str, challenge_id: str, code: str, lang: str
) -> tuple[RecoveryFlow, CardChallenge | None]:
    """The reader's code: the flow ``done`` (a code was sent when the account has a mobile)
    or, after a wrong code, the flow with a fresh challenge (``None`` once it failed)."""
    typed = "".join(code.split()).replace("-", "")
    if not _CODE.fullmatch(typed) or not _CHALLENGE_ID.fullmatch(challenge_id):
        raise MalformedInput("type the code the reader shows")
    stored = service.awaiting(flow_id, RecoveryKind.CODE_BY_CARD)
    principal = stored.principal
    if principal is None:
        raise FlowExpired("no such recovery (finished, expired or unknown): start again")
    box = service.box
    card = card_of(box, principal)
    result = box.factors.verify_cap(principal, card, typed, challenge_id=challenge_id)
    mobile = service.destination(principal, Channel.SMS, None)
    ok = result.ok and mobile is not None
    now = box.clock.now()
    moved = core.challenge_answered(stored.flow, now=now, passed=ok)
    if ok:
        moved = core.finish(moved, now=now)
    if not service.store.move(stored, moved):
        raise FlowExpired("this recovery moved on: start again")
    service.audit("recovery.card", principal, moved, "success" if ok else "failure")
    if ok and mobile is not None:
        new = service.accounts.issue_code(principal, via="card")
        service.text(mobile, messages.one_time_code_sms(new.reveal(), lang))
        service.notify(principal, Channel.EMAIL, "code_sent", lang)
        return moved, None
    if moved.state is RecoveryState.FAILED:
        return moved, None
    return moved, _challenge(service, moved, principal)
