"""The contract on sessions, single-use grants and factor states."""

from __future__ import annotations

import pytest

from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.session import (
    without_grant,
)
from securebox_auth.policy.session_ids import new_session_id
from securebox_auth.stores.protocols import (
    AuthStore,
    DropFactorState,
    PutFactorState,
    PutLockout,
    PutSession,
    Versioned,
)
from securebox_auth.testing.store_contract.world import (
    _TOTP,
    ALICE,
    BOB,
    OTHER,
    _event,
    _open,
    _session_with_grant,
)

__all__ = ["SessionsFactorsContract"]


class SessionsFactorsContract:
    """Sessions and their grants; factor states and their deletion."""

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

    def test_a_dropped_factor_state_reads_absent_and_its_key_is_free_again(
        self, contract_store: AuthStore
    ) -> None:
        contract_store.commit(
            [
                PutFactorState(ALICE, "totp", "default", 0, {"seed": "old"}),
                PutFactorState(ALICE, "renewal", "web", 0, {"at": "t"}),
                PutFactorState(BOB, "totp", "default", 0, {"seed": "bob"}),
            ],
            [],
        )
        contract_store.commit([PutFactorState(ALICE, "totp", "default", 1, {"seed": "v2"})], [])
        with pytest.raises(ConcurrentUpdate):  # a stale version drops nothing
            contract_store.commit([DropFactorState(ALICE, "totp", "default", 1)], [])
        contract_store.commit(
            [
                DropFactorState(ALICE, "totp", "default", 2),
                DropFactorState(ALICE, "renewal", "web", 1),
            ],
            [_event("erased")],
        )
        assert contract_store.get_factor_state(ALICE, "totp", "default") is None
        assert contract_store.factor_states_of(ALICE, ("totp", "renewal")) == {
            "totp": [],
            "renewal": [],
        }
        assert contract_store.get_factor_state(BOB, "totp", "default") == Versioned(
            {"seed": "bob"}, 1
        )
        assert [e.event.action for e in contract_store.audit_log()][-1] == "erased"
        with pytest.raises(ConcurrentUpdate):  # gone: nothing left to drop
            contract_store.commit([DropFactorState(ALICE, "totp", "default", 2)], [])
        # the key is free: a new holder's state starts again at version 1
        contract_store.commit([PutFactorState(ALICE, "totp", "default", 0, {"seed": "new"})], [])
        assert contract_store.get_factor_state(ALICE, "totp", "default") == Versioned(
            {"seed": "new"}, 1
        )
        assert [i for i, _ in contract_store.factor_states(ALICE, "totp")] == ["default"]

    def test_a_drop_is_atomic_with_the_rest_of_its_commit(self, contract_store: AuthStore) -> None:
        contract_store.commit(
            [
                PutFactorState(ALICE, "totp", "default", 0, {"seed": "s"}),
                PutFactorState(ALICE, "recovery", "default", 0, {"codes": []}),
            ],
            [],
        )
        with pytest.raises(ConcurrentUpdate):  # the second change is stale: neither applies
            contract_store.commit(
                [
                    DropFactorState(ALICE, "totp", "default", 1),
                    DropFactorState(ALICE, "recovery", "default", 2),
                ],
                [_event("erased")],
            )
        assert contract_store.get_factor_state(ALICE, "totp", "default") == Versioned(
            {"seed": "s"}, 1
        )
        assert "erased" not in [e.event.action for e in contract_store.audit_log()]

    def test_a_deleted_factor_state_cannot_be_dropped_to_come_back(
        self, contract_store: AuthStore
    ) -> None:
        """A tombstone (``state=None``: a consumed challenge) stays: a drop of it is
        refused, so the challenge can never be stored, and replayed, again."""
        contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 0, {"v": 1})], [])
        contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 1, None)], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([DropFactorState(ALICE, "cap_challenge", "c1", 2)], [])
        with pytest.raises(ConcurrentUpdate):
            contract_store.commit([PutFactorState(ALICE, "cap_challenge", "c1", 0, {"v": 1})], [])

    def test_a_drop_names_a_stored_item(self, contract_store: AuthStore) -> None:
        for expected in (0, -1, True):
            with pytest.raises(MalformedInput):
                DropFactorState(ALICE, "totp", "default", expected)
        with pytest.raises(MalformedInput):
            DropFactorState(ALICE, "", "default", 1)
        with pytest.raises(MalformedInput):
            DropFactorState(ALICE, "totp", "i" * 129, 1)
        contract_store.commit([PutFactorState(ALICE, "totp", "default", 0, {"seed": "s"})], [])
        with pytest.raises(MalformedInput):  # a record once a commit
            contract_store.commit(
                [
                    DropFactorState(ALICE, "totp", "default", 1),
                    PutFactorState(ALICE, "totp", "default", 1, {"seed": "t"}),
                ],
                [],
            )

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
