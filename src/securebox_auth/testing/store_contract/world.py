"""The records, principals and events the contract's tests use."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from securebox_auth.audit import (
    AuditEvent,
)
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    Company,
    CompanyScope,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import Principal, Siren
from securebox_auth.policy.session import (
    Grant,
    Session,
    open_session,
    with_grant,
)
from securebox_auth.stores.protocols import (
    AuthStore,
    OpenSession,
)

__all__ = ["CONTRACT_AUDIT_KEY", "NOW"]

ALICE = Principal.parse("123456789", "01")
BOB = Principal.parse("123456789", "02")
CAROL = Principal.parse("123456789", "10")
OTHER = Principal.parse("987654321", "01")
ACME = Siren("732829320")
SERVICES = Siren("552100554")
PARIS = timezone(timedelta(hours=2))
#: The audit key the store under test seals with (the MACs are compared with ``seal``'s).
CONTRACT_AUDIT_KEY: Final = b"\x42" * 32
#: The instant the contract's records are dated at.
NOW: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _event(name: str, subject: Principal = ALICE) -> AuditEvent:
    return AuditEvent.make(
        NOW, name, actor="test", subject=subject.key, outcome="success", details={"n": name}
    )


def _account(principal: Principal = ALICE, **changes: object) -> Account:
    return replace(Account(principal, Role.USER, NOW), **changes)  # type: ignore[arg-type]


def _credential(**changes: object) -> CodeCredential:
    base = CodeCredential(hash="sbx1$k1$$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", set_at=NOW)
    return replace(base, **changes)  # type: ignore[arg-type]


def _invitation(status: InvitationStatus = InvitationStatus.PENDING) -> Invitation:
    return Invitation(
        id="inv-1",
        invitee=OTHER,
        companies=frozenset({ACME}),
        documents=DocumentScope(themes=frozenset({Theme("payroll")}), documents=frozenset({"d1"})),
        operations=THIRD_PARTY_OPERATIONS,
        invited_by=ALICE,
        created_at=NOW,
        expires_at=NOW + timedelta(days=14),
        status=status,
        decided_at=None if status is InvitationStatus.PENDING else NOW + timedelta(hours=1),
    )


def _subscription() -> Subscription:
    return Subscription(
        ALICE.client_id,
        companies={ACME: Company(ACME, "ACME", NOW), SERVICES: Company(SERVICES, "Svc", NOW)},
        themes=frozenset({Theme("payroll"), Theme("tax")}),
        rights={
            ALICE: Rights.everything(),
            BOB: Rights(
                CompanyScope.of(ACME),
                DocumentScope(themes=frozenset({Theme("tax")}), documents=frozenset({"doc-9"})),
                frozenset({Operation.VIEW, Operation.DOWNLOAD}),
            ),
        },
        invitations={"inv-1": _invitation()},
        digital=False,
    )


def _session_with_grant() -> tuple[Grant, Session]:
    grant = Grant("payment.initiate", ALICE, "ab" * 16, NOW, NOW + timedelta(minutes=5), ("pwd",))
    session = with_grant(open_session(ALICE, "web", ["confidential_code"], NOW), grant)
    return grant, session


def _open(store: AuthStore, session: Session) -> str:
    change = OpenSession(session)
    store.commit([change], [])
    return change.session_id


_TOTP = {"secret": "JBSWY3DPEHPK3PXP", "last_step": 59_000_123, "digits": 6, "ok": True}
