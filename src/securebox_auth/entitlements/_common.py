"""What every administrative transition shares: the change it returns, the audit text of
rights, and the rules "may this actor do this at all" and "nobody grants what they lack"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.check import check, effective_rights
from securebox_auth.entitlements.model import NEEDS_VIEW, Operation, Rights, Subscription
from securebox_auth.entitlements.resources import SubscriptionRef, UserRef
from securebox_auth.errors import MalformedInput, NotPermitted

__all__ = ["AdminChange", "describe_rights"]


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


def _grantable_by(actor: Account, sub: Subscription, rights: Rights, now: datetime) -> None:
    held, _ = effective_rights(actor, sub, now)
    if rights.operations & NEEDS_VIEW and Operation.VIEW not in rights.operations:
        raise MalformedInput("download and share are granted with view")
    _require(rights.within(held), "nobody grants a right they do not hold")
    unknown = rights.companies.chosen - set(sub.companies)
    if unknown:
        raise MalformedInput("rights name companies that are not in the portfolio")
    unknown_themes = rights.documents.themes - sub.themes
    if unknown_themes:
        raise MalformedInput("rights name themes the subscription does not have")
