"""The cache of decoded subscriptions (ADR 0022): a change made through another store object
(another process, as far as the database can tell: its own engine and connections) is seen
by the next decision, a stale read never commits, and the cache stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.model import NO_RIGHTS, Operation, Subscription
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.identity import ClientId
from securebox_auth.stores.protocols import PutAccount, PutSubscription
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.stores.sql.subscription_cache import SubscriptionCache
from tests.entitlements.world import (
    ACCOUNTANT,
    ACCOUNTS,
    C1,
    CLERK,
    NOW,
    PAYROLL,
    A,
    doc,
    sub_a,
    sub_b,
)
from tests.stores.conftest import AUDIT_KEY

PAYSLIP = doc(1, company=C1, theme=PAYROLL)


def _service(store: SqlStore) -> EntitlementService:
    return EntitlementService(
        store,
        Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING),
        company_proofs=KeyedCompanyProofs(StaticKeyring.generate()),
        clock=FixedClock(NOW),
    )


@pytest.fixture
def two_stores(database_url: str) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one database, each with its own engine (connection pool)."""
    engines = [create_engine(database_url) for _ in range(2)]
    stores = [SqlStore(engine, audit_key=AUDIT_KEY) for engine in engines]
    stores[0].commit(
        [
            PutSubscription(A, 0, sub_a()),
            PutSubscription(sub_b().client_id, 0, sub_b()),
            *(PutAccount(p, 0, account) for p, account in ACCOUNTS.items()),
        ],
        [],
    )
    yield stores[0], stores[1]
    for engine in engines:
        engine.dispose()


def _warm(service: EntitlementService, store: SqlStore) -> None:
    for _ in range(2):
        assert service.check(CLERK, Operation.VIEW, PAYSLIP).allowed
        assert service.check(ACCOUNTANT, Operation.DOWNLOAD, PAYSLIP).allowed
        assert service.visible(CLERK).matches(PAYSLIP)
        assert service.visible(ACCOUNTANT).matches(PAYSLIP)
    assert store.subscriptions.hits > 0  # the decisions above were answered from the cache


def test_rights_revoked_through_another_store_are_refused_at_once(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    writer, reader = two_stores
    service = _service(reader)
    _warm(service, reader)
    found = writer.get_subscription(A)
    assert found is not None
    writer.commit(
        [PutSubscription(A, found.version, found.value.with_rights(CLERK, NO_RIGHTS))], []
    )
    assert not service.check(CLERK, Operation.VIEW, PAYSLIP).allowed
    assert service.visible(CLERK).empty


def test_an_invitation_revoked_through_another_store_is_refused_at_once(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    writer, reader = two_stores
    service = _service(reader)
    _warm(service, reader)
    found = writer.get_subscription(A)
    assert found is not None
    from securebox_auth.entitlements.model import InvitationStatus  # noqa: PLC0415

    invitation = replace(found.value.invitations["inv-1"], status=InvitationStatus.REVOKED)
    writer.commit([PutSubscription(A, found.version, found.value.with_invitation(invitation))], [])
    assert not service.check(ACCOUNTANT, Operation.DOWNLOAD, PAYSLIP).allowed
    assert not service.visible(ACCOUNTANT).matches(PAYSLIP)


def test_a_decision_on_a_superseded_version_cannot_commit(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    writer, reader = two_stores
    stale = reader.get_subscription(A)
    assert stale is not None
    assert reader.get_subscription(A) is stale  # cached: the same decoded value
    current = writer.get_subscription(A)
    assert current is not None
    writer.commit([PutSubscription(A, current.version, current.value.without_user(CLERK))], [])
    with pytest.raises(ConcurrentUpdate):
        reader.commit([PutSubscription(A, stale.version, stale.value)], [])
    fresh = reader.get_subscription(A)
    assert fresh is not None
    assert fresh.version == stale.version + 1
    assert CLERK not in fresh.value.rights


def test_the_cache_is_bounded_and_keeps_the_newest_version(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY, subscription_cache=2)
        clients = [ClientId(f"{n}00000000") for n in range(1, 5)]
        store.commit([PutSubscription(c, 0, Subscription(c)) for c in clients], [])
        for client in clients:
            assert store.get_subscription(client) is not None
        assert len(store.subscriptions) == 2
        assert store.subscriptions.version(clients[0].value) == 0  # the oldest went first
        assert store.subscriptions.version(clients[-1].value) == 1
        uncached = SqlStore(engine, audit_key=AUDIT_KEY, subscription_cache=0)
        assert uncached.get_subscription(clients[0]) is not uncached.get_subscription(clients[0])
        assert len(uncached.subscriptions) == 0
    finally:
        engine.dispose()


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = SubscriptionCache(4)
    from securebox_auth.stores.protocols import Versioned  # noqa: PLC0415

    newer, older = Versioned(Subscription(A), 3), Versioned(Subscription(A), 2)
    cache.put(A.value, newer)
    cache.put(A.value, older)
    assert cache.get(A.value, 3) is newer
    assert cache.get(A.value, 2) is None
    with pytest.raises(Exception, match="cache size"):
        SubscriptionCache(-1)


def test_the_filter_memo_is_bounded_and_follows_the_subscription_objects(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    _, reader = two_stores
    service = _service(reader)
    service.filters.size = 1
    first = service.visible(CLERK)
    assert service.visible(CLERK) is first  # same account, same subscription objects
    service.visible(ACCOUNTANT)
    assert len(service.filters) == 1
    reader.subscriptions.clear()  # a new decoded object, equal in value: computed again
    again = service.visible(CLERK)
    assert again == first
    assert again is not first


def test_malformed_stored_scopes_are_typed_errors() -> None:
    row = codec.subscription_row(sub_a())
    bad = row["state"].replace('"themes":["payroll"]', '"themes":[["payroll"]]', 1)
    assert bad != row["state"]
    with pytest.raises(MalformedInput):
        codec.subscription_from_row({"client_id": A.value, "digital": True, "state": bad})
