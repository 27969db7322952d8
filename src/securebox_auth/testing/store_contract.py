"""The store contract: the tests every :class:`~securebox_auth.stores.protocols.AuthStore`
must pass, for the library's own stores (memory, SQLite, PostgreSQL) and for a portal's own
implementation (for example over its existing user and credential tables).

Use it with pytest (a test dependency, not a runtime one): subclass :class:`StoreContract` in
a test module and give it a ``contract_store`` fixture that yields an **empty** store sealing
its audit chain with :data:`CONTRACT_AUDIT_KEY`::

    import pytest
    from securebox_auth.testing.store_contract import CONTRACT_AUDIT_KEY, StoreContract

    class TestPortalStore(StoreContract):
        @pytest.fixture
        def contract_store(self) -> Iterator[AuthStore]:
            yield PortalStore(fresh_engine(), audit_key=CONTRACT_AUDIT_KEY)

pytest collects the inherited ``test_*`` methods for the subclass. The key is fixed so that
the audit MACs of every store can be compared with those :func:`~securebox_auth.audit.seal`
computes. Nothing here runs at import time beyond definitions; never import it in
production code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

import pytest

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditEvent,
    anchor_event,
    seal,
    verify_chain,
)
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
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
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout.rules import Element, ElementSeries, LockoutState
from securebox_auth.policy.session import (
    Grant,
    Session,
    open_session,
    with_grant,
    without_grant,
)
from securebox_auth.policy.session_ids import new_session_id
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    OpenSession,
    PutAccount,
    PutCode,
    PutFactorState,
    PutLockout,
    PutSession,
    PutSubscription,
    Versioned,
)

__all__ = ["CONTRACT_AUDIT_KEY", "NOW", "StoreContract"]

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


class StoreContract:
    """The contract's tests, as methods: subclass it and provide ``contract_store``."""

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

    # -- sessions and single-use grants ---------------------------------------------------------

    def test_a_session_round_trips(self, contract_store: AuthStore) -> None:
        _, session = _session_with_grant()
        session_id = _open(contract_store, session)
        assert contract_store.get_session(session_id) == Versioned(session, 1)
        assert contract_store.get_session(new_session_id()) is None

    def test_a_single_use_grant_is_consumed_once(self, contract_store: AuthStore) -> None:
        grant, session = _session_with_grant()
        sid = _open(contract_store, session)
        first = contract_store.get_session(sid)
        second = contract_store.get_session(sid)
        assert first is not None
        assert second is not None
        consumed = without_grant(first.value, grant)
        contract_store.commit([PutSession(sid, first.version, consumed)], [_event("consumed")])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit(
                [PutSession(sid, second.version, without_grant(second.value, grant))],
                [_event("consumed again")],
            )
        assert contract_store.get_session(sid) == Versioned(consumed, 2)
        assert [s.event.action for s in contract_store.audit_log()] == ["consumed"]

    def test_an_ended_session_never_comes_back(self, contract_store: AuthStore) -> None:
        _, session = _session_with_grant()
        sid = _open(contract_store, session)
        contract_store.commit([PutSession(sid, 1, None)], [_event("logout")])
        assert contract_store.get_session(sid) is None
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutSession(sid, 1, session)], [])
        with pytest.raises(MalformedInput):
            PutSession(sid, 0, session)
        assert contract_store.get_session(sid) is None

    # -- factor states ---------------------------------------------------------------------------

    def test_a_factor_state_round_trips_with_its_version(self, contract_store: AuthStore) -> None:
        contract_store.commit([PutFactorState(ALICE, "totp", "default", 0, _TOTP)], [_event("e")])
        assert contract_store.get_factor_state(ALICE, "totp", "default") == Versioned(_TOTP, 1)
        later = {**_TOTP, "last_step": 59_000_124}
        contract_store.commit([PutFactorState(ALICE, "totp", "default", 1, later)], [])
        assert contract_store.get_factor_state(ALICE, "totp", "default") == Versioned(later, 2)
        assert contract_store.get_factor_state(BOB, "totp", "default") is None
        assert contract_store.get_factor_state(ALICE, "oob", "default") is None
        assert contract_store.get_factor_state(ALICE, "totp", "other") is None

    def test_factor_documents_come_back_as_plain_json(self, contract_store: AuthStore) -> None:
        document = {
            "text": 'é\u2028 "quoted" \U0001f512',
            "nested": {"list": (1, 2.5, None, False, ["x"]), "empty": {}},
            "big": 2**62,
        }
        contract_store.commit([PutFactorState(ALICE, "passkeys", "cred-1", 0, document)], [])
        found = contract_store.get_factor_state(ALICE, "passkeys", "cred-1")
        assert found is not None
        assert found.value == {
            "text": 'é\u2028 "quoted" \U0001f512',
            "nested": {"list": [1, 2.5, None, False, ["x"]], "empty": {}},
            "big": 2**62,
        }

    def test_a_factor_state_is_not_aliased(self, contract_store: AuthStore) -> None:
        document: dict[str, object] = {"codes": ["a", "b"]}
        contract_store.commit([PutFactorState(ALICE, "recovery", "set", 0, document)], [])
        document["codes"] = []
        found = contract_store.get_factor_state(ALICE, "recovery", "set")
        assert found is not None
        assert found.value == {"codes": ["a", "b"]}
        found.value["codes"].append("c")  # type: ignore[attr-defined]
        assert contract_store.get_factor_state(ALICE, "recovery", "set") == Versioned(
            {"codes": ["a", "b"]}, 1
        )

    @pytest.mark.parametrize("stale", [0, 2])
    def test_a_stale_factor_state_conflicts_and_changes_nothing(
        self, contract_store: AuthStore, stale: int
    ) -> None:
        contract_store.commit([PutFactorState(ALICE, "oob", "ch-1", 0, {"used": False})], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit(
                [
                    PutLockout(ALICE, 0, LockoutState(failures=1)),
                    PutFactorState(ALICE, "oob", "ch-1", stale, {"used": True}),
                ],
                [_event("consumed")],
            )
        assert contract_store.get_factor_state(ALICE, "oob", "ch-1") == Versioned(
            {"used": False}, 1
        )
        assert contract_store.get_lockout(ALICE).version == 0
        assert list(contract_store.audit_log()) == []

    def test_a_code_is_consumed_once(self, contract_store: AuthStore) -> None:
        """Two requests read the same challenge; only the first commit consumes it."""
        contract_store.commit([PutFactorState(ALICE, "oob", "ch-1", 0, {"used": False})], [])
        first = contract_store.get_factor_state(ALICE, "oob", "ch-1")
        second = contract_store.get_factor_state(ALICE, "oob", "ch-1")
        assert first is not None
        assert second is not None
        used = {"used": True}
        contract_store.commit([PutFactorState(ALICE, "oob", "ch-1", first.version, used)], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutFactorState(ALICE, "oob", "ch-1", second.version, used)], [])

    def test_factor_states_lists_one_kind_of_one_principal_by_item(
        self, contract_store: AuthStore
    ) -> None:
        items = ["b", "B", "a", "é", "A", "z-2", "z-10"]
        contract_store.commit(
            [PutFactorState(ALICE, "passkeys", i, 0, {"id": i}) for i in items]
            + [
                PutFactorState(ALICE, "totp", "default", 0, {"id": "t"}),
                PutFactorState(BOB, "passkeys", "c", 0, {"id": "c"}),
                PutFactorState(OTHER, "passkeys", "d", 0, {"id": "d"}),
            ],
            [],
        )
        contract_store.commit([PutFactorState(ALICE, "passkeys", "z-2", 1, None)], [])
        listed = contract_store.factor_states(ALICE, "passkeys")
        expected = sorted(i for i in items if i != "z-2")
        assert [item for item, _ in listed] == expected
        assert all(v == Versioned({"id": i}, 1) for i, v in listed)
        assert [i for i, _ in contract_store.factor_states(BOB, "passkeys")] == ["c"]
        assert contract_store.factor_states(BOB, "totp") == []

    def test_factor_states_of_several_kinds_equal_factor_states_of_each(
        self,
        contract_store: AuthStore,
    ) -> None:
        contract_store.commit(
            [
                PutFactorState(ALICE, "passkeys", "b", 0, {"id": "b"}),
                PutFactorState(ALICE, "passkeys", "a", 0, {"id": "a"}),
                PutFactorState(ALICE, "cap_card", "c1", 0, {"n": 1}),
                PutFactorState(ALICE, "totp", "default", 0, {"id": "t"}),
                PutFactorState(ALICE, "recovery", "default", 0, {"id": "r"}),
                PutFactorState(BOB, "totp", "default", 0, {"id": "bob"}),
            ],
            [],
        )
        contract_store.commit([PutFactorState(ALICE, "recovery", "default", 1, None)], [])
        kinds = ("totp", "recovery", "passkeys", "cap_card", "certificate")
        found = contract_store.factor_states_of(ALICE, kinds)
        assert list(found) == list(kinds)
        assert found == {kind: contract_store.factor_states(ALICE, kind) for kind in kinds}
        assert [item for item, _ in found["passkeys"]] == ["a", "b"]
        assert found["recovery"] == []
        assert found["certificate"] == []
        assert contract_store.factor_states_of(BOB, ["totp"]) == {
            "totp": [("default", Versioned({"id": "bob"}, 1))]
        }
        assert contract_store.factor_states_of(OTHER, kinds) == {kind: [] for kind in kinds}
        assert contract_store.factor_states_of(ALICE, ()) == {}

    def test_a_deleted_factor_state_never_comes_back(self, contract_store: AuthStore) -> None:
        contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 0, {"v": 1})], [])
        contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 1, None)], [])
        assert contract_store.get_factor_state(ALICE, "cap_challenge", "c1") is None
        assert contract_store.factor_states(ALICE, "cap_challenge") == []
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 0, {"v": 1})], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 1, {"v": 1})], [])
        assert contract_store.get_factor_state(ALICE, "cap_challenge", "c1") is None

    def test_factor_state_changes_are_checked(self, contract_store: AuthStore) -> None:
        with pytest.raises(MalformedInput):
            PutFactorState(ALICE, "totp", "never", 0, None)
        with pytest.raises(MalformedInput):
            PutFactorState(ALICE, "", "x", 0, {})
        with pytest.raises(MalformedInput):
            PutFactorState(ALICE, "k" * 33, "x", 0, {})
        with pytest.raises(MalformedInput):
            PutFactorState(ALICE, "totp", "i" * 129, 0, {})
        PutFactorState(ALICE, "k" * 32, "i" * 128, 0, {})  # the longest accepted
        with pytest.raises(MalformedInput):
            contract_store.commit([PutFactorState(ALICE, "totp", "x", 0, {"bad": b"bytes"})], [])
        with pytest.raises(MalformedInput):
            contract_store.commit(
                [PutFactorState(ALICE, "totp", "x", 0, {"nan": float("nan")})], []
            )
        with pytest.raises(MalformedInput):
            contract_store.commit(
                [
                    PutFactorState(ALICE, "totp", "x", 0, {}),
                    PutFactorState(ALICE, "totp", "x", 0, {"n": 1}),
                ],
                [],
            )
        assert contract_store.get_factor_state(ALICE, "totp", "x") is None

    def test_the_longest_keys_are_stored(self, contract_store: AuthStore) -> None:
        kind, item = "k" * 32, "i" * 128
        contract_store.commit([PutFactorState(ALICE, kind, item, 0, {"n": 1})], [])
        assert contract_store.get_factor_state(ALICE, kind, item) == Versioned({"n": 1}, 1)

    # -- the audit chain ------------------------------------------------------------------------

    def test_events_are_sealed_in_order_into_one_chain(self, contract_store: AuthStore) -> None:
        contract_store.commit([], [_event("a"), _event("b")])
        contract_store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [_event("c")])
        sealed = list(contract_store.audit_log())
        assert [s.sequence for s in sealed] == [1, 2, 3]
        assert [s.event.action for s in sealed] == ["a", "b", "c"]
        assert sealed[0].event == _event("a")
        assert verify_chain(CONTRACT_AUDIT_KEY, sealed, expected_head=sealed[-1].mac) == 3

    def test_the_audit_log_is_a_snapshot(self, contract_store: AuthStore) -> None:
        contract_store.commit([], [_event("a")])
        log = contract_store.audit_log()
        contract_store.commit([], [_event("b")])
        assert [s.event.action for s in log] == ["a"]

    def test_the_chains_are_the_same_in_every_store(self, contract_store: AuthStore) -> None:
        """Same key, same events: exactly the chains ``audit.seal`` builds, whatever the store:
        an event of no subscription in the global chain, an event of Alice's subscription in
        its chain, an event of two subscriptions in both (ADR 0021)."""
        tenant, other = ALICE.client_id.value, OTHER.client_id.value
        first = AuditEvent.make(NOW.astimezone(PARIS), "x", actor="a", subject="s", outcome="ok")
        both = AuditEvent.make(
            NOW, "invitation.accept", actor=OTHER.key, subject=tenant, outcome="ok"
        )
        contract_store.commit([], [first])
        contract_store.commit([PutLockout(ALICE, 0, LockoutState(failures=1))], [_event("y")])
        contract_store.commit([], [both])
        g1 = seal(CONTRACT_AUDIT_KEY, None, first)
        t1 = seal(CONTRACT_AUDIT_KEY, None, _event("y"), chain=tenant)
        t2 = seal(CONTRACT_AUDIT_KEY, t1, both, chain=tenant)
        o1 = seal(CONTRACT_AUDIT_KEY, None, both, chain=other)
        assert list(contract_store.audit_log(GLOBAL)) == [g1]
        assert list(contract_store.audit_log(tenant)) == [t1, t2]
        assert list(contract_store.audit_log(other)) == [o1]
        assert list(contract_store.audit_log()) == [g1, t1, t2, o1]
        assert contract_store.audit_tenants() == [tenant, other]
        assert contract_store.audit_head(tenant) == (2, t2.mac)
        assert contract_store.audit_head("555") == (0, GENESIS)
        for wrong in ("lower", "A:B", "x" * 65):
            with pytest.raises(MalformedInput):
                contract_store.audit_log(wrong)
            with pytest.raises(MalformedInput):
                contract_store.audit_head(wrong)

        anchors = contract_store.anchor(NOW)
        expected = [
            seal(CONTRACT_AUDIT_KEY, g1, anchor_event(NOW, tenant, 2, t2.mac)),
            seal(CONTRACT_AUDIT_KEY, None, anchor_event(NOW, other, 1, o1.mac)),
        ]
        expected[1] = seal(CONTRACT_AUDIT_KEY, expected[0], expected[1].event)
        assert anchors == expected
        assert list(contract_store.audit_log(GLOBAL)) == [g1, *expected]
        assert contract_store.anchor(NOW) == []  # nothing moved since
        assert verify_audit_chains(CONTRACT_AUDIT_KEY, contract_store).events == {
            GLOBAL: 3,
            tenant: 2,
            other: 1,
        }

    def test_a_long_chain_is_read_page_by_page(self, contract_store: AuthStore) -> None:
        events = [_event(f"e{i}") for i in range(2_345)]
        contract_store.commit([], events)
        sealed = list(contract_store.audit_log())
        assert [s.sequence for s in sealed] == list(range(1, 2_346))
        assert verify_chain(CONTRACT_AUDIT_KEY, sealed) == 2_345
