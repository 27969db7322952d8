"""A forgotten identifier, by SMS: the company's SIREN, the registered mobile and the
confidential code; when they match one account, its client identifier and user number go
by SMS to that mobile, and the user is told by e-mail.

Every claim does the same work: the same reads (a claim that matches nobody reads the same
records of a principal no account has), one argon2 verification (a real one, counted by
the lockout, for the account found; a dummy one otherwise, leaving no lockout state) and
one commit holding the audit event. The flow ends either way. A wrong code for an account
found spends the source's failure budgets of the login (an unknown source, ADR 0026), and a
source without budget left is answered as a claim of nobody."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import FlowExpired, InvalidIdentifier, MalformedInput
from securebox_auth.factors.code import CodeOutcome
from securebox_auth.factors.code_strength import validate_code_syntax
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import RecoveryFlow, RecoveryKind
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.retry import commit_retrying
from securebox_auth.stores.protocols import Change
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.recovery import messages
from securebox_server.recovery.service import NOBODY, RecoveryService
from securebox_server.recovery.store import StoredFlow

__all__ = ["FailureBudget", "send_identifier"]

_ACTION = "recovery.identifier"


def _candidate(service: RecoveryService, company: Siren, mobile: str) -> Principal | None:
    """The first active account of a subscription holding ``company`` whose verified
    mobile is ``mobile``."""
    store = service.box.store
    holders = store.subscriptions_holding(company) if isinstance(store, SqlStore) else []
    if not holders:
        store.accounts_of(NOBODY.client_id)  # the read a known company makes
    for client_id in holders:
        for account in store.accounts_of(client_id):
            if account.active and service.destination(account.principal, Channel.SMS, mobile):
                return account.principal
    return None


def _verify(service: RecoveryService, found: Principal, code: str, stored: StoredFlow) -> bool:
    """The code of ``found``, counted by its lockout; the audit event in the same commit."""
    decide = service.box.codes.decide_login(found, code)

    def attempt(now: datetime) -> tuple[Sequence[Change], list[AuditEvent], bool]:
        changes, events, result = decide(now)
        ok = result.outcome in (CodeOutcome.ACCEPTED, CodeOutcome.CHANGE_REQUIRED)
        event = service.event(_ACTION, found, stored.flow, "sent" if ok else "no_match")
        return changes, [*events, event], ok

    verdict: bool = commit_retrying(service.box.store, service.box.clock, attempt)
    return verdict


def _shadow(service: RecoveryService, code: str, stored: StoredFlow) -> None:
    """What :func:`_verify` and the sending do, for a claim that matches nobody."""
    store = service.box.store
    store.get_lockout(NOBODY)
    store.get_account(NOBODY)
    store.get_code(NOBODY)
    service.box.codes.hasher.verify_dummy(NOBODY, code)
    service.destination(NOBODY, Channel.SMS, None)
    service.destination(NOBODY, Channel.EMAIL, None)
    store.commit([], [service.event(_ACTION, NOBODY, stored.flow, "no_match")])


class FailureBudget(Protocol):
    """The failure budget of the request's source for an account (the login's, ADR 0026):
    :func:`securebox_server.login.flow.SourceBudget`."""

    def allows(self, account: str) -> bool:
        """May an answer for ``account`` be verified (and counted by its lockout)?"""
        ...

    def failed(self) -> None:
        """The answer :meth:`allows` let in was wrong: spend the budget."""
        ...


def send_identifier(
    service: RecoveryService,
    flow_id: str,
    siren: str,
    mobile: str,
    code: str,
    lang: str,
    budget: FailureBudget | None = None,
) -> RecoveryFlow:
    """The flow, done whatever the claim (see the module documentation). With a
    ``budget``, a source without failure budget left for the account found gets the
    claim of nobody (the dummy verification, nothing counted, the same answer): a
    stranger who knows the SIREN and the mobile cannot push the lockout to the block."""
    try:
        company = Siren.parse(siren)
    except InvalidIdentifier:
        raise InvalidIdentifier("a SIREN of 9 digits is expected") from None
    if not isinstance(mobile, str) or not 6 <= len(mobile) <= 32:
        raise MalformedInput("a mobile number is expected")
    typed = validate_code_syntax(code)
    stored = service.awaiting(flow_id, RecoveryKind.IDENTIFIER_BY_SMS)
    found = _candidate(service, company, mobile)
    ok = False
    allowed = budget is None or budget.allows((found or NOBODY).key)
    if found is None or not allowed:
        _shadow(service, typed, stored)
        found = None
    else:
        ok = _verify(service, found, typed, stored)
    if not ok and budget is not None:
        budget.failed()
    now = service.box.clock.now()
    moved = core.address_given(stored.flow, now=now, link_lifetime=core.CHALLENGE_LIFETIME)
    moved = core.finish(core.challenge_answered(moved, now=now, passed=True), now=now)
    who = found if ok else None
    if not service.store.claim(stored, moved, who, None, supersede=who or NOBODY):
        raise FlowExpired("this recovery moved on: start again")
    if ok and found is not None:
        number = service.destination(found, Channel.SMS, mobile)
        service.text(number or mobile, messages.identifier_sms(found, lang))
        service.notify(found, Channel.EMAIL, "identifier_sent", lang)
    return moved
