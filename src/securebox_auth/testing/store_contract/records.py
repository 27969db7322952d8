"""The contract on records: reads, versions, values, queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from securebox_auth.entitlements.accounts import AccountStatus, Role
from securebox_auth.entitlements.model import (
    InvitationStatus,
    Subscription,
)
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.identity import ClientId
from securebox_auth.lockout.rules import Element, ElementSeries, LockoutState
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    PutAccount,
    PutCode,
    PutLockout,
    PutSubscription,
    Versioned,
)
from securebox_auth.testing.store_contract.world import (
    ALICE,
    BOB,
    CAROL,
    NOW,
    OTHER,
    PARIS,
    _account,
    _credential,
    _event,
    _invitation,
    _subscription,
)

__all__ = ["RecordsContract"]


class RecordsContract:
    """Reads of an empty store, compare-and-swap versions, values and queries."""

    # -- reads of an empty store ---------------------------------------------------------------

    def test_an_empty_store(self, contract_store: AuthStore) -> None:
        assert contract_store.get_account(ALICE) is None
        assert contract_store.get_code(ALICE) is None
        assert contract_store.get_lockout(ALICE) == Versioned(LockoutState(), 0)
        assert contract_store.get_subscription(ALICE.client_id) is None
        assert contract_store.get_session("nope") is None
        assert contract_store.accounts_of(ALICE.client_id) == []
        assert contract_store.subscriptions_inviting(OTHER) == []
        assert contract_store.get_factor_state(ALICE, "totp", "default") is None
        assert contract_store.factor_states(ALICE, "totp") == []
        assert list(contract_store.audit_log()) == []

    def test_an_empty_commit_does_nothing(self, contract_store: AuthStore) -> None:
        contract_store.commit([], [])
        assert list(contract_store.audit_log()) == []

    # -- versions ------------------------------------------------------------------------------

    def test_insert_expects_version_zero_then_versions_grow(
        self, contract_store: AuthStore
    ) -> None:
        contract_store.commit([PutAccount(ALICE, 0, _account())], [])
        assert contract_store.get_account(ALICE) == Versioned(_account(), 1)
        disabled = _account(status=AccountStatus.DISABLED)
        contract_store.commit([PutAccount(ALICE, 1, disabled)], [])
        assert contract_store.get_account(ALICE) == Versioned(disabled, 2)

    def test_a_second_insert_conflicts_and_seals_nothing(self, contract_store: AuthStore) -> None:
        contract_store.commit([PutAccount(ALICE, 0, _account())], [_event("first")])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit(
                [PutAccount(ALICE, 0, _account(status=AccountStatus.DISABLED))], [_event("second")]
            )
        assert contract_store.get_account(ALICE) == Versioned(_account(), 1)
        assert [s.event.action for s in contract_store.audit_log()] == ["first"]

    @pytest.mark.parametrize("stale", [-1, 0, 1, 3])
    def test_a_stale_version_conflicts(self, contract_store: AuthStore, stale: int) -> None:
        contract_store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [])
        contract_store.commit([PutLockout(ALICE, 1, LockoutState(failures=2))], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutLockout(ALICE, stale, LockoutState(failures=9))], [])
        assert contract_store.get_lockout(ALICE) == Versioned(LockoutState(failures=2), 2)

    def test_a_multi_change_commit_is_all_or_nothing(self, contract_store: AuthStore) -> None:
        contract_store.commit([PutLockout(BOB, 0, LockoutState(failures=1))], [])
        changes: list[Change] = [
            PutSubscription(ALICE.client_id, 0, _subscription()),
            PutAccount(ALICE, 0, _account()),
            PutCode(ALICE, 0, _credential()),
            PutLockout(BOB, 0, LockoutState(failures=9)),  # stale: BOB's lockout is at 1
        ]
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit(changes, [_event("create"), _event("issue")])
        assert contract_store.get_subscription(ALICE.client_id) is None
        assert contract_store.get_account(ALICE) is None
        assert contract_store.get_code(ALICE) is None
        assert contract_store.subscriptions_inviting(OTHER) == []
        assert contract_store.get_lockout(BOB) == Versioned(LockoutState(failures=1), 1)
        assert list(contract_store.audit_log()) == []
        changes[-1] = PutLockout(BOB, 1, LockoutState(failures=9))
        contract_store.commit(changes, [_event("create"), _event("issue")])
        assert contract_store.get_code(ALICE) == Versioned(_credential(), 1)
        assert contract_store.get_lockout(BOB) == Versioned(LockoutState(failures=9), 2)
        assert [s.event.action for s in contract_store.audit_log()] == ["create", "issue"]

    def test_records_have_their_own_versions(self, contract_store: AuthStore) -> None:
        contract_store.commit([PutAccount(ALICE, 0, _account())], [])
        contract_store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [])
        contract_store.commit([PutCode(ALICE, 0, _credential())], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutAccount(BOB, 1, _account(BOB))], [])
        assert contract_store.get_account(BOB) is None

    def test_lockouts_and_codes_need_no_account(self, contract_store: AuthStore) -> None:
        contract_store.commit(
            [PutLockout(CAROL, 0, LockoutState(failures=3)), PutCode(CAROL, 0, _credential())], []
        )
        assert contract_store.get_account(CAROL) is None
        assert contract_store.get_lockout(CAROL).value.failures == 3
        assert contract_store.get_code(CAROL) is not None

    def test_a_commit_touches_each_record_once(self, contract_store: AuthStore) -> None:
        with pytest.raises(MalformedInput):
            contract_store.commit(
                [
                    PutLockout(ALICE, 0, LockoutState(failures=1)),
                    PutLockout(ALICE, 0, LockoutState()),
                ],
                [],
            )
        with pytest.raises(MalformedInput):
            contract_store.commit(
                [Expect("account", ALICE, 0), PutAccount(ALICE, 0, _account())], []
            )
        assert contract_store.get_lockout(ALICE).version == 0
        assert contract_store.get_account(ALICE) is None
        assert list(contract_store.audit_log()) == []

    def test_an_expect_guard_writes_nothing_but_can_refuse(self, contract_store: AuthStore) -> None:
        contract_store.commit(
            [Expect("account", ALICE, 0), Expect("code", ALICE, 0)], [_event("read")]
        )
        assert contract_store.get_code(ALICE) is None
        contract_store.commit([PutCode(ALICE, 0, _credential())], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit(
                [Expect("code", ALICE, 0), PutLockout(ALICE, 0, LockoutState(failures=1))],
                [_event("stale")],
            )
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([Expect("account", ALICE, 1)], [_event("stale")])
        assert contract_store.get_lockout(ALICE) == Versioned(LockoutState(), 0)
        contract_store.commit(
            [Expect("code", ALICE, 1), PutLockout(ALICE, 0, LockoutState(failures=1))], []
        )
        assert contract_store.get_lockout(ALICE).value.failures == 1
        assert contract_store.get_code(ALICE) == Versioned(_credential(), 1)
        assert [s.event.action for s in contract_store.audit_log()] == ["read"]

    # -- values round-trip --------------------------------------------------------------------

    def test_values_come_back_equal(self, contract_store: AuthStore) -> None:
        later = NOW + timedelta(days=1)
        credential = _credential(
            must_change=True, expires_at=later, history=("sbx1$k1$old1", "sbx1$k0$old2")
        )
        lockout = LockoutState(
            failures=2,
            temporary_blocks=1,
            blocked_until=later,
            permanent=False,
            last_failure_at=NOW,
            elements=(
                ElementSeries(Element.CODE, 2, 1, NOW - timedelta(minutes=3)),
                ElementSeries(Element.TOTP, 1, 0, NOW),
            ),
        )
        account = _account(role=Role.ACCESS_MANAGER, status=AccountStatus.DISABLED)
        contract_store.commit(
            [
                PutSubscription(ALICE.client_id, 0, _subscription()),
                PutAccount(ALICE, 0, account),
                PutCode(ALICE, 0, credential),
                PutLockout(ALICE, 0, lockout),
            ],
            [],
        )
        assert contract_store.get_subscription(ALICE.client_id) == Versioned(_subscription(), 1)
        assert contract_store.get_account(ALICE) == Versioned(account, 1)
        assert contract_store.get_code(ALICE) == Versioned(credential, 1)
        assert contract_store.get_lockout(ALICE) == Versioned(lockout, 1)

    def test_times_in_any_zone_come_back_as_the_same_instant(
        self, contract_store: AuthStore
    ) -> None:
        local = NOW.astimezone(PARIS)
        state = LockoutState(
            failures=1,
            last_failure_at=local,
            elements=(ElementSeries(Element.OOB, 1, 0, local),),
        )
        contract_store.commit([PutLockout(ALICE, 0, state)], [])
        stored = contract_store.get_lockout(ALICE).value
        assert stored.last_failure_at == NOW
        assert stored == state

    def test_a_permanent_block_round_trips(self, contract_store: AuthStore) -> None:
        state = LockoutState(temporary_blocks=3, permanent=True, last_failure_at=NOW)
        contract_store.commit([PutLockout(ALICE, 0, state)], [])
        assert contract_store.get_lockout(ALICE) == Versioned(state, 1)

    # -- queries -------------------------------------------------------------------------------

    def test_accounts_of_a_subscription_by_user_number(self, contract_store: AuthStore) -> None:
        contract_store.commit(
            [
                PutAccount(CAROL, 0, _account(CAROL)),
                PutAccount(ALICE, 0, _account(ALICE, status=AccountStatus.DISABLED)),
                PutAccount(OTHER, 0, _account(OTHER)),
                PutAccount(BOB, 0, _account(BOB)),
            ],
            [],
        )
        found = contract_store.accounts_of(ALICE.client_id)
        assert [a.principal for a in found] == [ALICE, BOB, CAROL]
        assert found[0].status is AccountStatus.DISABLED
        assert contract_store.accounts_of(ClientId("555555555")) == []

    def test_subscriptions_inviting_follow_the_invitations(self, contract_store: AuthStore) -> None:
        sub = _subscription()
        other_host = Subscription(ClientId("444444444"), invitations={"x": _invitation()})
        contract_store.commit(
            [
                PutSubscription(sub.client_id, 0, sub),
                PutSubscription(other_host.client_id, 0, other_host),
            ],
            [],
        )
        inviting = contract_store.subscriptions_inviting(OTHER)
        assert sorted(s.client_id.value for s in inviting) == ["123456789", "444444444"]
        assert sub in inviting
        assert contract_store.subscriptions_inviting(BOB) == []
        # any state counts, until the invitation leaves the subscription
        declined = sub.with_invitation(_invitation(InvitationStatus.DECLINED))
        contract_store.commit([PutSubscription(sub.client_id, 1, declined)], [])
        assert declined in contract_store.subscriptions_inviting(OTHER)
        emptied = replace(declined, invitations={})
        contract_store.commit([PutSubscription(sub.client_id, 2, emptied)], [])
        assert [s.client_id for s in contract_store.subscriptions_inviting(OTHER)] == [
            other_host.client_id
        ]
