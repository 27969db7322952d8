"""A forgotten identifier by secret questions (a policy option, off in the shipped
policies: NIST SP 800-63B-4 sec. 3.1.1.2 forbids prompting for knowledge-based
authentication, and ``securebox policy lint`` warns when it is on).

SIREN + name + the answers: the name finds the users of the subscriptions holding that
company by a keyed MAC (no argon2 work per candidate); exactly one match has its answers
checked (argon2id), and anything else is checked against hashes nobody knows, so every
claim costs the same. Only a full match shows the identifier; the user is told by e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from securebox_auth.errors import InvalidIdentifier, NotPermitted
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import RecoveryFlow, RecoveryKind
from securebox_auth.identity import Principal, Siren
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.recovery.service import NOBODY, RecoveryService

__all__ = ["QUESTIONS", "enabled", "find_identifier"]


def _(text: str) -> str:  # marks a message for translation (the template translates it)
    return text


#: The questions a user answers (ids and their labels).
QUESTIONS: Final = {
    "first_school": _("Name of your first school"),
    "childhood_street": _("Street where you lived as a child"),
}


def enabled(service: RecoveryService) -> bool:
    return service.box.policy.recovery.secret_questions


def _candidates(service: RecoveryService, company: Siren, name: str) -> list[Principal]:
    store = service.box.store
    holders = store.subscriptions_holding(company) if isinstance(store, SqlStore) else []
    found = []
    for client_id in holders:
        for account in store.accounts_of(client_id):
            if account.active and service.accounts.name_matches(account.principal, name):
                found.append(account.principal)
    return found


def find_identifier(
    service: RecoveryService, siren: str, name: str, answers: Mapping[str, str], lang: str
) -> tuple[RecoveryFlow, Principal | None]:
    """The flow (done either way) and the principal when everything matched."""
    if not enabled(service):
        raise NotPermitted("secret questions are not allowed by the policy")
    try:
        company = Siren.parse(siren)
    except InvalidIdentifier:
        raise InvalidIdentifier("a SIREN of 9 digits is expected") from None
    flow = service.start(RecoveryKind.IDENTIFIER_BY_QUESTIONS)
    stored = service.get(flow.id)
    found = _candidates(service, company, name)
    target = found[0] if len(found) == 1 else None
    ok = service.accounts.check_answers(target, answers, tuple(QUESTIONS)) and target is not None
    now = service.box.clock.now()
    moved = core.address_given(flow, now=now, link_lifetime=core.CHALLENGE_LIFETIME)
    moved = core.challenge_answered(moved, now=now, passed=ok)
    if ok:
        moved = core.finish(moved, now=now)
    who = target if ok else None
    service.store.claim(stored, moved, who, None, supersede=NOBODY)
    service.audit("recovery.identifier", target or NOBODY, moved, "shown" if ok else "no_match")
    if ok and target is not None:
        service.notify(target, Channel.EMAIL, "identifier_shown", lang)
    return moved, who
