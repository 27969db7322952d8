"""``EntitlementService.check_in``: the decision of ``check`` on the standing one read gave
(the read a page shares between deciding on a document and listing what the user may see).

Whatever the actor, the rights, the invitation's status, the action and the resource, it is
the decision ``check`` makes on the same state (hypothesis, in memory; every actor and
resource of the world on memory, SQLite and PostgreSQL), and it reads nothing more when the
resource is in a subscription the standing holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.model import (
    GRANTABLE_OPERATIONS,
    InvitationStatus,
    Operation,
    Rights,
)
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.resources import (
    CompanyRef,
    DocumentRef,
    SubscriptionRef,
    UserRef,
)
from securebox_auth.entitlements.service import EntitlementService, Target
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, UserNumber
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore, PutAccount, PutSubscription
from tests.entitlements.strategies import rights
from tests.entitlements.world import (
    ACCOUNTANT,
    ACCOUNTS,
    ADMIN,
    AM,
    B_USER,
    C1,
    C2,
    C3,
    CLERK,
    NOW,
    PAYROLL,
    PU,
    STATEMENTS,
    TAX,
    TREASURER,
    A,
    B,
    disabled,
    sub_a,
    sub_b,
)
from tests.shell.counting import CountingStore
from tests.stores.conftest import AUDIT_KEY

STRANGER = Principal(ClientId("333333333"), UserNumber("01"))
ACTORS = [PU, ADMIN, AM, CLERK, TREASURER, ACCOUNTANT, B_USER, STRANGER]
OPERATIONS = list(Operation)
THEMES = [PAYROLL, TAX, STATEMENTS]


def _documents() -> list[DocumentRef]:
    return [
        DocumentRef(client, company, theme, f"d-{n}", f"label {n}", NOW - timedelta(days=n))
        for n, (client, company, theme) in enumerate(
            [(A, C1, PAYROLL), (A, C1, TAX), (A, C2, STATEMENTS), (B, C3, TAX), (A, C3, TAX)]
        )
    ]


RESOURCES: list[Target] = [
    *_documents(),
    CompanyRef(A, C1),
    CompanyRef(A, C2),
    CompanyRef(B, C3),
    SubscriptionRef(A),
    SubscriptionRef(B),
    SubscriptionRef(ClientId("333333333")),
    PU,
    CLERK,
    ACCOUNTANT,
]


def _service(store: AuthStore) -> EntitlementService:
    return EntitlementService(
        store,
        Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING),
        company_proofs=KeyedCompanyProofs(StaticKeyring.generate()),
        clock=FixedClock(NOW),
    )


def _world(
    store: AuthStore,
    invitation: InvitationStatus | None = InvitationStatus.ACCEPTED,
    clerk: Rights | None = None,
    inactive: Principal | None = None,
) -> None:
    sub = sub_a(invitation)
    if clerk is not None:
        sub = sub.with_rights(CLERK, clerk)
    accounts = {p: disabled(a) if p == inactive else a for p, a in ACCOUNTS.items()}
    store.commit(
        [
            PutSubscription(A, 0, sub),
            PutSubscription(B, 0, sub_b()),
            *(PutAccount(p, 0, a) for p, a in accounts.items()),
        ],
        [],
    )


def _agree(service: EntitlementService, actor: Principal, action: Operation) -> None:
    standing = service.standing(actor)
    for resource in RESOURCES:
        expected = service.check(actor, action, resource)
        assert service.check_in(standing, actor, action, resource) == expected, resource


GRANTABLE = sorted(GRANTABLE_OPERATIONS, key=lambda o: o.value)
DOCUMENT_IDS = [f"d-{i}" for i in range(5)]


@settings(max_examples=150)
@given(
    clerk=rights([C1, C2], THEMES, GRANTABLE, DOCUMENT_IDS),
    invitation=st.sampled_from([None, *InvitationStatus]),
    actor=st.sampled_from(ACTORS),
    action=st.sampled_from(OPERATIONS),
    inactive=st.sampled_from([None, *ACTORS]),
)
def test_check_in_is_check_on_the_same_state(
    clerk: Rights,
    invitation: InvitationStatus | None,
    actor: Principal,
    action: Operation,
    inactive: Principal | None,
) -> None:
    store = MemoryStore(audit_key=AUDIT_KEY)
    _world(store, invitation, clerk, inactive)
    _agree(_service(store), actor, action)


def test_every_store_decides_alike_on_the_standing(contract_store: AuthStore) -> None:
    _world(contract_store)
    service = _service(contract_store)
    for actor in ACTORS:
        for action in (Operation.VIEW, Operation.DOWNLOAD, Operation.LIST_USERS):
            _agree(service, actor, action)


def test_a_document_of_a_subscription_the_standing_holds_is_decided_without_a_read(
    contract_store: AuthStore,
) -> None:
    _world(contract_store)
    counting = CountingStore(contract_store)
    service = _service(counting)
    doc = _documents()[0]  # in A: the clerk's own subscription, and inviting the accountant
    for actor in (CLERK, ACCOUNTANT):
        standing = service.standing(actor)
        counting.read_calls.clear()
        assert service.check_in(standing, actor, Operation.VIEW, doc).allowed
        assert service.visible_in(standing).matches(doc)
        assert sum(counting.read_calls.values()) == 0


def test_a_standing_read_for_someone_else_or_a_user_ref_is_refused() -> None:
    store = MemoryStore(audit_key=AUDIT_KEY)
    _world(store)
    service = _service(store)
    standing = service.standing(CLERK)
    with pytest.raises(MalformedInput):
        service.check_in(standing, PU, Operation.VIEW, _documents()[0])
    forged = UserRef(CLERK, ACCOUNTS[ADMIN].role)  # a role the caller chose
    with pytest.raises(MalformedInput):
        service.check_in(standing, CLERK, Operation.MANAGE_USERS, forged)  # type: ignore[arg-type]
